"""Recovery dashboard (Streamlit). Run with `recovery dashboard`; it needs only the service URL
(RECOVERY_SERVICE_URL) and talks to the service over HTTP: therapists forecast their patients,
patients compare schedules in plain language, analysts refit and promote models."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import streamlit as st

from recovery.dashboard import session
from recovery.dashboard.admin import admin_page
from recovery.dashboard.analyst import analyst_page
from recovery.dashboard.client import ServiceError, SessionExpired
from recovery.dashboard.common import client
from recovery.dashboard.patient import patient_page
from recovery.dashboard.therapist import therapist_page

log = logging.getLogger("recovery.dashboard")

# One page per role (st.navigation): its title in the menu, and what draws it.
PAGES: dict[str, tuple[str, Callable[[], None]]] = {
    "therapist": ("Your patients", therapist_page),
    "patient": ("Your recovery", patient_page),
    "analyst": ("Cohorts, refits and models", analyst_page),
    "admin": ("Accounts and audit", admin_page),
}
# inputs kept across an expired sign-in (buttons, uploads and editors cannot be restored)
KEPT = ("patient", "presets", "preset_kind", "proposed", "custom_name", "dates", "use_custom",
        "plan_note", "horizon", "target", "margin", "score_date", "score_value", "session_date",
        "session_kind", "patient_plans", "weeks", "ptarget", "cohort_name", "refit_cohort",
        "method", "draws", "tune", "chains", "seed", "budget", "new_name", "new_start",
        "new_chronic", "new_structural", "new_age", "new_adh", "new_stress", "section")


def sign_in() -> None:
    """The sign-in form; a sign-in after an expiry brings the page's inputs back."""
    st.title("Recovery")
    st.caption("Pain forecasts under massage and physiotherapy schedules")
    if kept := st.session_state.get("kept"):
        st.warning(f"Your session expired. Sign in again as {kept['user']} and the page "
                   "comes back as you left it.")
    with st.form("sign_in"):
        username = st.text_input("Username", key="username")
        password = st.text_input("Password", type="password", key="password")
        if st.form_submit_button("Sign in"):
            c = client()
            try:
                user = c.sign_in(username, password)
            except ServiceError as exc:
                st.error("Wrong username or password." if exc.status == 401 else str(exc))
                return
            kept = st.session_state.pop("kept", None)
            if kept and kept["user"] == user["username"]:  # never another user's inputs
                st.session_state.update(kept["inputs"])
            st.session_state["user"], st.session_state["token"] = user, c.token
            session.remember(user, c.token or "")
            st.rerun()


def expired() -> None:
    """Keep the page's inputs, forget the sign-in, and ask for it again."""
    user = st.session_state["user"]["username"]
    inputs = {k: st.session_state[k] for k in KEPT if k in st.session_state}
    session.forget()
    pending = st.session_state.get("set_cookie")
    st.session_state.clear()
    st.session_state["set_cookie"] = pending
    st.session_state["kept"] = {"user": user, "inputs": inputs}
    st.rerun()


def unexpected() -> None:
    """One plain sentence and a reference the logs can be searched by; never a traceback."""
    ref = uuid.uuid4().hex[:8]
    log.exception("dashboard error, reference %s", ref)
    st.error(f"Something went wrong on our side and this part of the page could not be shown. "
             f"Nothing you entered was lost. If it happens again, quote reference {ref}.")


def signed_in() -> dict[str, Any] | None:
    """This browser's user: from this session, or after a reload from its session cookie
    (checked with the service, so a revoked sign-in is not brought back)."""
    if user := st.session_state.get("user"):
        return dict(user)
    kept = session.restore()
    if kept is None:
        return None
    st.session_state["token"] = kept["token"]
    try:
        client().me()
    except ServiceError:
        st.session_state.pop("token", None)
        return None
    st.session_state["user"] = kept["user"]
    return dict(kept["user"])


def main() -> None:
    """Sign in (or carry on after a reload), then run the signed-in role's page; an expired
    sign-in keeps the inputs."""
    st.set_page_config(page_title="Recovery", layout="wide")
    session.write_cookie()
    user = signed_in()
    if not user:
        st.navigation([st.Page(sign_in, title="Sign in", url_path="sign-in")],
                      position="hidden").run()
        return
    with st.sidebar:
        st.write(f"Signed in as **{user['username']}** ({user['role']})")
        if st.button("Sign out", key="sign_out"):
            session.forget()
            pending = st.session_state.get("set_cookie")
            st.session_state.clear()
            st.session_state["set_cookie"] = pending
            st.rerun()
    title, page = PAGES[user["role"]]
    current = st.navigation([st.Page(page, title=title, url_path=user["role"])])
    try:
        current.run()
    except SessionExpired:
        expired()
    except Exception:  # Streamlit's own rerun and stop signals are BaseExceptions: not caught
        unexpected()


if __name__ == "__main__":  # streamlit runs the script as __main__; imports draw nothing
    main()
