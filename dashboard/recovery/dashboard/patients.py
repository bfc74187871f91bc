"""Patient records from the dashboard: create one (a second click on Create makes no second
record), correct its name and covariates, create the patient's own login, remove it. Every
change goes through the service, which audits it."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from recovery.dashboard.client import ServiceClient
from recovery.dashboard.common import guarded

__all__ = ["covariate_inputs", "manage_patient", "new_patient"]


def covariate_inputs(cat: dict[str, Any], prefix: str, now: dict[str, Any] | None = None
                     ) -> dict[str, float]:
    """The covariates a forecast uses, as form inputs (prefilled from `now`)."""
    covs, now = cat["covariates"], now or {}
    chronic = st.checkbox("Chronic pain (over 3 months)", bool(now.get("chronic")),
                          key=f"{prefix}_chronic")
    structural = st.checkbox("Structural cause (e.g. disc, arthritis)",
                             bool(now.get("structural_cause")), key=f"{prefix}_structural")
    age = st.number_input("Age", int(covs["age"]["low"]), int(covs["age"]["high"]),
                          int(now.get("age") or covs["age"]["center"]), key=f"{prefix}_age")
    adherence = st.slider("Home-exercise adherence", 0.0, 1.0,
                          float(now.get("adherence", 0.5) or 0.5), key=f"{prefix}_adh")
    stress = st.slider("Stress (0-10)", 0, 10, int(now.get("stress", 5) or 5),
                       key=f"{prefix}_stress")
    return {"chronic": float(chronic), "structural_cause": float(structural),
            "age": float(age), "adherence": float(adherence), "stress": float(stress)}


def pain_since_input(prefix: str, now: str | None = None) -> date | None:
    """When the pain began (left empty: not known): forecasts run the natural course from it,
    so pain of years is forecast near-stable and a new episode to keep improving."""
    return st.date_input("Pain since (leave empty if not known)",
                         value=date.fromisoformat(now) if now else None,
                         max_value=date.today(), key=f"{prefix}_pain_since",
                         help="When this episode of pain began. Pain present for months "
                              "rarely improves on its own; a new episode usually does.")


def new_patient(c: ServiceClient, cat: dict[str, Any]) -> None:
    """A new record. The same name, first visit and covariates sent again in this session
    (a double click, a resubmitted form) select the record already made instead."""
    with st.expander("New patient"), st.form("new_patient"):
        name = st.text_input("Name", key="new_name")
        start = st.date_input("First visit", value=date.today(), max_value=date.today(),
                              key="new_start")
        since = pain_since_input("new")
        covariates = covariate_inputs(cat, "new")
        if not st.form_submit_button("Create"):
            return
        if not name.strip():
            st.error("Name: enter the patient's name.")
            return
        sent = repr((name.strip(), start, since, sorted(covariates.items())))
        made = st.session_state.setdefault("created", {})
        if sent in made:  # claimed before the call: a second click during it lands here
            st.session_state["select_patient"] = made[sent]
            st.info(f"{name.strip()} was just created; showing that record.")
            return
        made[sent] = None

        def create() -> None:
            try:
                made[sent] = c.create_patient(name.strip(), dict(covariates), start,
                                              since)["id"]
            except Exception:
                made.pop(sent, None)  # refused or failed: the form may be sent again
                raise
            st.session_state["select_patient"] = made[sent]

        guarded(create, f"Created the record of {name.strip()}, starting {start}.")


def manage_patient(c: ServiceClient, patient: dict[str, Any], cat: dict[str, Any]) -> None:
    """Correct the record, create the patient's login, or remove the record."""
    pid, name = patient["id"], patient["name"]
    with st.expander("Manage this patient: edit, their login, remove"):
        with st.form(f"edit_{pid}"):
            new_name = st.text_input("Name", name, key=f"edit_name_{pid}")
            since = pain_since_input(f"edit_{pid}", patient.get("pain_since"))
            covariates = covariate_inputs(cat, f"edit_{pid}", patient["covariates"])
            if st.form_submit_button("Save changes"):
                guarded(lambda: c.update_patient(pid, new_name.strip(), dict(covariates),
                                                 since),
                        f"Saved the changes to {new_name.strip()}'s record.")
        patient_login(c, patient)
        st.markdown("**Remove this record**: its scores, sessions, plans and forecasts, and "
                    "the patient's login. The audit trail keeps who removed it.")
        sure = st.checkbox(f"Yes, remove {name} and everything in the record",
                           key=f"sure_{pid}")
        if st.button("Remove the record", key=f"remove_{pid}", disabled=not sure):
            st.session_state.pop("patient", None)
            guarded(lambda: c.delete_patient(pid), f"Removed the record of {name}.")


def patient_login(c: ServiceClient, patient: dict[str, Any]) -> None:
    """The patient's own login: its name when there is one, else a form to create it."""
    if patient.get("login"):
        st.caption(f"{patient['name']} signs in as **{patient['login']}** and sees the plans "
                   "you save for them.")
        return
    st.caption(f"{patient['name']} has no login yet, so they cannot see the plans you save.")
    with st.form(f"login_{patient['id']}", clear_on_submit=True):
        username = st.text_input("Their username", key=f"login_name_{patient['id']}")
        password = st.text_input("A first password (at least 10 characters; give it to them)",
                                 type="password", key=f"login_pw_{patient['id']}")
        if st.form_submit_button("Create their login"):
            guarded(lambda: c.create_login(patient["id"], username.strip(), password),
                    f"Created the login {username.strip()} for {patient['name']}.")
