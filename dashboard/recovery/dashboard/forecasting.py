"""The therapist's forecast: schedules to compare (in the address), the fan chart (one chart
per plan on a phone), the summary with dates, exports that name the patient, the date and
the model, why it looks as it does in words computed from the chart's numbers, and the
cheapest schedule that reaches the target."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from recovery.charts.frames import diary_frames, forecast_frame
from recovery.charts.interactive import fan_chart, parts_chart
from recovery.dashboard.client import ServiceClient
from recovery.dashboard.common import (
    chart_png,
    colours_for,
    fetched,
    guarded,
    labels,
    show_trust,
)
from recovery.dashboard.views import (
    custom_phases,
    export_name,
    forecast_csv,
    in_words,
    session_dates,
    summary_table,
    when,
)
from recovery.dashboard.words import parts_words, start_words

__all__ = ["forecast_section", "forecast_settings"]

MAX_HORIZON = 1095  # the service's limit: three years
DEFAULT = ["recovery_then_maintenance", "recovery_then_stop"]
Settings = tuple[int, float, float, bool]


def forecast_settings(history: dict[str, Any]) -> Settings:
    """Horizon, target and meaningful difference, each checked where it is typed."""
    a, b, m = st.columns(3)
    horizon = a.number_input("Horizon (days)", value=120, step=7, key="horizon")
    # no min/max on the boxes: a browser quietly puts back the last value in range, and the
    # forecast would run with it; here an out-of-range value is said and stops the forecast
    target = b.number_input("Target score", value=3.0, step=1.0, key="target")
    margin = m.number_input("Meaningful difference (points)", value=1.0, step=0.5,
                            key="margin")
    checks = [(a, 1 <= horizon <= MAX_HORIZON, f"Horizon: choose 1 to {MAX_HORIZON} days "
                                               f"(three years); {horizon:g} is outside that."),
              (b, 0 <= target <= 10, f"Target score: choose 0 to 10; {target:g} is outside "
                                     "that."),
              (m, 0.1 <= margin <= 10, "Meaningful difference: choose 0.1 to 10 points; "
                                       f"{margin:g} is outside that.")]
    bad = [(where, message) for where, fine, message in checks if not fine]
    for where, message in bad:
        where.error(message)
    if not bad:
        today = date.fromisoformat(history["start_date"]) + timedelta(days=history["today"])
        a.caption(f"until {when(today, horizon)}")
    return int(horizon), float(target), float(margin), not bad


def forecast_section(c: ServiceClient, patient: dict[str, Any], history: dict[str, Any],
                     cat: dict[str, Any], settings: Settings) -> None:
    """Schedules to compare, the forecast with its explanation, and the optimiser."""
    pid = patient["id"]
    horizon, target, margin, settings_ok = settings
    plans = c.plans(pid)
    names = labels(cat, plans)
    specs, ready = schedule_builder(c, patient, history, cat, plans)
    clicked = st.button("Forecast", type="primary", key="forecast",
                        disabled=not (ready and settings_ok))
    again = st.query_params.get("shown") == pid and st.session_state.get("result_for") != pid
    if clicked or (again and ready and settings_ok):  # a reload draws the forecast again
        with st.spinner("Forecasting..."):
            made = fetched(lambda: c.forecast(pid, {
                "schedules": specs, "horizon_days": horizon, "target_score": target,
                "meaningful_difference": margin}))
        if made is not None:
            st.session_state.update(result=made, result_for=pid, result_asked=(specs, horizon),
                                    model_note=model_changed(c, pid, made["model_version"]))
            st.query_params["shown"] = pid
    result = st.session_state.get("result")
    if result and st.session_state.get("result_for") == pid:
        if note := st.session_state.get("model_note"):
            st.info(note)
        show_forecast(patient, history, result, target, names, cat["currency"])
        explain_forecast(c, pid, history, names)
        suggest(c, pid, history, horizon, target, cat["currency"])


def model_changed(c: ServiceClient, pid: str, version: str) -> str | None:
    """A note when the model that just forecast is not the one behind this patient's previous
    forecast (an analyst promoted another since): the numbers may differ from before."""
    past = fetched(lambda: c.past_forecasts(pid)) or []  # newest first: [0] is this one
    before = past[1] if len(past) > 1 else None
    if before is None or before["model_version"] == version:
        return None
    return (f"The forecasting model changed since this patient's last forecast (model "
            f"{before['model_version']} on {before['created_at'][:10]}, now {version}): an "
            "analyst promoted a new one, so figures may differ from what you saw before.")


def schedule_builder(c: ServiceClient, patient: dict[str, Any], history: dict[str, Any],
                     cat: dict[str, Any], plans: list[dict[str, Any]]
                     ) -> tuple[list[dict[str, Any]], bool]:
    """Presets in words, the plans proposed to this patient, and a schedule of your own (by
    phases or by dates); problems are named beside the widget and block the forecast."""
    words = labels(cat)
    chosen = st.multiselect("Schedules to compare", list(words), format_func=words.__getitem__,
                            default=DEFAULT, key="presets", bind="query-params")
    kind = st.selectbox("Session kind for these", cat["kinds"], key="preset_kind")
    specs: list[dict[str, Any]] = [{"name": p, "kind": kind} for p in chosen]
    by_name = {p["name"]: p for p in plans}
    for name in st.multiselect("Plans proposed to this patient", list(by_name),
                               key="proposed"):
        specs.append(by_name[name]["schedule"])
    ok = True
    with st.expander("Build your own schedule"):
        custom, ok = custom_schedule(history, cat)
        if custom and st.checkbox("Include this schedule", key="use_custom"):
            specs.append(custom)
        if custom:
            save_plan(c, patient, custom)
        for plan in plans:
            if st.button(f"Withdraw the plan “{plan['name']}”", key=f"withdraw_{plan['id']}"):
                guarded(partial(c.withdraw_plan, patient["id"], plan["id"]),
                        f"Withdrew the plan “{plan['name']}”.")
    if not specs:
        st.error("Schedules: choose at least one.")
        ok = False
    return specs, ok


def save_plan(c: ServiceClient, patient: dict[str, Any], custom: dict[str, Any]) -> None:
    """Save a built schedule as a plan for the patient (seen by them once they have a login)."""
    note = st.text_input("Note for the patient (optional)", key="plan_note")
    if not st.button("Save as a plan for this patient", key="save_plan"):
        return
    sees = ("the patient sees it now." if patient.get("login") else
            "the patient will see it once they have a login (under “Manage this patient”).")
    guarded(lambda: c.propose_plan(patient["id"], custom, note),
            f"Saved the plan “{custom['name']}”; {sees}")


def custom_schedule(history: dict[str, Any], cat: dict[str, Any]
                    ) -> tuple[dict[str, Any] | None, bool]:
    """A schedule of phases, or of calendar dates; (None, False) with the problems shown."""
    kinds = cat["kinds"]
    name = st.text_input("Name", value="custom plan", max_chars=80, key="custom_name")
    rows = st.data_editor(
        pd.DataFrame([{"kind": kinds[0], "every_days": 7.0, "weeks": 4.0},
                      {"kind": kinds[0], "every_days": None, "weeks": 4.0}]),
        num_rows="dynamic", key="phases", column_config={
            "kind": st.column_config.SelectboxColumn("kind", options=kinds),
            "every_days": st.column_config.NumberColumn("every days (empty: a break)"),
            "weeks": st.column_config.NumberColumn("weeks")})
    dates = st.text_input("...or session dates (YYYY-MM-DD, comma separated)", key="dates")
    if not name.strip():
        st.error("Name: give the schedule a name.")
        return None, False
    if dates.strip():
        start = date.fromisoformat(history["start_date"])
        first = max(history["today"], 1 + max([p["day"] for p in history["pain"]], default=-1))
        days, problems = session_dates(dates, start, first)
        spec = {"name": name.strip(), "session_days": days, "kind": kinds[0]}
    else:
        phases, problems = custom_phases(rows.to_dict("records"), kinds)  # type: ignore[arg-type]
        spec = {"name": name.strip(), "phases": phases}
    for p in problems:
        st.error(p)
    return (None, False) if problems else (spec, True)


def show_forecast(patient: dict[str, Any], history: dict[str, Any], result: dict[str, Any],
                  target: float, names: dict[str, str], currency: str) -> None:
    """The fan chart (overlaid on a wide screen up to three plans, one chart per plan on a
    phone or from four plans), the summary table, the verdicts and the exports."""
    show_trust(result)
    start = date.fromisoformat(history["start_date"])
    frame = forecast_frame(result, start, names)
    diary, _ = diary_frames(history)
    schedules = list(dict.fromkeys(frame["schedule"]))
    colours = colours_for(schedules)
    with st.container(key="wide"):
        if len(schedules) >= 4:
            small_multiples(frame, diary, target, colours, 2)
        else:
            st.altair_chart(fan_chart(frame, diary, target, colours), width="stretch")
            st.caption("Hover for a day's numbers; click a schedule or its legend entry to "
                       "bring it forward.")
    with st.container(key="narrow"):
        small_multiples(frame, diary, target, colours, 1)
    first = result["forecasts"][0]
    if said := start_words(history, float(first["quantiles"]["50"][0]), start):
        st.caption(said)
    st.table(summary_table(result, names, currency, start))
    for comp in result["comparisons"]:
        a, b = names.get(comp["a"], comp["a"]), names.get(comp["b"], comp["b"])
        st.markdown(f"{in_words(comp['verdict'], names)} Difference in mean pain "
                    f"(“{a}” minus “{b}”): {comp['mean_difference']:+.1f} points.")
    exports(patient, history, result, target, names, colours)


def small_multiples(frame: pd.DataFrame, diary: pd.DataFrame, target: float,
                    colours: dict[str, str], columns: int) -> None:
    """One chart per schedule, named above it, in its fixed colour."""
    cols = st.columns(columns)
    for i, name in enumerate(dict.fromkeys(frame["schedule"])):
        with cols[i % columns]:
            st.caption(name)
            st.altair_chart(fan_chart(frame[frame["schedule"] == name], diary, target,
                                      {name: colours[name]}, 260, False),
                            width="stretch")


def exports(patient: dict[str, Any], history: dict[str, Any], result: dict[str, Any],
            target: float, names: dict[str, str], colours: dict[str, str]) -> None:
    """CSV and PNG, each naming the patient, the date made and the model version."""
    today = date.today()
    start = date.fromisoformat(history["start_date"])
    caption = (f"{patient['name']} · forecast made {today.isoformat()} · model "
               f"{result['model_version']}")
    a, b = st.columns(2)
    a.download_button("Download forecast (CSV)", partial(
        forecast_csv, result, names, patient["name"], start, today),
        export_name(patient["name"], today, "csv"), "text/csv", key="csv")
    b.download_button("Download chart (PNG)", partial(
        chart_png, history, result, target, names, colours, caption),
        export_name(patient["name"], today, "png"), "image/png", key="png")
    st.caption(f"Model version {result['model_version']}")


def explain_forecast(c: ServiceClient, pid: str, history: dict[str, Any],
                     names: dict[str, str]) -> None:
    """The forecast of one schedule split into its parts, in words from the chart's numbers."""
    specs, horizon = st.session_state["result_asked"]
    by_name = {s["name"]: s for s in specs}
    st.markdown("#### Why it looks like this")
    name = st.selectbox("Schedule to explain", list(by_name), key="explain_for",
                        format_func=lambda n: names.get(n, n))
    cache = st.session_state.setdefault("explained", {})
    key = (pid, name, horizon, st.session_state["result"]["model_version"])
    if key not in cache:
        with st.spinner("Splitting the forecast into its parts..."):
            got = fetched(lambda: c.answer(pid, "explain", {"schedule": by_name[name],
                                                            "horizon_days": horizon}))
        if got is None:
            return
        cache[key] = got
    explained = cache[key]
    start = date.fromisoformat(history["start_date"])
    st.markdown(parts_words(explained, start, names.get(name, name)))
    st.altair_chart(parts_chart(explained, start), width="stretch")
    st.caption("Grey: where pain would go on its own. Below it, what relief and lasting gains "
               "take off; above it, soreness after sessions adds. The black line is their sum, "
               "the forecast's mean. Hover for each part's 5-95 % range.")


def suggest(c: ServiceClient, pid: str, history: dict[str, Any], horizon: int, target: float,
            currency: str) -> None:
    """The cheapest schedule with an 80 % chance of the target; else the best chance found."""
    if not st.button("Suggest the cheapest schedule that reaches the target", key="optimise"):
        return
    days = min(max(horizon, 7), 365)
    with st.spinner("Searching schedules..."):
        best = fetched(lambda: c.optimise(pid, {"target_score": target, "level": 0.8,
                                                "horizon_days": days}))
    if best is None:
        return
    today = date.fromisoformat(history["start_date"]) + timedelta(days=history["today"])
    by = when(today, days)
    if best["best"] is None:
        top = max(best["candidates"], key=lambda r: float(r["p_target_at_horizon"]))
        st.warning(f"No schedule in the search gives an 80 % chance of {target:g} or below by "
                   f"{by}. The best found, “{top['name']}” ({top['sessions']:.0f} sessions, "
                   f"{float(top['cost']):g} {currency}), gives {top['p_target_at_horizon']:.0%}."
                   " A higher target or a longer horizon may be more realistic.")
        return
    s = best["best_summary"]
    st.success(f"Suggested: **{best['best']['name']}**: {s['sessions']} sessions, cost "
               f"{s['cost']:g} {currency}, {s['p_target_at_horizon']:.0%} chance of "
               f"{target:g} or below by {by}.")
