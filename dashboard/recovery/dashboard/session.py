"""A sign-in that survives a reload: after the password, the browser gets a cookie holding a
random session id (256 bits; SameSite=Strict, Secure over HTTPS, expiring with the service's
token), and this dashboard process keeps the token under the id's SHA-256 only. A reload
finds the id, asks the service who it is (a revoked or expired token ends it), and carries on.
The service's token never reaches the browser; signing out forgets the id on both sides."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import Any

import streamlit as st

__all__ = ["COOKIE", "forget", "remember", "restore", "write_cookie"]

COOKIE = "recovery_session"
_LOCK = threading.Lock()


@st.cache_resource
def _store() -> dict[str, dict[str, Any]]:
    """The signed-in sessions of this dashboard process: id digest -> user, token, expiry."""
    return {}


def _cookie() -> str | None:
    """This browser's session id, if its cookie came with the page."""
    sid = st.context.cookies.get(COOKIE)
    return sid if isinstance(sid, str) and sid else None


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def remember(user: dict[str, Any], token: str) -> None:
    """Keep this sign-in under a new id; the cookie is written on this run's page."""
    sid = secrets.token_urlsafe(32)
    ttl = max(60, int(user.get("expires_in", 3600)))
    with _LOCK:
        store = _store()
        now = time.time()
        for key in [k for k, v in store.items() if v["until"] < now]:  # expired ones go
            del store[key]
        store[_digest(sid)] = {"user": user, "token": token, "until": now + ttl}
    st.session_state["set_cookie"] = (sid, ttl)


def restore() -> dict[str, Any] | None:
    """The user and token kept for this browser's cookie, if it is still valid."""
    sid = _cookie()
    if not sid:
        return None
    with _LOCK:
        kept = _store().get(_digest(sid))
        if kept is None or kept["until"] < time.time():
            return None
    return kept


def forget() -> None:
    """Sign-out: forget the id here and clear the browser's cookie."""
    sid = _cookie()
    if sid:
        with _LOCK:
            _store().pop(_digest(sid), None)
    st.session_state["set_cookie"] = ("", 0)


def write_cookie() -> None:
    """Write (or clear) the cookie asked for by remember() or forget() on this run."""
    if (pending := st.session_state.pop("set_cookie", None)) is None:
        return
    sid, ttl = pending
    if sid and not sid.replace("-", "").replace("_", "").isalnum():
        return  # never: token_urlsafe's alphabet; checked before it is put in a script
    st.html(f"<script>document.cookie = '{COOKIE}={sid}; Path=/; Max-Age={ttl}; "
            "SameSite=Strict' + (location.protocol === 'https:' ? '; Secure' : '');</script>",
            unsafe_allow_javascript=True)
