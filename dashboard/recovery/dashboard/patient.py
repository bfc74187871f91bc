"""The patient's page: their diary, and plans compared in plain language."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from recovery.charts.frames import diary_frames, forecast_frame
from recovery.charts.interactive import diary_chart, fan_chart
from recovery.dashboard.client import ServiceClient
from recovery.dashboard.common import catalogue, client, fetched, labels
from recovery.dashboard.views import booking_words

__all__ = ["patient_page"]


def patient_page() -> None:
    """The patient's page: their diary and their schedules compared in plain words."""
    c = client()
    cat = catalogue(c)
    pid = st.session_state["user"]["patient_id"]
    st.header("Your recovery")
    got = fetched(lambda: (c.history(pid), c.plans(pid)))
    if got is None:
        return
    history, plans = got
    st.altair_chart(diary_chart(history), use_container_width=True)
    words = labels(cat, plans)
    options: dict[str, dict[str, Any]] = {p["name"]: p["schedule"] for p in plans}
    options |= {p["name"]: {"name": p["name"]} for p in cat["presets"]}
    for plan in plans:
        if plan["note"]:
            st.info(f"Your therapist's plan **{plan['name']}**: {plan['note']}")
    default = [*(p["name"] for p in plans[:1]), "recovery_then_maintenance",
               "recovery_then_stop"]
    chosen = st.multiselect("Plans to compare (up to 3)", list(options), max_selections=3,
                            default=default[:3], format_func=lambda n: words.get(n, n),
                            key="patient_plans")
    weeks = st.slider("Look ahead (weeks)", 4, 52, 12, key="weeks")
    target = st.slider("A pain level you would be happy with", 0, 10, 3, key="ptarget")
    if not chosen:
        st.error("Choose at least one plan to compare.")
    if st.button("Compare", type="primary", key="compare", disabled=not chosen):
        with st.spinner("Working it out..."):
            result = fetched(lambda: c.forecast(pid, {
                "schedules": [options[n] for n in chosen], "horizon_days": 7 * weeks,
                "target_score": float(target)}))
        if result is not None:
            st.session_state["presult"] = (result, target, weeks)
    if shown := st.session_state.get("presult"):
        result, target, weeks = shown
        show_comparison(history, result, target, weeks, words)
    what_helps(c, pid, float(target))
    st.info("This supports, and does not replace, your therapist's advice.")


def what_helps(c: ServiceClient, pid: str, target: float) -> None:
    """What the improvement so far is made of, and by when to book the next session."""
    st.subheader("What is helping, and when to book next")
    if st.button("Tell me", key="why"):
        with st.spinner("Working it out..."):
            got = fetched(lambda: (c.answer(pid, "explain", {"horizon_days": 28}),
                                   c.answer(pid, "booking", {"target_score": target})))
        if got is not None:
            st.session_state["pwhy"] = (*got, target)
    if shown := st.session_state.get("pwhy"):
        explained, booked, asked = shown
        st.markdown(explained["words"])
        st.markdown(booking_words(booked, asked, 0.7))


def in_ten(p: float) -> str:
    """A chance as people say it: "about 7 in 10", and never "10 in 10" or "0 in 10"."""
    n = round(10 * p)
    return "almost all" if n >= 10 else "hardly any" if n <= 0 else f"about {n} in 10"


def plain_trust(result: dict[str, Any]) -> None:
    """How sure the forecast is, in the patient's words."""
    if result["update"].get("low_ess"):
        st.warning("This forecast is less sure than usual: your diary is unlike most. Ask "
                   "your therapist what it means for you.")
    else:
        st.caption("This forecast uses your diary and what happened to many people like you.")
    for note in result.get("notes", []):
        st.warning(f"Left out of this forecast: {note}.")


def show_comparison(history: dict[str, Any], result: dict[str, Any], target: int, weeks: int,
                    words: dict[str, str]) -> None:
    for f in result["forecasts"]:
        share = in_ten(f["summary"]["p_target_at_horizon"])
        st.markdown(f"**{words.get(f['name'], f['name'])}**: **{share}** people like you are "
                    f"at {target} or below by week {weeks} on this plan "
                    f"({f['summary']['sessions']} sessions).")
    plain_trust(result)
    frame = forecast_frame(result, date.fromisoformat(history["start_date"]), words)
    st.altair_chart(fan_chart(frame, diary_frames(history)[0], float(target), None, 400),
                    use_container_width=True)
    st.caption("The line is the most likely path; the shaded bands show the range of likely "
               "outcomes: the darker band holds half of them, the lighter one 9 in 10. Nobody "
               "can promise a result.")
