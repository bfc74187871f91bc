"""Demo data for `make demo`: one account per role and a few patients from the bundled cohort."""

from __future__ import annotations

import json
import secrets
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

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


# Four patients who show the range of what the model says (docs/model.md): covariates, how
# long the pain has lasted at the record's start, and a diary shape over the six weeks.
PERSONAS: tuple[dict, ...] = (
    {"name": "responder: massage helps, pain comes back when it stops", "onset": 700,
     "covariates": {"chronic": 1, "structural_cause": 0, "adherence": 0.6, "age": 48,
                    "stress": 5}, "level": (7.0, 3.8), "sessions": ("massage", 14, 7)},
    {"name": "new episode, improving on its own", "onset": 12,
     "covariates": {"chronic": 0, "structural_cause": 0, "adherence": 0.5, "age": 34,
                    "stress": 4}, "level": (7.0, 2.5), "sessions": None},
    {"name": "physio, sore after each session", "onset": 200,
     "covariates": {"chronic": 1, "structural_cause": 1, "adherence": 0.8, "age": 57,
                    "stress": 6}, "level": (6.0, 5.0), "sessions": ("physio", 7, 3.5)},
    {"name": "long stable chronic pain", "onset": 1100,
     "covariates": {"chronic": 1, "structural_cause": 0, "adherence": 0.4, "age": 63,
                    "stress": 7}, "level": (6.0, 6.0), "sessions": None},
)


def _persona_diary(persona: dict, rng: np.random.Generator
                   ) -> tuple[list[tuple[float, int]], list[tuple[float, str]]]:
    """Daily scores over HISTORY_DAYS moving from the persona's first level to its last
    (after its sessions begin), with a diary's day-to-day noise; and its sessions."""
    days = np.arange(HISTORY_DAYS + 1)
    start, end = persona["level"]
    kind, first, every = persona["sessions"] or ("", HISTORY_DAYS, 0.0)
    ses = [(float(d), kind) for d in np.arange(first, HISTORY_DAYS + 1, every)] if every else []
    begin = first if every else 0.0
    level = np.where(days < begin, start, end + (start - end)
                     * np.exp(-(days - begin) / 10.0))
    if kind == "physio":  # sore the day after each session
        level = level + 1.2 * np.isin(days - 1, [d for d, _ in ses])
    scores = np.clip(np.round(level + rng.normal(0, 0.5, len(days))), 0, 10)
    return [(float(d), int(v)) for d, v in zip(days, scores, strict=True)], ses


def _add_patients(s: Session, therapist_id: int, n: int, today: date) -> list[Patient]:
    """The demo's personas, then patients from the demo cohort up to n."""
    start = today - timedelta(days=HISTORY_DAYS)  # diary to today
    rng = np.random.default_rng(7)
    out = []
    for i, persona in enumerate(PERSONAS[:n]):
        p = Patient(name=f"Demo patient {i + 1} ({persona['name']})",
                    covariates=persona["covariates"], therapist_id=therapist_id,
                    start_date=start, pain_since=start - timedelta(days=persona["onset"]))
        s.add(p)
        s.flush()
        _add_diary(s, p.id, *_persona_diary(persona, rng))
        out.append(p)
    return out + _cohort_patients(s, therapist_id, n - len(out), start, len(out))


def _add_diary(s: Session, patient_id: str, pain: list[tuple[float, int]],
               sessions: list[tuple[float, str]]) -> None:
    """A demo record's scores and sessions (day, value), with demo client ids."""
    s.add_all(PainRow(patient_id=patient_id, day=d, score=v, client_id=f"demo-{k}")
              for k, (d, v) in enumerate(pain))
    s.add_all(SessionRow(patient_id=patient_id, day=d, kind=kind, client_id=f"demo-s{k}")
              for k, (d, kind) in enumerate(sessions))


def _cohort_patients(s: Session, therapist_id: int, n: int, start: date, first: int
                     ) -> list[Patient]:
    """More demo patients, from the bundled demo cohort's first weeks."""
    cohort = Cohort.load(DEMO_COHORT)
    out = []
    for i, pid in enumerate(cohort.patient_ids[:max(n, 0)]):
        row = cohort.patients.set_index("patient_id").loc[pid]
        covs = {c: (None if pd.isna(row[c]) else float(row[c])) for c in COVARIATES
                if c in row.index}
        p = Patient(name=f"Demo patient {first + i + 1}", covariates=covs,
                    therapist_id=therapist_id, start_date=start)
        s.add(p)
        s.flush()
        pain = cohort.pain[(cohort.pain["patient_id"] == pid)]
        t0 = pain["day"].min()
        pain = pain[pain["day"] - t0 <= HISTORY_DAYS]
        ses = cohort.sessions[(cohort.sessions["patient_id"] == pid)
                              & (cohort.sessions["day"] - t0 <= HISTORY_DAYS)]
        _add_diary(s, p.id, [(float(d - t0), int(v)) for d, v in
                             zip(pain["day"], pain["score"], strict=True)],
                   [(float(d - t0), str(k)) for d, k in zip(ses["day"], ses["kind"],
                                                            strict=True)])
        out.append(p)
    return out
