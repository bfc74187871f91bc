"""Tables and files the dashboard shows, built from the service's JSON (pure; no Streamlit)."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from typing import Any

import pandas as pd

__all__ = [
    "custom_phases",
    "forecast_csv",
    "in_words",
    "models_side_by_side",
    "phenomena_table",
    "problems_table",
    "refit_advice",
    "session_dates",
    "spreadsheet_safe",
    "summary_table",
]


def summary_table(result: dict[str, Any], labels: dict[str, str] | None = None,
                  currency: str = "") -> pd.DataFrame:
    """One row per schedule: the numbers a therapist reads off a forecast."""
    labels = labels or {}
    rows = []
    for f in result["forecasts"]:
        s = f["summary"]
        rows.append({"schedule": labels.get(f["name"], f["name"]),
                     "P(at or below target)": f"{s['p_target_at_horizon']:.0%}",
                     "improved from today by day": _day(s.get("improvement_from_now_day")),
                     "improved from first week by day": _day(s["improvement_day"]),
                     "relapse risk": "-" if s["p_relapse"] is None else f"{s['p_relapse']:.0%}",
                     "mean pain": round(s["mean_pain"], 2), "sessions": s["sessions"],
                     f"cost ({currency})" if currency else "cost": s["cost"]})
    return pd.DataFrame(rows)


def _day(day: float | None) -> str:
    return "not within the horizon" if day is None else f"{day:g}"


def in_words(text: str, labels: dict[str, str]) -> str:
    """A service sentence with schedule names replaced by their plain words."""
    for name in sorted(labels, key=len, reverse=True):
        text = text.replace(name, f"“{labels[name]}”")
    return text


def custom_phases(rows: list[dict[str, Any]], kinds: list[str]
                  ) -> tuple[list[dict[str, Any]], list[str]]:
    """The phases of a schedule built row by row, and what is wrong with each row."""
    phases: list[dict[str, Any]] = []
    problems: list[str] = []
    for i, r in enumerate(rows, start=1):
        kind, every, weeks = r.get("kind"), _number(r.get("every_days")), _number(r.get("weeks"))
        found = []
        if not isinstance(kind, str) or not kind:
            found.append(f"Row {i}: choose a session kind ({', '.join(kinds)}).")
        elif kind not in kinds:
            found.append(f"Row {i}: unknown kind {kind!r}; choose one of {', '.join(kinds)}.")
        if weeks is None or not 0 < weeks <= 156:
            found.append(f"Row {i}: weeks must be between 0 and 156.")
        if every is not None and not 0 < every <= 365:
            found.append(f"Row {i}: 'every days' must be between 0 and 365 (leave it empty "
                         "for a break).")
        problems += found
        if not found:
            phases.append({"kind": kind, "weeks": weeks, "every_days": every})
    if not rows:
        problems.append("Add at least one row.")
    return phases, problems


def _number(value: Any) -> float | None:
    """A table cell as a number; None when blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def session_dates(text: str, start: date, first: float) -> tuple[list[float], list[str]]:
    """Comma-separated dates (YYYY-MM-DD) as days of the record; each bad item named.
    `first` is the forecast's first day: earlier sessions belong in the diary."""
    days, problems = [], []
    for item in [x.strip() for x in text.split(",") if x.strip()]:
        try:
            day = float((date.fromisoformat(item) - start).days)
        except ValueError:
            problems.append(f"{item!r} is not a date like 2026-12-01.")
            continue
        if day < first:
            problems.append(f"{item} is before the forecast starts "
                            f"({(start + timedelta(days=first)).isoformat()}).")
        days.append(day)
    return days, problems


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet shows as text on one line, never runs as a formula (=, +, -, @
    first; control characters, NEL and the line and paragraph separators anywhere become
    spaces)."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", " ") else text


def forecast_csv(result: dict[str, Any]) -> bytes:
    """Tidy CSV: schedule, day, mean and each quantile; names escaped for spreadsheets."""
    frames = [pd.DataFrame({"schedule": spreadsheet_safe(f["name"]), "day": f["days"],
                            "mean": f["mean"],
                            **{f"q{k}": v for k, v in f["quantiles"].items()}})
              for f in result["forecasts"]]
    return pd.concat(frames).to_csv(index=False).encode()


def problems_table(details: list[dict[str, Any]]) -> pd.DataFrame:
    """The service's per-row cohort problems as a table a person scans."""
    return pd.DataFrame([{"file": d["loc"][0],
                          "line": d.get("line") or (f"row {d['loc'][1]}" if d["loc"][1] else ""),
                          "column": d["loc"][2], "problem": d["msg"]} for d in details])


def diagnostics_line(m: dict[str, Any]) -> str:
    """One line that says what kind of fit a model is and whether it converged."""
    d = m["diagnostics"]
    served = "(served) " if m["served"] else ""
    if d.get("method") == "advi":
        return f"{m['id']} {served}— QUICK LOOK (ADVI approximation, not for serving)"
    verdict = "passed" if m["passed"] else "FAILED"
    return (f"{m['id']} {served}— diagnostics {verdict}: R-hat {d['max_rhat']:.3f}, "
            f"ESS bulk {d['min_ess_bulk']:.0f} / tail {d['min_ess_tail']:.0f}, "
            f"divergences {d['divergences']}")


def subsample_line(d: dict[str, Any]) -> str | None:
    """What a subsample fit's R-hat and ESS are of, and how every patient's update went."""
    u = d.get("cohort_update")
    if not u:
        return None
    return (f"R-hat and ESS are of NUTS on a stratified {d['n_patients']} of {u['patients']} "
            f"patients. Every patient was then updated on that population: effective draws "
            f"per patient at least {u['ess_min']:.0f} (median {u['ess_median']:.0f}); "
            f"{u['low_ess']} too few to trust; {u['failed']} could not be updated.")


def models_side_by_side(models: list[dict[str, Any]]) -> pd.DataFrame:
    """Every version next to the served one: convergence and held-out forecast quality."""
    rows = []
    for m in models:
        d, ev = m["diagnostics"], (m["evaluation"] or {}).get("methods", {}).get("model", {})
        quick = d.get("method") == "advi"
        rows.append({"model": m["id"], "served": "yes" if m["served"] else "",
                     "diagnostics": "QUICK LOOK" if quick else
                     "passed" if m["passed"] else "FAILED",
                     "max R-hat": None if quick else round(d["max_rhat"], 3),
                     "min ESS bulk": None if quick else round(d["min_ess_bulk"]),
                     "min ESS tail": None if quick else round(d["min_ess_tail"]),
                     "divergences": d["divergences"],
                     "patients": str(d["n_patients"]) if not d.get("cohort_update") else
                     f"{d['n_patients']} of {d['cohort_update']['patients']} by NUTS",
                     "90 % coverage": ev.get("coverage_90"), "CRPS": ev.get("crps")})
    return pd.DataFrame(rows)


ESS_TARGET, RHAT_TARGET = 400, 1.01  # the fit's gate, as its problems state it


def refit_advice(d: dict[str, Any]) -> list[str]:
    """What to change when a full fit fails its gate, from its own measured figures."""
    if d.get("method") == "advi" or d.get("passed"):
        return []
    out = []
    ess = min(d["min_ess_bulk"], d["min_ess_tail"])
    if ess < ESS_TARGET:
        which = "tail" if d["min_ess_tail"] < d["min_ess_bulk"] else "bulk"
        need = math.ceil(d["draws"] * ESS_TARGET / max(ess, 1.0) * 1.2 / 100) * 100
        out.append(f"Effective sample size: {which} ESS {ess:.0f} of {ESS_TARGET} (worst: "
                   f"{d['worst_ess_var']}). ESS grows about in proportion to draws: refit with "
                   f"about {need} draws per chain (from {d['draws']}).")
    if d["max_rhat"] is not None and d["max_rhat"] > RHAT_TARGET:
        out.append(f"Chains disagree: R-hat {d['max_rhat']:.3f} > {RHAT_TARGET} (worst: "
                   f"{d['worst_rhat_var']}). Refit with more tuning (e.g. {2 * d['tune']}) and "
                   "draws, or more chains.")
    if d["divergences"]:
        out.append(f"{d['divergences']} divergent transitions: the sampler met geometry it "
                   "cannot follow; more tuning may help, and if they persist the model needs "
                   "attention before its forecasts are trusted.")
    return out


def phenomena_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per claim of the phenomena report: the case, the criterion, what was measured."""
    return pd.DataFrame([{
        "claim": c["claim"], "case": c["case"], "pass when": c["pass_when"],
        "measured": "; ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in c["measured"].items()),
        "result": "pass" if c["passed"] else "fail", "note": c["note"]}
        for c in report["cases"]])


def trials_frame(report: dict[str, Any]) -> pd.DataFrame:
    """One row per trial yardstick: the published figure and range beside the model's."""
    return pd.DataFrame([{
        "trial": t["trial"], "arms": t["arms"], "outcome": t["outcome"],
        "published": t["published"], "model": t["measured"],
        "verdict": {"within": "matched", "below": "model below the published range",
                    "above": "model above the published range"}[t["verdict"]]}
        for t in report.get("trials", [])])


def booking_words(booked: dict[str, Any], target: float, level: float) -> str:
    """The booking answer in dates: when pain comes back if sessions stop, and by when to
    book."""
    goal = f"a {level:.0%} chance of being at {target:g} or below"
    if booked["return_level"] is None:
        back = "There is little gain to lose yet."
    elif booked["median_return_date"] is None:
        back = (f"If sessions stop now, pain is unlikely to come back within "
                f"{len(booked['days']) // 7} weeks.")
    else:
        back = (f"If sessions stop now, pain is as likely as not to be back (half the gain "
                f"lost) by **{booked['median_return_date']}**.")
    staying = booked["return_level"] is None or booked["median_return_date"] is None
    if booked["book_by_date"] is None:
        book = f"No session is needed in that time to keep {goal}."
    elif not booked["keeps_level"] and staying:
        book = (f"But pain is not yet low enough for {goal}: sessions now would be to bring "
                "it down further, not to stop it coming back.")
    elif not booked["keeps_level"]:
        book = (f"Book the next session now: {goal} is not held today, or not for all of the "
                "four weeks after a session.")
    else:
        book = (f"Book the next session by **{booked['book_by_date']}** to keep {goal} until "
                "then and for four weeks after it.")
    return f"{back} {book}"
