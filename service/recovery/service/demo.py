"""Demo data for `make demo`: one account per role and a few patients from the bundled cohort."""

from __future__ import annotations

import json
import secrets
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from recovery.model import Cohort
from recovery.service.accounts import revise
from recovery.service.auth import Role
from recovery.service.db import Database
from recovery.service.settings import Settings
from recovery.service.tables import PainRow, Patient, SessionRow, User

__all__ = ["seed"]

DEMO_COHORT = Path("data/demo_cohort")
HISTORY_DAYS = 42.0  # demo patients arrive with six weeks of diary
COVARIATES = ("chronic", "structural_cause", "adherence", "age", "stress")


def seed(n_patients: int, credentials: Path, settings: Settings | None = None
         ) -> dict[str, tuple[str, str]]:
    """Create (or reset the passwords of) demo accounts; add demo patients once."""
    settings = settings or Settings()
    db = Database(settings.database_url)
    db.migrate()
    logins: dict[str, tuple[str, str]] = {}
    with db.session() as s:
        users = {}
        for role in (Role.therapist, Role.analyst, Role.admin, Role.patient):
            name = f"demo-{role.value}"
            password = secrets.token_urlsafe(12)
            user = s.scalars(select(User).where(User.username == name)).first()
            if user is None:
                user = User(username=name, role=role.value, password_hash="", token_version=0)
                s.add(user)
            revise(user, password=password, active=True)  # old demo tokens stop working
            s.flush()
            users[role] = user
            logins[role.value] = (name, password)
        therapist = users[Role.therapist]
        mine = s.scalars(select(Patient).where(Patient.therapist_id == therapist.id)).all()
        if not mine:
            mine = _add_patients(s, therapist.id, n_patients, settings.today())
        users[Role.patient].patient_id = mine[0].id
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text(json.dumps({r: {"username": u, "password": p}
                                       for r, (u, p) in logins.items()}, indent=1))
    credentials.chmod(0o600)
    return logins


def _add_patients(s: object, therapist_id: int, n: int, today: date) -> list[Patient]:
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    cohort = Cohort.load(DEMO_COHORT)
    out = []
    for i, pid in enumerate(cohort.patient_ids[:n]):
        row = cohort.patients.set_index("patient_id").loc[pid]
        covs = {c: (None if pd.isna(row[c]) else float(row[c])) for c in COVARIATES
                if c in row.index}
        p = Patient(name=f"Demo patient {i + 1}", covariates=covs, therapist_id=therapist_id,
                    start_date=today - timedelta(days=HISTORY_DAYS))  # diary to today
        s.add(p)
        s.flush()
        pain = cohort.pain[(cohort.pain["patient_id"] == pid)]
        t0 = pain["day"].min()
        pain = pain[pain["day"] - t0 <= HISTORY_DAYS]
        ses = cohort.sessions[(cohort.sessions["patient_id"] == pid)
                              & (cohort.sessions["day"] - t0 <= HISTORY_DAYS)]
        s.add_all(PainRow(patient_id=p.id, day=float(d - t0), score=int(v),
                          client_id=f"demo-{k}") for k, (d, v) in
                  enumerate(zip(pain["day"], pain["score"], strict=True)))
        s.add_all(SessionRow(patient_id=p.id, day=float(d - t0), kind=str(kind),
                             client_id=f"demo-{k}") for k, (d, kind) in
                  enumerate(zip(ses["day"], ses["kind"], strict=True)))
        out.append(p)
    return out
