"""The administrator's page: accounts (create, disable, enable) and the audit trail of who read
or changed which record. Patients' own logins are made by their therapist."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from recovery.dashboard.client import ServiceClient
from recovery.dashboard.common import client, fetched, guarded, show_done

__all__ = ["admin_page"]

ROLES = {"therapist": "therapist", "analyst": "analyst", "admin": "administrator"}


def admin_page() -> None:
    """Accounts and the audit trail."""
    c = client()
    st.header("Accounts and audit")
    show_done()
    new_account(c)
    users = fetched(c.users)
    if users is None:
        return
    st.subheader("Accounts")
    st.table(pd.DataFrame([{"username": u["username"], "role": u["role"],
                            "active": "yes" if u["active"] else "no",
                            "patient record": u["patient_id"] or ""} for u in users]))
    me = st.session_state["user"]["username"]
    others = {u["username"]: u for u in users
              if u["username"] != me and not u["username"].startswith("deleted-")}
    if others:
        a, b = st.columns([3, 1])
        name = a.selectbox("Account", list(others), key="account")
        u = others[name]
        label = "Disable" if u["active"] else "Enable"
        b.write("")
        if b.button(f"{label} {name}", key="toggle_account"):
            guarded(partial(c.set_active, u["id"], not u["active"]),
                    f"{label}d the account {name}.")
    audit_trail(c)


def new_account(c: ServiceClient) -> None:
    """A new therapist, analyst or administrator (the password is never shown again)."""
    with st.expander("New account"), st.form("new_account", clear_on_submit=True):
        username = st.text_input("Username", key="new_username")
        password = st.text_input("Password (at least 10 characters)", type="password",
                                 key="new_password")
        role = st.selectbox("Role", list(ROLES), format_func=ROLES.__getitem__, key="new_role")
        if st.form_submit_button("Create account"):
            guarded(partial(c.create_user, username.strip(), password, role),
                    f"Created the {ROLES[role]} account {username.strip()}.")


def audit_trail(c: ServiceClient) -> None:
    """The latest audited accesses, newest first."""
    st.subheader("Audit trail")
    rows = fetched(lambda: c.audit(100))
    if rows is None:
        return
    st.dataframe(pd.DataFrame([{"when": r["at"][:19].replace("T", " "), "user": r["user_id"],
                                "role": r["role"], "action": r["action"],
                                "record": r["patient_id"] or "", "route": r["route"],
                                "reason": r["reason"] or ""} for r in rows]),
                 hide_index=True, width="stretch")
