"""The patient's page: their diary, and plans compared in plain language."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from recovery.charts.frames import diary_frames, forecast_frame
from recovery.charts.interactive import diary_chart, fan_chart
from recovery.dashboard.client import ServiceClient
from recovery.dashboard.common import catalogue, client, colours_for, fetched, labels, responsive
from recovery.dashboard.views import when
from recovery.dashboard.words import booking_words, parts_words

__all__ = ["patient_page"]


def patient_page() -> None:
    """The patient's page: their diary and their schedules compared in plain words."""
    c = client()
    cat = catalogue(c)
    pid = st.session_state["user"]["patient_id"]
    responsive()
    st.header("Your recovery")
    got = fetched(lambda: (c.history(pid), c.plans(pid)))
    if got is None:
        return
    history, plans = got
    st.altair_chart(diary_chart(history), width="stretch")
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
    what_helps(c, pid, history, float(target))
    st.info("This supports, and does not replace, your therapist's advice.")


def what_helps(c: ServiceClient, pid: str, history: dict[str, Any], target: float) -> None:
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
        start = date.fromisoformat(history["start_date"])
        st.markdown(parts_words(explained, start, "your current plan"))
        st.markdown(booking_words(booked, asked, 0.7, start))


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
    """Each plan in a sentence with the date, then the chart: all plans together on a wide
    screen, one small chart per plan on a phone."""
    start = date.fromisoformat(history["start_date"])
    for f in result["forecasts"]:
        share = in_ten(f["summary"]["p_target_at_horizon"])
        st.markdown(f"**{words.get(f['name'], f['name'])}**: **{share}** people like you are "
                    f"at {target} or below by {when(start, f['days'][-1])} on this plan "
                    f"({f['summary']['sessions']} sessions).")
    plain_trust(result)
    frame = forecast_frame(result, start, words)
    diary = diary_frames(history)[0]
    colours = colours_for(list(dict.fromkeys(frame["schedule"])))
    with st.container(key="wide"):
        st.altair_chart(fan_chart(frame, diary, float(target), colours, 400),
                        width="stretch")
    with st.container(key="narrow"):
        for name in dict.fromkeys(frame["schedule"]):
            st.caption(name)
            st.altair_chart(fan_chart(frame[frame["schedule"] == name], diary, float(target),
                                      {name: colours[name]}, 240, False),
                            width="stretch")
    st.caption("The line is the most likely path; the shaded bands show the range of likely "
               "outcomes: the darker band holds half of them, the lighter one 9 in 10. Nobody "
               "can promise a result.")
