"""What every page shares: the service client, its catalogue, messages, changes with undo."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import matplotlib.pyplot as plt
import streamlit as st

from recovery.charts.figures import fan_figure
from recovery.charts.frames import Colours
from recovery.dashboard.client import ServiceClient, ServiceError, SessionExpired

__all__ = ["catalogue", "chart_png", "client", "colours_for", "fetched", "guarded", "labels",
           "responsive", "show_done", "show_error", "show_trust"]

T = TypeVar("T")


@st.cache_resource
def _http(url: str) -> httpx.Client:
    """One connection pool per service URL for the whole dashboard process."""
    return httpx.Client(base_url=url, timeout=120.0)


def client() -> ServiceClient:
    """This browser session's service client, carrying its token."""
    url = os.environ.get("RECOVERY_SERVICE_URL", "http://127.0.0.1:8000")
    return ServiceClient(_http(url), st.session_state.get("token"))


def catalogue(c: ServiceClient) -> dict[str, Any]:
    """Kinds, presets in words, covariates and prices of the served model (once a session)."""
    if "catalogue" not in st.session_state:
        st.session_state["catalogue"] = c.catalogue()
    return dict(st.session_state["catalogue"])


def labels(cat: dict[str, Any], plans: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """Schedule names as people read them: presets and proposed plans in words."""
    out = {p["name"]: p["words"] for p in cat["presets"]}
    for plan in plans or []:
        out.setdefault(plan["name"], f"{plan['name']} (your therapist's plan)")
    return out


def show_error(exc: ServiceError) -> None:
    """A refusal in the service's words; an expired sign-in goes back to the sign-in form."""
    if isinstance(exc, SessionExpired):
        raise exc
    st.error(f"The service refused this: {exc}")


def fetched(call: Callable[[], T]) -> T | None:
    """The service's answer, or None after saying why there is none."""
    try:
        return call()
    except ServiceError as exc:
        show_error(exc)
        return None


def guarded(action: Callable[[], Any], done: str | None = None,
            undo: tuple[str, Callable[[], Any]] | None = None) -> None:
    """Run a change; on success say so after the page reloads (with an undo, when given),
    else say why not."""
    try:
        action()
    except ServiceError as exc:
        show_error(exc)
        return
    if done:
        st.session_state["done"] = done
    st.session_state["undo_action"] = (*undo, 0) if undo else None
    st.rerun()


def show_done() -> None:
    """The last change's confirmation, and a button that undoes it until the next action: a
    run without its click (any other click or entry) takes the button away, so no stale Undo
    is left to remove something later. One container, always there, so what follows keeps its
    place."""
    with st.container():
        if done := st.session_state.pop("done", None):
            st.success(done)
        undo = st.session_state.get("undo_action")
        if not undo:
            return
        label, action, runs = undo
        if runs > 0:  # shown once already, and another action came instead of its click
            st.session_state["undo_action"] = None
            if not st.session_state.get("undo"):
                return
        place = st.empty()
        if place.button(label, key="undo"):
            st.session_state["undo_action"] = None
            guarded(action, f"Undone: {label[len('Undo: '):]}.")
        st.session_state["undo_action"] = (label, action, runs + 1) if runs == 0 else None


def show_trust(result: dict[str, Any]) -> None:
    """How far to trust the forecast: how well it fits this patient's diary, the model's
    measured held-out calibration, and anything it left out."""
    u, cal = result["update"], result.get("calibration")
    if u.get("low_ess"):
        st.warning(f"Low confidence: {u['warning']}.")
    else:
        st.caption("Fitted to this patient's diary and to the patients the model learnt from.")
    if cal:
        st.caption(f"On patients it had not seen, this model's 90 % bands held "
                   f"{cal['coverage_90']:.0%} of the later scores and its 50 % bands "
                   f"{cal['coverage_50']:.0%} ({cal['held_out_scores']} scores).")
    for note in result.get("notes", []):
        st.warning(f"Left out of this forecast: {note}.")


def chart_png(history: dict[str, Any], result: dict[str, Any], target: float,
              labels: dict[str, str], colours: dict[str, str], caption: str) -> bytes:
    """The fan chart as a PNG for reports: dates, schedules by name, the same colours as on
    screen, and a caption naming the patient, the date and the model version."""
    fig = fan_figure(history, result, target, labels, colours, caption)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def colours_for(names: list[str]) -> dict[str, str]:
    """Each schedule's colour, fixed for this browser session (Colours): adding a schedule
    never recolours the others."""
    given = Colours(st.session_state.get("colours"))
    out = given.of(names)
    st.session_state["colours"] = given.given
    return out


PHONE_CSS = """<style>
@media (max-width: 600px) { .st-key-wide { display: none; } }
@media (min-width: 601px) { .st-key-narrow { display: none; } }
</style>"""


def responsive() -> None:
    """Containers keyed `wide` show above 600 px, `narrow` below (phones): one chart per plan
    there, instead of bands merged into one."""
    st.html(PHONE_CSS)
