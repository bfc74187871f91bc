"""FHIR R4 routes: a transaction Bundle into a therapist's records (all or nothing, the
same Bundle twice stores nothing new), a record out as a Bundle ($everything), and the
server's CapabilityStatement. Refusals are OperationOutcomes (fhir/store.py does the work)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

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
from recovery.service.fhir.inbound import FhirError, read_bundle
from recovery.service.fhir.outbound import capability, outcome
from recovery.service.fhir.store import export_record, store_bundle

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
    forecaster = served(state).forecaster
    answer, records = store_bundle(s, user.id, read_bundle(bundle), state.settings.today(),
                                   forecaster.kinds, forecaster.config.covariates.get("age"))
    for record in records:
        audit(s, user, record, "write")
    return fhir_response(answer)


@router.get("/Patient/{patient_id}/$everything", responses=NOT_YOURS)
def patient_everything(patient_id: str, s: DbSession, user: CurrentUser) -> JSONResponse:
    """The record as a searchset Bundle: Patient, Observations, Procedures, RiskAssessments
    (stored forecasts) and CarePlans (proposed schedules). Read audited."""
    return fhir_response(export_record(s, patient_for(s, user, patient_id)))


def install(app: Any) -> None:
    """FhirError anywhere under /fhir become OperationOutcomes."""

    @app.exception_handler(FhirError)
    async def _refused(_: Request, exc: FhirError) -> JSONResponse:
        return refused(exc)
