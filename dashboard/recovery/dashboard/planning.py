"""Planning ahead, one section each: when to book the next session, the sessions-vs-pain
frontier, and past forecasts beside what happened since; all in dates and percentages."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import streamlit as st

from recovery.charts.interactive import booking_chart, frontier_chart, outcome_chart
from recovery.dashboard.client import ServiceClient
from recovery.dashboard.common import fetched, labels
from recovery.dashboard.views import when
from recovery.dashboard.words import booking_words

__all__ = ["booking_tab", "forecast_history", "frontier_tab"]


def booking_tab(c: ServiceClient, pid: str, history: dict[str, Any], target: float,
                cat: dict[str, Any]) -> None:
    """If sessions stop now, when pain comes back, and by when to book."""
    start = date.fromisoformat(history["start_date"])
    a, b = st.columns(2)
    level = a.slider("Keep the chance of being at the target at least", 30, 95, 70, 5,
                     format="%d %%", key="book_level") / 100
    kind = b.selectbox("Session kind", cat["kinds"], key="book_kind")
    if st.button("When to book", key="book"):
        got = fetched(lambda: c.answer(pid, "booking", {
            "target_score": target, "level": level, "kind": kind}))
        if got is not None:
            st.session_state["booked"] = (pid, got, level)
    if (shown := st.session_state.get("booked")) and shown[0] == pid:
        _, booked, asked = shown
        st.markdown(booking_words(booked, target, asked, start))
        st.altair_chart(booking_chart(booked, start, target), width="stretch")


def frontier_tab(c: ServiceClient, patient: dict[str, Any], history: dict[str, Any],
                 target: float, horizon: int, cat: dict[str, Any]) -> None:
    """About 60 schedules on the same forecast: cost against pain; click one to forecast it."""
    pid = patient["id"]
    days = min(max(horizon, 7), 365)
    today = date.fromisoformat(history["start_date"]) + timedelta(days=history["today"])
    st.caption("About 60 schedules (how often, how long the recovery phase, maintenance, "
               f"tapers) on the same forecast: what they cost against where they leave pain "
               f"on {when(today, days)}.")
    if st.button("Draw the frontier", key="frontier"):
        with st.spinner("Forecasting 60 schedules..."):
            got = fetched(lambda: c.answer(pid, "frontier", {
                "target_score": target, "horizon_days": days, "kind": cat["kinds"][0]}))
        if got is not None:
            st.session_state["frontier_result"] = (pid, got, days)
    if not ((shown := st.session_state.get("frontier_result")) and shown[0] == pid):
        return
    _, result, days = shown
    words = labels(cat)
    event = st.altair_chart(frontier_chart(result, cat["currency"], words), on_select="rerun",
                            key="frontier_chart", width="stretch")
    st.caption("Red: schedules no other beats on both cost and pain. Click a point to "
               "forecast it.")
    picked = event.get("selection", {}).get("pick") or []
    point = next((p for p in result["points"] if picked and
                  p["schedule"]["name"] == picked[0].get("name")), None)
    if point is None:
        return
    name = words.get(point["schedule"]["name"], point["schedule"]["name"])
    if st.button(f"Forecast “{name}”", key="forecast_picked"):
        made = fetched(lambda: c.forecast(pid, {"schedules": [point["schedule"]],
                                                "horizon_days": days, "target_score": target}))
        if made is not None:
            st.session_state.update(result=made, result_for=pid,
                                    result_asked=([point["schedule"]], days),
                                    go_section="Forecast")
            st.rerun()


def forecast_history(c: ServiceClient, pid: str, history: dict[str, Any],
                     cat: dict[str, Any]) -> None:
    """Past forecasts of this record beside the scores recorded since."""
    past = fetched(lambda: c.past_forecasts(pid))
    if not past:
        st.caption("No forecasts yet.")
        return
    names = labels(cat)
    when_made = {p["id"]: f"{p['created_at'][:16].replace('T', ' ')} (model "
                 f"{p['model_version']})" for p in past}
    fid = st.selectbox("Forecast", list(when_made), format_func=when_made.__getitem__,
                       key="past_forecast")
    got = c.outcome(pid, fid)
    start = date.fromisoformat(history["start_date"])
    name = st.radio("Schedule", [s["name"] for s in got["schedules"]], horizontal=True,
                    format_func=lambda n: names.get(n, n), key="past_schedule")
    st.altair_chart(outcome_chart(got, start, name, names.get(name, name)),
                    width="stretch")
    sched = next(s for s in got["schedules"] if s["name"] == name)
    if not got["actual"]:
        st.caption(f"No scores recorded since {when(start, sched['days'][0])} yet.")
    else:
        st.caption(f"{len(got['actual'])} scores recorded since: {sched['inside_50']:.0%} "
                   f"inside the 50 % band and {sched['inside_90']:.0%} inside the 90 % "
                   "band (if this was the schedule followed).")
