"""The relational schema (SQLAlchemy 2 ORM). Alembic migrations in migrations/ create it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AuditRow",
    "Base",
    "CohortRow",
    "ForecastRow",
    "Job",
    "LoginFailure",
    "ModelRow",
    "PainRow",
    "Patient",
    "PatientIdentifier",
    "PlanRow",
    "Served",
    "SessionRow",
    "User",
    "now",
]


# Ids are 64-bit on every database (the API takes ids up to 2^63 - 1): BIGINT on PostgreSQL;
# SQLite's INTEGER PRIMARY KEY is 64-bit already (and must be spelt INTEGER to autoincrement)
BigId = BigInteger().with_variant(Integer(), "sqlite")


def now() -> datetime:
    """Now in naive UTC, as the tables store it."""
    return datetime.now(UTC).replace(tzinfo=None)  # naive UTC: the same on SQLite and PG


def _uuid() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    """The tables' declarative base."""
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """An account."""
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))  # therapist | patient | analyst | admin
    # the patient record a patient login may read (no FK: users are created before patients)
    patient_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # bumped by a password change, disabling or deleting: every older token stops working
    token_version: Mapped[int] = mapped_column(default=0)
    # False once disabled or deleted; rows are never removed, so ids are never reused
    active: Mapped[bool] = mapped_column(default=True)


class Patient(Base):
    """A patient record, owned by one therapist."""
    __tablename__ = "patients"
    __table_args__ = (Index("ux_patients_fhir_identifier", "therapist_id", "fhir_identifier",
                            unique=True),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_uuid)
    name: Mapped[str] = mapped_column(String(120))
    covariates: Mapped[dict[str, Any]] = mapped_column(default=dict)
    therapist_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    # day 0 of the record's calendar (None on records made before dates: their creation day)
    start_date: Mapped[date | None] = mapped_column(default=None)
    # when the pain began (None: unknown); the model's natural course runs from it
    pain_since: Mapped[date | None] = mapped_column(default=None)
    # the FHIR Patient identifier ("system|value") it was imported under, unique per therapist
    fhir_identifier: Mapped[str | None] = mapped_column(String(300), default=None)

    @property
    def start(self) -> date:
        """The record's first day."""
        return self.start_date or self.created_at.date()


class PatientIdentifier(Base):
    """One FHIR identifier of a record (canonical "system|value", with `|` escaped as in
    FHIR search), unique per therapist: a Patient is matched by any of its identifiers."""

    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("therapist_id", "identifier",
                                       name="ux_patient_identifiers"),
                      Index("ix_patient_identifiers_patient", "patient_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    identifier: Mapped[str] = mapped_column(String(300))


class PlanRow(Base):
    """A schedule a therapist proposes to one patient (a ScheduleSpec as JSON)."""

    __tablename__ = "plans"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_uuid)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    spec: Mapped[dict[str, Any]]
    created_by: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)


class PainRow(Base):
    """A pain score."""
    __tablename__ = "pain_scores"
    __table_args__ = (UniqueConstraint("patient_id", "client_id"),
                      Index("ix_pain_patient_day", "patient_id", "day"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    day: Mapped[float]
    score: Mapped[int]
    client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)
    # what a FHIR client sent with it: identifiers, date-time with offset, status
    source: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class SessionRow(Base):
    """A session."""
    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("patient_id", "client_id"),
                      Index("ix_sessions_patient_day", "patient_id", "day"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    day: Mapped[float]
    kind: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)
    # what a FHIR client sent with it: identifiers, date-time with offset, status
    source: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class ForecastRow(Base):
    """Audit trail: who forecast which patient, with which model, asking what, told what."""

    __tablename__ = "forecasts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_uuid)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    model_version: Mapped[str] = mapped_column(String(40))
    request: Mapped[dict[str, Any]]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=now)


class CohortRow(Base):
    """A stored cohort (its tables are files under cohorts_dir)."""
    __tablename__ = "cohorts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_uuid)
    name: Mapped[str] = mapped_column(String(120))
    path: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    n_patients: Mapped[int]
    n_sessions: Mapped[int]
    n_scores: Mapped[int]
    created_by: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)


class Job(Base):
    """A refit: queued -> running -> succeeded | failed; a dead worker's job is retried."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status", "status", "created_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_uuid)
    cohort_id: Mapped[str] = mapped_column(ForeignKey("cohorts.id"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[float] = mapped_column(default=0.0)
    message: Mapped[str] = mapped_column(String(2000), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str | None] = mapped_column(String(120), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    # the claiming worker's lease: results are written only while it still matches
    lease: Mapped[str | None] = mapped_column(String(32), default=None)
    model_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_by: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class ModelRow(Base):
    """A model version (its directory under models_dir)."""
    __tablename__ = "models"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    path: Mapped[str] = mapped_column(String(500))
    passed: Mapped[bool]
    diagnostics: Mapped[dict[str, Any]]
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    cohort_id: Mapped[str | None] = mapped_column(ForeignKey("cohorts.id"), default=None)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=now)


class Served(Base):
    """Exactly one row: the model every process serves (processes poll it to switch)."""

    __tablename__ = "served"
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id"))
    # the model served before the last promotion: what a rollback serves again
    previous_model_id: Mapped[str | None] = mapped_column(ForeignKey("models.id"), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=now)


class AuditRow(Base):
    """Who read or changed which patient's record, when, through which route (and why, for an
    admin's access)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_patient", "patient_id", "at"),
                      Index("ix_audit_user", "user_id", "at"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now)
    user_id: Mapped[int] = mapped_column(BigId)
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(10))  # read | write | denied
    route: Mapped[str] = mapped_column(String(200))
    patient_id: Mapped[str | None] = mapped_column(String(32), default=None)
    reason: Mapped[str | None] = mapped_column(String(300), default=None)


class LoginFailure(Base):
    """A failed sign-in, by username and client address: the lockout counts these."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_username", "username", "at"),
                      Index("ix_login_failures_client", "client", "at"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=now)


class FhirClient(Base):
    """A clinic system that signs in with its own key (SMART backend services), acting for one
    therapist."""

    __tablename__ = "fhir_clients"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the client_id
    name: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    jwks: Mapped[dict[str, Any]]  # its public keys (a JWK Set)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)


class AssertionSeen(Base):
    """A client assertion's jti, kept until it expires, so no assertion is used twice."""

    __tablename__ = "assertions_seen"
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)
