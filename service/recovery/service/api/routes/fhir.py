"""FHIR R4 routes: a transaction Bundle into a therapist's records (all or nothing, the
same Bundle twice stores nothing new), a record out as a Bundle ($everything), and the
server's CapabilityStatement. Refusals are OperationOutcomes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from recovery.model.config import Covariate
from recovery.service.api.deps import (
    COMMON_RESPONSES,
    NOT_YOURS,
    CurrentUser,
    DbSession,
    State,
    Therapist,
    audit,
    patient_for,
    served,
)
from recovery.service.fhir.inbound import (
    FhirError,
    ImportPlan,
    NewEntry,
    NewPatient,
    read_bundle,
)
from recovery.service.fhir.outbound import capability, everything, outcome
from recovery.service.records import insert_new
from recovery.service.tables import ForecastRow, PainRow, Patient, PlanRow, SessionRow

FHIR_JSON = "application/fhir+json"


class FhirResponse(JSONResponse):
    """A FHIR resource, as application/fhir+json."""

    media_type = FHIR_JSON


OUTCOME = {"description": "an OperationOutcome naming each problem",
           "content": {FHIR_JSON: {}}}
router = APIRouter(prefix="/fhir", tags=["fhir"], default_response_class=FhirResponse,
                   responses={**COMMON_RESPONSES, 422: OUTCOME})


def fhir_response(doc: dict[str, Any], status: int = 200) -> JSONResponse:
    """A FHIR resource as application/fhir+json."""
    return FhirResponse(doc, status)


def refused(exc: FhirError) -> JSONResponse:
    """A refused Bundle: 422 with an OperationOutcome naming each bad part."""
    return fhir_response(outcome(exc.problems), 422)


@router.get("/metadata")
def metadata(state: State) -> JSONResponse:
    """The CapabilityStatement: what these routes read and write."""
    return fhir_response(capability(state.settings.today()))


@router.post("")
def transaction(s: DbSession, user: Therapist, state: State,
                bundle: Annotated[dict[str, Any], Body(media_type=FHIR_JSON)]) -> JSONResponse:
    """A transaction Bundle of Patients (matched by identifier), pain Observations (LOINC
    72514-3) and massage or physiotherapy Procedures, stored in the therapist's records as
    one transaction; the transaction-response Bundle says what was created."""
    plan = read_bundle(bundle)
    today = state.settings.today()
    age = served(state).forecaster.config.covariates.get("age")
    records = {p.identifier: _record(s, user.id, p, plan, today, age) for p in plan.patients}
    known = served(state).forecaster.kinds
    problems = [(f"Bundle.entry (a {e.kind} session)", f"the served model does not know "
                 f"{e.kind!r} (it knows {known})") for e in plan.entries
                if e.kind != "score" and e.kind not in known]
    problems += [(f"Bundle.entry (on {e.on})", f"{e.on} is in the future: today is {today}")
                 for e in plan.entries if e.on > today]
    problems += [(f"Bundle.entry (on {e.on})", f"{e.on} is before the record's start "
                  f"({records[e.patient][0].start})") for e in plan.entries
                 if e.on < records[e.patient][0].start]
    if problems:
        raise FhirError(problems)
    counts = [_store(s, records[e.patient][0], e) for e in plan.entries]
    for record, _ in records.values():
        audit(s, user, record.id, "write")
    entries = [{"response": {"status": "201 Created" if made else "200 OK",
                             "location": f"Patient/{record.id}"}}
               for record, made in records.values()]
    entries += [{"response": {"status": "201 Created" if n else "200 OK"}} for n in counts]
    return fhir_response({"resourceType": "Bundle", "type": "transaction-response",
                          "entry": entries})


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


@router.get("/Patient/{patient_id}/$everything", responses=NOT_YOURS)
def patient_everything(patient_id: str, s: DbSession, user: CurrentUser) -> JSONResponse:
    """The record as a searchset Bundle: Patient, Observations, Procedures, RiskAssessments
    (stored forecasts) and CarePlans (proposed schedules). Read audited."""
    p = patient_for(s, user, patient_id)
    pain = s.scalars(select(PainRow).where(PainRow.patient_id == patient_id)
                     .order_by(PainRow.day, PainRow.id)).all()
    sessions = s.scalars(select(SessionRow).where(SessionRow.patient_id == patient_id)
                         .order_by(SessionRow.day, SessionRow.id)).all()
    forecasts = s.scalars(select(ForecastRow).where(ForecastRow.patient_id == patient_id)
                          .order_by(ForecastRow.created_at)).all()
    plans = s.scalars(select(PlanRow).where(PlanRow.patient_id == patient_id)
                      .order_by(PlanRow.created_at)).all()
    return fhir_response(everything(p, list(pain), list(sessions), list(forecasts),
                                    list(plans)))


def install(app: Any) -> None:
    """FhirError anywhere under /fhir become OperationOutcomes."""

    @app.exception_handler(FhirError)
    async def _refused(_: Request, exc: FhirError) -> JSONResponse:
        return refused(exc)
