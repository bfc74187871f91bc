"""The therapist's page: records in dates, corrections with undo, forecasts, plans, history."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from recovery.charts.frames import diary_frames, forecast_frame
from recovery.charts.interactive import (
    booking_chart,
    diary_chart,
    fan_chart,
    frontier_chart,
    outcome_chart,
    parts_chart,
)
from recovery.dashboard.client import ServiceClient
from recovery.dashboard.common import (
    catalogue,
    chart_png,
    client,
    fetched,
    guarded,
    labels,
    show_done,
    show_trust,
)
from recovery.dashboard.views import (
    booking_words,
    custom_phases,
    forecast_csv,
    in_words,
    session_dates,
    summary_table,
)

__all__ = ["therapist_page"]

MAX_HORIZON = 1095  # the service's limit: three years


def therapist_page() -> None:
    """Choose or add a patient, keep their record, forecast and plan their sessions."""
    c = client()
    cat = catalogue(c)
    st.header("Your patients")
    patients = fetched(c.patients)
    if patients is None:
        return
    new_patient(c, cat)
    if not patients:
        st.info("No patients yet.")
        return
    names = {p["id"]: f"{p['name']} (since {p['start_date']})" for p in patients}
    chosen = st.session_state.pop("select_patient", None) or (
        None if "patient" in st.session_state else st.query_params.get("patient"))
    if chosen in names:  # a record just made, or the one in the address (after a reload)
        st.session_state["patient"] = chosen
    pid = st.selectbox("Patient", list(names), format_func=names.__getitem__, key="patient")
    st.query_params["patient"] = pid
    show_done()
    history = c.history(pid)
    record_section(c, pid, history, cat)
    forecast_section(c, pid, history, cat)


def record_section(c: ServiceClient, pid: str, history: dict[str, Any], cat: dict[str, Any]
                   ) -> None:
    """The patient's diary as a chart, with entry and correction forms."""
    for note in history["left_out"]:
        st.warning(f"This record holds entries the served model cannot use, so forecasts "
                   f"leave them out: {note}. Delete them below if they were mistakes.")
    st.altair_chart(diary_chart(history), use_container_width=True)
    add_entries(c, pid, history, cat)
    corrections(c, pid)


def forecast_section(c: ServiceClient, pid: str, history: dict[str, Any], cat: dict[str, Any]
                     ) -> None:
    """Schedules to compare, the forecast with its explanation, planning, past forecasts."""
    st.subheader("Forecast")
    plans = c.plans(pid)
    names_in_words = labels(cat, plans)
    specs, ready = schedule_builder(c, pid, history, cat, plans)
    horizon, target, margin, settings_ok = forecast_settings()
    if st.button("Forecast", type="primary", key="forecast", disabled=not (ready and
                                                                           settings_ok)):
        with st.spinner("Forecasting..."):
            made = fetched(lambda: c.forecast(pid, {
                "schedules": specs, "horizon_days": horizon, "target_score": target,
                "meaningful_difference": margin}))
        if made is not None:
            st.session_state["result"], st.session_state["result_for"] = made, pid
            st.session_state["result_asked"] = (specs, horizon)
    result = st.session_state.get("result")
    if result and st.session_state.get("result_for") == pid:
        show_forecast(history, result, target, names_in_words, cat["currency"])
        explain_forecast(c, pid, history, names_in_words)
        suggest(c, pid, horizon, target, cat["currency"])
    planning(c, pid, history, target, horizon, cat)
    forecast_history(c, pid, history, names_in_words)


def new_patient(c: ServiceClient, cat: dict[str, Any]) -> None:
    covs = cat["covariates"]
    with st.expander("New patient"), st.form("new_patient"):
        name = st.text_input("Name", key="new_name")
        start = st.date_input("First visit", value=date.today(), max_value=date.today(),
                              key="new_start")
        chronic = st.checkbox("Chronic pain (over 3 months)", key="new_chronic")
        structural = st.checkbox("Structural cause (e.g. disc, arthritis)", key="new_structural")
        age = st.number_input("Age", int(covs["age"]["low"]), int(covs["age"]["high"]),
                              int(covs["age"]["center"]), key="new_age")
        adherence = st.slider("Home-exercise adherence", 0.0, 1.0, 0.5, key="new_adh")
        stress = st.slider("Stress (0-10)", 0, 10, 5, key="new_stress")
        if st.form_submit_button("Create"):
            if not name.strip():
                st.error("Name: enter the patient's name.")
                return
            def create() -> None:  # the new record is the one then shown
                made = c.create_patient(name.strip(), {
                    "chronic": float(chronic), "structural_cause": float(structural),
                    "age": float(age), "adherence": adherence, "stress": float(stress)}, start)
                st.session_state["select_patient"] = made["id"]

            guarded(create, f"Created the record of {name.strip()}, starting {start}.")


def add_entries(c: ServiceClient, pid: str, history: dict[str, Any], cat: dict[str, Any]
                ) -> None:
    """Add a score or a session by date; each add is confirmed and can be undone."""
    start = date.fromisoformat(history["start_date"])
    today = start + timedelta(days=history["today"])  # the service's calendar
    st.caption(f"Record started {start} (day 0); today is day {history['today']:g}.")
    col1, col2 = st.columns(2)
    # a wide range, not the record's: a date the box would refuse it silently replaces by the
    # last one it took, so the service judges the date and says what is wrong with it
    low, high = start - timedelta(days=3650), today + timedelta(days=3650)
    with col1, st.form("add_score"):
        on = st.date_input("Date", value=today, min_value=low, max_value=high,
                           key="score_date")
        score = st.slider("Pain score", 0, 10, 5, key="score_value")
        if st.form_submit_button("Add score"):
            _add(c, pid, "score", score, on, f"the score {score} on {on}")
    with col2, st.form("add_session"):
        on_s = st.date_input("Date", value=today, min_value=low, max_value=high,
                             key="session_date")
        kind = st.selectbox("Kind", cat["kinds"], key="session_kind")
        if st.form_submit_button("Add session"):
            _add(c, pid, "session", kind, on_s, f"the {kind} session on {on_s}")


def _add(c: ServiceClient, pid: str, entry: str, value: int | str, on: date, what: str
         ) -> None:
    added: list[str] = []
    guarded(lambda: added.append(c.add_entry(pid, entry, value, on)), f"Stored {what}.",
            (f"Undo: remove {what}", lambda: c.delete_entry(pid, entry, added[0])))


def corrections(c: ServiceClient, pid: str) -> None:
    """The latest entries, each removable (and restorable by undo)."""
    with st.expander("Recent entries: correct a mistake"):
        entries = fetched(lambda: c.entries(pid))
        if entries is None:
            return
        if not entries:
            st.caption("Nothing entered yet.")
        for e in entries:
            label = f"score {e['value']}" if e["entry"] == "score" else f"{e['value']} session"
            what = f"the {label} on {e['date']}"
            text, button = st.columns([4, 1])
            text.write(f"{e['date']} (day {e['day']:g}): {label}")
            if button.button("Delete", key=f"delete_{e['entry']}_{e['client_id']}"):
                value = int(e["value"]) if e["entry"] == "score" else e["value"]
                restore = partial(c.add_entry, pid, e["entry"], value, e["day"])
                guarded(partial(c.delete_entry, pid, e["entry"], e["client_id"]),
                        f"Deleted {what}.", (f"Undo: restore {what}", restore))


def schedule_builder(c: ServiceClient, pid: str, history: dict[str, Any], cat: dict[str, Any],
                     plans: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Presets in words, the plans proposed to this patient, and a schedule of your own (by
    phases or by dates); problems are named beside the widget and block the forecast."""
    words = labels(cat)
    chosen = st.multiselect("Schedules to compare", list(words), format_func=words.__getitem__,
                            default=["recovery_then_maintenance", "recovery_then_stop"],
                            key="presets")
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
            note = st.text_input("Note for the patient (optional)", key="plan_note")
            if st.button("Save as a plan for this patient", key="save_plan"):
                guarded(lambda: c.propose_plan(pid, custom, note),
                        f"Saved the plan {custom['name']!r}; the patient sees it now.")
        for plan in plans:
            if st.button(f"Withdraw the plan {plan['name']!r}", key=f"withdraw_{plan['id']}"):
                guarded(partial(c.withdraw_plan, pid, plan["id"]),
                        f"Withdrew the plan {plan['name']!r}.")
    if not specs:
        st.error("Schedules: choose at least one.")
        ok = False
    return specs, ok


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


def forecast_settings() -> tuple[int, float, float, bool]:
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
    return int(horizon), float(target), float(margin), not bad


def show_forecast(history: dict[str, Any], result: dict[str, Any], target: float,
                  names: dict[str, str], currency: str) -> None:
    show_trust(result)
    start = date.fromisoformat(history["start_date"])
    frame = forecast_frame(result, start, names)
    diary, _ = diary_frames(history)
    schedules = list(dict.fromkeys(frame["schedule"]))
    if len(schedules) >= 4:  # small multiples: columns stack on a phone
        cols = st.columns(2)
        for i, name in enumerate(schedules):
            with cols[i % 2]:
                st.caption(name)
                st.altair_chart(fan_chart(frame[frame["schedule"] == name], diary, target,
                                          None, 260, False), use_container_width=True)
    else:
        st.altair_chart(fan_chart(frame, diary, target), use_container_width=True)
        st.caption("Hover for a day's numbers; click a schedule or its legend entry to bring "
                   "it forward.")
    st.dataframe(summary_table(result, names, currency), hide_index=True)
    for comp in result["comparisons"]:
        a, b = names.get(comp["a"], comp["a"]), names.get(comp["b"], comp["b"])
        st.markdown(f"{in_words(comp['verdict'], names)} Difference in mean pain "
                    f"(“{a}” minus “{b}”): {comp['mean_difference']:+.2f}.")
    # both files are made only when asked for (on a thread of their own)
    st.download_button("Download forecast (CSV)", partial(forecast_csv, result), "forecast.csv",
                       "text/csv", key="csv")
    st.download_button("Download chart (PNG)", partial(chart_png, history, result, target),
                       "forecast.png", "image/png", key="png")
    st.caption(f"Model version {result['model_version']}")


def explain_forecast(c: ServiceClient, pid: str, history: dict[str, Any],
                     names: dict[str, str]) -> None:
    """The forecast of one schedule split into its parts, under the fan chart."""
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
    st.markdown(explained["words"])
    st.altair_chart(parts_chart(explained, date.fromisoformat(history["start_date"])),
                    use_container_width=True)
    st.caption("Grey: where pain would go on its own. Below it, what relief and lasting gains "
               "take off; above it, soreness after sessions adds. The black line is their sum, "
               "the forecast's mean. Hover for each part's 5-95 % range.")


def planning(c: ServiceClient, pid: str, history: dict[str, Any], target: float,
             horizon: int, cat: dict[str, Any]) -> None:
    """When to book the next session, and the sessions-vs-pain frontier."""
    st.subheader("Planning ahead")
    book, front = st.tabs(["When to book the next session", "Sessions against pain"])
    start = date.fromisoformat(history["start_date"])
    with book:
        a, b = st.columns(2)
        level = a.slider("Keep the chance of being at the target at least", 0.3, 0.95, 0.7,
                         0.05, key="book_level")
        kind = b.selectbox("Session kind", cat["kinds"], key="book_kind")
        if st.button("When to book", key="book"):
            got = fetched(lambda: c.answer(pid, "booking", {
                "target_score": target, "level": level, "kind": kind}))
            if got is not None:
                st.session_state["booked"] = (pid, got, level)
        if (shown := st.session_state.get("booked")) and shown[0] == pid:
            _, booked, asked = shown
            st.markdown(booking_words(booked, target, asked))
            st.altair_chart(booking_chart(booked, start, target), use_container_width=True)
    with front:
        frontier_tab(c, pid, target, horizon, cat)


def frontier_tab(c: ServiceClient, pid: str, target: float, horizon: int,
                 cat: dict[str, Any]) -> None:
    st.caption("About 60 schedules (how often, how long the recovery phase, maintenance, "
               "tapers) on the same forecast: what they cost against where they leave pain.")
    days = min(max(horizon, 7), 365)
    if st.button("Draw the frontier", key="frontier"):
        with st.spinner("Forecasting 60 schedules..."):
            got = fetched(lambda: c.answer(pid, "frontier", {
                "target_score": target, "horizon_days": days, "kind": cat["kinds"][0]}))
        if got is not None:
            st.session_state["frontier_result"] = (pid, got, days)
    if not ((shown := st.session_state.get("frontier_result")) and shown[0] == pid):
        return
    _, result, days = shown
    event = st.altair_chart(frontier_chart(result, cat["currency"]), on_select="rerun",
                            key="frontier_chart", use_container_width=True)
    st.caption("Red: schedules no other beats on both cost and pain. Click a point to "
               "forecast it.")
    picked = event.get("selection", {}).get("pick") or []
    point = next((p for p in result["points"] if picked and
                  p["schedule"]["name"] == picked[0].get("name")), None)
    if point is not None and st.button(f"Forecast “{point['schedule']['name']}”",
                                       key="forecast_picked"):
        made = fetched(lambda: c.forecast(pid, {"schedules": [point["schedule"]],
                                                "horizon_days": days, "target_score": target}))
        if made is not None:
            st.session_state.update(result=made, result_for=pid,
                                    result_asked=([point["schedule"]], days))
            st.rerun()


def suggest(c: ServiceClient, pid: str, horizon: int, target: float, currency: str) -> None:
    if not st.button("Suggest the cheapest schedule that reaches the target", key="optimise"):
        return
    with st.spinner("Searching schedules..."):
        best = fetched(lambda: c.optimise(pid, {"target_score": target, "level": 0.8,
                                                "horizon_days": min(max(horizon, 7), 365)}))
    if best is None:
        return
    if best["best"] is None:
        st.warning("No schedule in the search reaches an 80 % chance.")
        return
    s = best["best_summary"]
    st.success(f"Suggested: **{best['best']['name']}**: {s['sessions']} sessions, cost "
               f"{s['cost']:g} {currency}, {s['p_target_at_horizon']:.0%} chance of reaching "
               f"{target:g} or below.")


def forecast_history(c: ServiceClient, pid: str, history: dict[str, Any],
                     names: dict[str, str]) -> None:
    """Past forecasts of this record beside the scores recorded since."""
    if not st.toggle("Forecast history: what was forecast, and what happened",
                     key="show_history"):
        return
    with st.container(border=True):
        past = c.past_forecasts(pid)
        if not past:
            st.caption("No forecasts yet.")
            return
        when = {p["id"]: f"{p['created_at'][:16].replace('T', ' ')} (model "
                f"{p['model_version']})" for p in past}
        fid = st.selectbox("Forecast", list(when), format_func=when.__getitem__,
                           key="past_forecast")
        got = c.outcome(pid, fid)
        start = date.fromisoformat(history["start_date"])
        name = st.radio("Schedule", [s["name"] for s in got["schedules"]], horizontal=True,
                        format_func=lambda n: names.get(n, n), key="past_schedule")
        st.altair_chart(outcome_chart(got, start, name), use_container_width=True)
        sched = next(s for s in got["schedules"] if s["name"] == name)
        if not got["actual"]:
            first = start + timedelta(days=sched["days"][0])
            st.caption(f"No scores recorded since {first} yet.")
        else:
            st.caption(f"{len(got['actual'])} scores recorded since: {sched['inside_50']:.0%} "
                       f"inside the 50 % band and {sched['inside_90']:.0%} inside the 90 % "
                       "band (if this was the schedule followed).")
