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
from recovery.dashboard.client import ServiceClient, ServiceError, SessionExpired

__all__ = ["catalogue", "chart_png", "client", "fetched", "guarded", "labels", "show_done",
           "show_error", "show_trust"]

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
    st.session_state["undo_action"] = undo
    st.rerun()


def show_done() -> None:
    """The last change's confirmation, and a button that undoes it, in one container that is
    always there: what follows keeps its place, so open expanders stay open."""
    with st.container():
        if done := st.session_state.pop("done", None):
            st.success(done)
        undo = st.session_state.get("undo_action")
        if undo and st.button(undo[0], key="undo"):
            label, action = undo
            guarded(action, f"Undone: {label[len('Undo: '):]}.")


def show_trust(result: dict[str, Any]) -> None:
    """How far to trust the forecast: the evidence it rests on, the model's measured held-out
    calibration, and anything it left out."""
    u, cal = result["update"], result.get("calibration")
    if u.get("low_ess"):
        st.warning(f"Low confidence: {u['warning']}.")
    else:
        st.caption(f"Conditioned on the diary by {u['method']} ({u['ess']:.0f} effective "
                   "posterior draws).")
    if cal:
        st.caption(f"On held-out future scores this model's 90 % bands held "
                   f"{cal['coverage_90']:.0%} of them and its 50 % bands {cal['coverage_50']:.0%}"
                   f" ({cal['held_out_scores']} scores).")
    for note in result.get("notes", []):
        st.warning(f"Left out of this forecast: {note}.")


def chart_png(history: dict[str, Any], result: dict[str, Any], target: float) -> bytes:
    """The fan chart as a PNG, for reports."""
    fig = fan_figure(history, result, target)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()
