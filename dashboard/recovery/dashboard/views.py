"""Tables and files the dashboard shows, built from the service's JSON (pure; no Streamlit)."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from typing import Any

import pandas as pd

__all__ = [
    "custom_phases",
    "evaluation_table",
    "export_name",
    "forecast_csv",
    "in_words",
    "models_side_by_side",
    "phenomena_table",
    "problems_table",
    "promotion_table",
    "refit_advice",
    "session_dates",
    "spreadsheet_safe",
    "summary_table",
    "when",
    "worse_on",
]


def when(start: date, day: float | None) -> str:
    """A day of the record as people write a date ("4 March 2027"); None: not within it."""
    if day is None:
        return "not within the horizon"
    d = start + timedelta(days=float(day))
    return f"{d.day} {d:%B %Y}"


def summary_table(result: dict[str, Any], labels: dict[str, str] | None = None,
                  currency: str = "", start: date | None = None) -> pd.DataFrame:
    """One row per schedule: the numbers a therapist reads off a forecast, with dates."""
    labels = labels or {}
    start = start or date.today()
    rows = []
    for f in result["forecasts"]:
        s = f["summary"]
        rows.append({"schedule": labels.get(f["name"], f["name"]),
                     f"chance at or below target on {when(start, f['days'][-1])}":
                     f"{s['p_target_at_horizon']:.0%}",
                     "better than today by": when(start, s.get("improvement_from_now_day")),
                     "better than the first week by": when(start, s["improvement_day"]),
                     "relapse risk": "-" if s["p_relapse"] is None else f"{s['p_relapse']:.0%}",
                     "mean pain": f"{s['mean_pain']:.1f}", "sessions": s["sessions"],
                     f"cost ({currency})" if currency else "cost": f"{s['cost']:g}"})
    return pd.DataFrame(rows)


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


def forecast_csv(result: dict[str, Any], labels: dict[str, str], patient: str, start: date,
                 made_on: date) -> bytes:
    """Tidy CSV: patient, model version, date made, schedule in words, date, mean and each
    quantile; every text cell escaped for spreadsheets."""
    frames = [pd.DataFrame({
        "patient": spreadsheet_safe(patient), "model_version": result["model_version"],
        "made_on": made_on.isoformat(),
        "schedule": spreadsheet_safe(labels.get(f["name"], f["name"])),
        "date": [(start + timedelta(days=float(d))).isoformat() for d in f["days"]],
        "mean": f["mean"], **{f"q{k}": v for k, v in f["quantiles"].items()}})
        for f in result["forecasts"]]
    return pd.concat(frames).to_csv(index=False).encode()


def export_name(patient: str, made_on: date, ext: str) -> str:
    """A download's file name: the patient and the date, safe on every file system."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", patient).strip("-").lower() or "patient"
    return f"forecast-{slug}-{made_on.isoformat()}.{ext}"


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
                     "held out": (m["evaluation"] or {}).get("patients"),
                     "inside 90 % band": _measure("coverage_90", ev.get("coverage_90")),
                     "CRPS": _measure("crps", ev.get("crps"))})
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
    """One row per claim of the phenomena report, the verdict first: the claim, what passes,
    what was measured, and the note without tracker references."""
    return pd.DataFrame([{
        "result": "pass" if c["passed"] else "FAIL", "claim": c["claim"],
        "pass when": c["pass_when"],
        "measured": "; ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in c["measured"].items()),
        "note": re.sub(r"\s*\(?\b(from |see )?issue \d+\)?", "", c["note"] or "").strip()}
        for c in report["cases"]])


def trials_frame(report: dict[str, Any]) -> pd.DataFrame:
    """One row per trial yardstick: the published figure and range beside the model's."""
    return pd.DataFrame([{
        "trial": t["trial"], "arms": t["arms"], "outcome": t["outcome"],
        "published": t["published"], "model": t["measured"],
        "verdict": {"within": "matched", "below": "model below the published range",
                    "above": "model above the published range"}[t["verdict"]]}
        for t in report.get("trials", [])])


MEASURES = {"crps": "CRPS (lower is better)", "coverage_50": "inside the 50 % band",
            "coverage_90": "inside the 90 % band", "mae_median": "median's error (points)",
            "scores": "held-out scores"}
NOMINAL = {"coverage_50": 0.5, "coverage_90": 0.9}
TOLERANCE = 0.01  # differences smaller than this are not called worse


def evaluation_table(evaluation: dict[str, Any]) -> pd.DataFrame:
    """Held-out quality of the model and the baselines, with readable headers."""
    return pd.DataFrame([{"method": name, **{MEASURES[k]: _measure(k, v) for k, v in s.items()
                                             if k in MEASURES}}
                         for name, s in evaluation["methods"].items()])


def _measure(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key.startswith("coverage"):
        return f"{value:.0%}"
    return f"{value:g}" if key == "scores" else f"{value:.3f}"


def _facts(m: dict[str, Any], phenomena: dict[str, tuple[int, int]]) -> dict[str, Any]:
    ev = m["evaluation"] or {}
    model = ev.get("methods", {}).get("model", {})
    d = m["diagnostics"]
    passed = phenomena.get(m["id"])
    return {"patients fitted": d.get("n_patients"), "held-out patients": ev.get("patients"),
            **{k: model.get(k) for k in ("crps", "coverage_50", "coverage_90")},
            "claims holding": f"{passed[0]} of {passed[1]}" if passed else "not run yet",
            "diagnostics": "passed" if m["passed"] else "FAILED"}


def promotion_table(candidate: dict[str, Any], served: dict[str, Any] | None,
                    phenomena: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """The candidate beside the served model, measure by measure."""
    rows = {"candidate " + candidate["id"]: _facts(candidate, phenomena)}
    if served is not None:
        rows["served " + served["id"]] = _facts(served, phenomena)
    shown = {col: {k: _measure(k, v) if k in MEASURES else "-" if v is None else v
                   for k, v in facts.items()} for col, facts in rows.items()}
    return pd.DataFrame(shown).rename(index=MEASURES)


def worse_on(candidate: dict[str, Any], served: dict[str, Any] | None,
             phenomena: dict[str, tuple[int, int]]) -> list[str]:
    """Each measure on which the candidate is worse than the served model, in words."""
    if served is None:
        return []
    a, b = _facts(candidate, phenomena), _facts(served, phenomena)
    out = []
    if a["crps"] is not None and b["crps"] is not None and a["crps"] > b["crps"] + TOLERANCE:
        out.append(f"CRPS {a['crps']:.3f} against {b['crps']:.3f} (higher is worse)")
    for k, nominal in NOMINAL.items():
        if a[k] is None or b[k] is None:
            continue
        if abs(a[k] - nominal) > abs(b[k] - nominal) + TOLERANCE:
            out.append(f"{MEASURES[k]}: {a[k]:.0%} against {b[k]:.0%} (further from "
                       f"{nominal:.0%})")
    pa, pb = phenomena.get(candidate["id"]), phenomena.get(served["id"])
    if pa and pb and pa[0] < pb[0]:
        out.append(f"claims holding: {pa[0]} of {pa[1]} against {pb[0]} of {pb[1]}")
    if not candidate["passed"] and served["passed"]:
        out.append("its diagnostics failed")
    return out
