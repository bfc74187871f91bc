"""A read Bundle stored in a therapist's records, and a record read back for export; shared
by the FHIR routes and `recovery fhir`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from recovery.model.config import Covariate
from recovery.service.db import insert_skipping_known
from recovery.service.fhir.inbound import FhirError, ImportPlan, NewEntry, NewPatient
from recovery.service.fhir.outbound import everything
from recovery.service.records import insert_new
from recovery.service.tables import (
    AssertionSeen,
    ForecastRow,
    PainRow,
    Patient,
    PlanRow,
    SessionRow,
)

__all__ = ["export_record", "first_use", "store_bundle"]


def store_bundle(s: Session, therapist: int, plan: ImportPlan, today: date, kinds: list[str],
                 age: Covariate | None) -> tuple[dict[str, Any], list[str]]:
    """Store the plan in the therapist's records (in the caller's transaction: a FhirError
    leaves nothing behind); the transaction-response Bundle and the records written."""
    records = {p.identifier: _record(s, therapist, p, plan, today, age) for p in plan.patients}
    problems = [(f"Bundle.entry (a {e.kind} session)", f"the served model does not know "
                 f"{e.kind!r} (it knows {kinds})") for e in plan.entries
                if e.kind != "score" and e.kind not in kinds]
    problems += [(f"Bundle.entry (on {e.on})", f"{e.on} is in the future: today is {today}")
                 for e in plan.entries if e.on > today]
    problems += [(f"Bundle.entry (on {e.on})", f"{e.on} is before the record's start "
                  f"({records[e.patient][0].start})") for e in plan.entries
                 if e.on < records[e.patient][0].start]
    if problems:
        raise FhirError(problems)
    counts = [_store(s, records[e.patient][0], e) for e in plan.entries]
    entries = [{"response": {"status": "201 Created" if made else "200 OK",
                             "location": f"Patient/{record.id}"}}
               for record, made in records.values()]
    entries += [{"response": {"status": "201 Created" if n else "200 OK"}} for n in counts]
    return ({"resourceType": "Bundle", "type": "transaction-response", "entry": entries},
            [record.id for record, _ in records.values()])


def _record(s: Session, therapist: int, p: NewPatient, plan: ImportPlan, today: date,
            age: Covariate | None) -> tuple[Patient, bool]:
    """The therapist's record with this identifier, or a new one starting on its patient's
    first entry (or today), with their age when the model uses it; whether it was made now."""
    found = s.scalars(select(Patient).where(Patient.therapist_id == therapist,
                                            Patient.fhir_identifier == p.identifier)).first()
    if found is not None:
        return found, False
    first = min((e.on for e in plan.entries if e.patient == p.identifier), default=today)
    covariates = {}
    if age is not None and p.birth_date is not None:
        years = (today - p.birth_date).days / 365.25
        if (age.low is None or years >= age.low) and (age.high is None or years <= age.high):
            covariates["age"] = round(years, 1)
    record = Patient(name=p.name, covariates=covariates, therapist_id=therapist,
                     start_date=min(first, today), fhir_identifier=p.identifier)
    s.add(record)
    s.flush()
    return record, True


def _store(s: Session, record: Patient, e: NewEntry) -> int:
    """Store one entry unless the record has it (by client id); 1 if it was stored."""
    day = float((e.on - record.start).days)
    if e.kind == "score":
        row = {"patient_id": record.id, "day": day, "score": e.score, "client_id": e.client_id}
        return insert_new(s, PainRow, [row]).created
    row = {"patient_id": record.id, "day": day, "kind": e.kind, "client_id": e.client_id}
    return insert_new(s, SessionRow, [row]).created


def export_record(s: Session, p: Patient) -> dict[str, Any]:
    """The record with its scores, sessions, forecasts and plans as a FHIR Bundle."""
    pain = s.scalars(select(PainRow).where(PainRow.patient_id == p.id)
                     .order_by(PainRow.day, PainRow.id)).all()
    sessions = s.scalars(select(SessionRow).where(SessionRow.patient_id == p.id)
                         .order_by(SessionRow.day, SessionRow.id)).all()
    forecasts = s.scalars(select(ForecastRow).where(ForecastRow.patient_id == p.id)
                          .order_by(ForecastRow.created_at)).all()
    plans = s.scalars(select(PlanRow).where(PlanRow.patient_id == p.id)
                      .order_by(PlanRow.created_at)).all()
    return everything(p, list(pain), list(sessions), list(forecasts), list(plans))


def first_use(s: Session, jti: str, client_id: str, expires: datetime, now: datetime) -> bool:
    """Record a client assertion's id; False when it was seen before (a replay). Ids of
    expired assertions are forgotten."""
    naive = now.replace(tzinfo=None)  # the tables store naive UTC
    s.execute(delete(AssertionSeen).where(AssertionSeen.expires_at < naive))
    row = {"jti": jti, "client_id": client_id, "expires_at": expires.replace(tzinfo=None)}
    return insert_skipping_known(s, AssertionSeen, [row], ["jti"]) == 1
