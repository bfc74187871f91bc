"""The therapist's page: choose or add a patient, keep the record right (by date, duplicates
said, corrections with undo), manage the patient (edit, remove, their login), then the
sections: forecast, when to book, sessions against pain, past forecasts. The patient, the
section and the schedules live in the address, so a reload or a shared link comes back."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

import streamlit as st

from recovery.charts.interactive import diary_chart
from recovery.dashboard.client import ServiceClient
from recovery.dashboard.common import (
    catalogue,
    client,
    fetched,
    guarded,
    responsive,
    show_done,
)
from recovery.dashboard.forecasting import forecast_section, forecast_settings
from recovery.dashboard.patients import manage_patient, new_patient
from recovery.dashboard.planning import booking_tab, forecast_history, frontier_tab
from recovery.dashboard.views import when

__all__ = ["therapist_page"]

SECTIONS = ["Forecast", "When to book", "Sessions against pain", "Past forecasts"]


def therapist_page() -> None:
    """Choose or add a patient, keep their record, forecast and plan their sessions."""
    c = client()
    cat = catalogue(c)
    responsive()
    st.header("Your patients")
    model_claims(cat)
    patients = fetched(c.patients)
    if patients is None:
        return
    new_patient(c, cat)
    if not patients:
        st.info("No patients yet: add one under “New patient”.")
        return
    by_id = {p["id"]: p for p in patients}
    asked = st.session_state.pop("select_patient", None) or (
        None if "patient" in st.session_state else st.query_params.get("patient"))
    if asked in by_id:  # the record just made, or the one in the address after a sign-in
        st.session_state["patient"] = asked
    since = {i: when(date.fromisoformat(p["start_date"]), 0) for i, p in by_id.items()}
    pid = st.selectbox("Patient", list(by_id), key="patient", bind="query-params",
                       format_func=lambda i: f"{by_id[i]['name']} (since {since[i]})")
    show_done()
    patient = by_id[pid]
    manage_patient(c, patient, cat)
    history = c.history(pid)
    record_section(c, pid, history, cat)
    horizon, target, margin, ok = forecast_settings(history)
    if go := st.session_state.pop("go_section", None):
        st.session_state["section"] = go  # a frontier point forecast: show the forecast
    tabs = st.tabs(SECTIONS, key="section", bind="query-params", on_change="rerun")
    with tabs[0]:
        if tabs[0].open:
            forecast_section(c, patient, history, cat, (horizon, target, margin, ok))
    with tabs[1]:
        if tabs[1].open:
            booking_tab(c, pid, history, target, cat)
    with tabs[2]:
        if tabs[2].open:
            frontier_tab(c, patient, history, target, horizon, cat)
    with tabs[3]:
        if tabs[3].open:
            forecast_history(c, pid, history, cat)


def model_claims(cat: dict[str, Any]) -> None:
    """What the served model does not reproduce of the claims it was checked on, so that a
    therapist reads its forecasts knowing it."""
    claims = cat.get("claims")
    if not claims or not claims["failing"]:
        return
    failing = len(claims["failing"])
    with st.expander(f"What this model does not reproduce ({failing} of {claims['total']} "
                     "claims it was checked on)"):
        st.markdown("\n".join(f"- {claim}" for claim in claims["failing"]))
        st.caption(claims["meaning"])


def record_section(c: ServiceClient, pid: str, history: dict[str, Any], cat: dict[str, Any]
                   ) -> None:
    """The patient's diary as a chart (every score of a day with several shown), with entry
    and correction forms."""
    for note in history["left_out"]:
        st.warning(f"This record holds entries the served model cannot use, so forecasts "
                   f"leave them out: {note}. Delete them below if they were mistakes.")
    for d in history.get("same_day", []):
        st.warning(same_day_words(d))
    others = [{**d, "others": d["scores"][:-1]} for d in history.get("same_day", [])]
    st.altair_chart(diary_chart(history, others), width="stretch")
    add_entries(c, pid, history, cat)
    corrections(c, pid)


def same_day_words(d: dict[str, Any]) -> str:
    """Several scores on one date, said with the one forecasts use."""
    scores = ", ".join(str(s) for s in d["scores"])
    on = when(date.fromisoformat(d["date"]), 0)
    return (f"{len(d['scores'])} scores on {on} ({scores}): forecasts use the last entered, "
            f"{d['used']}. If one was a mistake, delete it under “Recent entries”.")


def add_entries(c: ServiceClient, pid: str, history: dict[str, Any], cat: dict[str, Any]
                ) -> None:
    """Add a score or a session by date; each add is confirmed and can be undone."""
    start = date.fromisoformat(history["start_date"])
    today = start + timedelta(days=history["today"])  # the service's calendar
    st.caption(f"Record started {when(start, 0)}; today is {when(today, 0)}.")
    col1, col2 = st.columns(2)
    # a wide range, not the record's: a date the box would refuse it silently replaces by the
    # last one it took, so the service judges the date and says what is wrong with it
    low, high = start - timedelta(days=3650), today + timedelta(days=3650)
    with col1, st.form("add_score"):
        on = st.date_input("Date", value=today, min_value=low, max_value=high,
                           key="score_date")
        score = st.slider("Pain score", 0, 10, 5, key="score_value")
        if st.form_submit_button("Add score"):
            _add(c, pid, "score", score, on, f"the score {score} on {when(on, 0)}")
    with col2, st.form("add_session"):
        on_s = st.date_input("Date", value=today, min_value=low, max_value=high,
                             key="session_date")
        kind = st.selectbox("Kind", cat["kinds"], key="session_kind")
        if st.form_submit_button("Add session"):
            _add(c, pid, "session", kind, on_s, f"the {kind} session on {when(on_s, 0)}")


def _add(c: ServiceClient, pid: str, entry: str, value: int | str, on: date, what: str
         ) -> None:
    added: list[dict[str, Any]] = []

    def store() -> None:
        added.append(c.add_entry(pid, entry, value, on))
        if warned := added[0]["same_day"]:
            st.session_state["same_day_warning"] = same_day_words(warned[0])

    guarded(store, f"Stored {what}.", (f"Undo: remove {what}", lambda: c.delete_entry(
        pid, entry, added[0]["client_id"])))


def corrections(c: ServiceClient, pid: str) -> None:
    """The latest entries, each removable (and restorable by undo)."""
    if warning := st.session_state.pop("same_day_warning", None):
        st.warning(warning)
    with st.expander("Recent entries: correct a mistake"):
        entries = fetched(lambda: c.entries(pid))
        if entries is None:
            return
        if not entries:
            st.caption("Nothing entered yet.")
        for e in entries:
            label = f"score {e['value']}" if e["entry"] == "score" else f"{e['value']} session"
            on = when(date.fromisoformat(e["date"]), 0)
            what = f"the {label} on {on}"
            text, button = st.columns([4, 1])
            text.write(f"{on}: {label}")
            if button.button("Delete", key=f"delete_{e['entry']}_{e['client_id']}"):
                value = int(e["value"]) if e["entry"] == "score" else e["value"]
                restore = partial(c.add_entry, pid, e["entry"], value, e["day"])
                guarded(partial(c.delete_entry, pid, e["entry"], e["client_id"]),
                        f"Deleted {what}.", (f"Undo: restore {what}", restore))
