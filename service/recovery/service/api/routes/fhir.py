"""FHIR R4 routes: a transaction Bundle into a therapist's records (all or nothing, the
same Bundle twice stores nothing new), a record out as a Bundle ($everything), and the
server's CapabilityStatement. Refusals are OperationOutcomes (fhir/store.py does the work)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from recovery.service.api.deps import (
    COMMON_RESPONSES,
    NOT_YOURS,
    Admin,
    CurrentUser,
    DbSession,
    State,
    Therapist,
    audit,
    patient_for,
    served,
)
from recovery.service.auth import Role, issue_token
from recovery.service.errors import ConflictError, FieldError, NotFoundError
from recovery.service.fhir.inbound import FhirError, read_bundle
from recovery.service.fhir.outbound import capability, outcome
from recovery.service.fhir.smart import (
    ALGORITHMS,
    ASSERTION_TYPE,
    ClientAuthError,
    check_jwks,
    verify_assertion,
)
from recovery.service.fhir.store import export_record, first_use, store_bundle
from recovery.service.schemas import FhirClientIn, FhirClientOut
from recovery.service.tables import FhirClient, User

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


@router.get("/.well-known/smart-configuration", response_class=JSONResponse)
def smart_configuration(request: Request) -> JSONResponse:
    """How a clinic system signs in (SMART backend services)."""
    token_url = str(request.url_for("smart_token"))
    return JSONResponse({
        "token_endpoint": token_url, "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "scopes_supported": ["system/*.read", "system/*.write"],
        "capabilities": ["client-confidential-asymmetric"]})


@router.post("/auth/token", response_class=JSONResponse, name="smart_token", responses={
    400: {"description": "an unsupported grant or assertion type (OAuth error)"},
    401: {"description": "the assertion does not prove a registered client"}})
def smart_token(request: Request, s: DbSession, state: State,
                grant_type: Annotated[str, Form(max_length=64)],
                client_assertion_type: Annotated[str, Form(max_length=200)],
                client_assertion: Annotated[str, Form(max_length=16_000)],
                scope: Annotated[str, Form(max_length=500)] = "system/*.read system/*.write",
                ) -> JSONResponse:
    """A clinic system's signed assertion (RS384 or ES384, with a registered key) for a
    bearer token acting for its therapist; each assertion works once."""
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "use client_credentials")
    if client_assertion_type != ASSERTION_TYPE:
        return _oauth_error(400, "invalid_request", f"client_assertion_type: {ASSERTION_TYPE}")
    now = datetime.now(UTC)

    def jwks_of(client_id: str) -> dict[str, Any] | None:
        c = s.get(FhirClient, client_id)
        return c.jwks if c is not None and c.active else None

    try:
        proof = verify_assertion(client_assertion, jwks_of, request.headers.get("host", ""),
                                 now)
    except ClientAuthError as exc:
        return _oauth_error(401, "invalid_client", str(exc))
    if not first_use(s, proof.jti, proof.client_id, proof.expires, now):
        return _oauth_error(401, "invalid_client", "this assertion was used already")
    client = s.get(FhirClient, proof.client_id)
    user = s.get(User, client.user_id) if client else None
    if user is None or not user.active:
        return _oauth_error(401, "invalid_client", "the client's therapist account is not active")
    minutes = state.settings.token_minutes
    return JSONResponse({"access_token": issue_token(
        user.id, user.role, user.token_version, state.settings.secret_key.get_secret_value(),
        minutes), "token_type": "bearer", "expires_in": 60 * minutes, "scope": scope})


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status)


clients = APIRouter(prefix="/v1/fhir-clients", tags=["fhir"], responses=COMMON_RESPONSES)


@clients.post("", response_model=FhirClientOut, status_code=201,
              responses={409: {"description": "client_id taken"}})
def register_client(body: FhirClientIn, s: DbSession, _: Admin) -> FhirClientOut:
    """Admins register a clinic system: its client_id, the therapist it acts for and its
    public keys."""
    try:
        kids = check_jwks(body.jwks)
    except ValueError as exc:
        raise FieldError("jwks", str(exc)) from None
    therapist = s.get(User, body.therapist_id)
    if therapist is None or therapist.role != Role.therapist or not therapist.active:
        raise FieldError("therapist_id", "an active therapist's user id")
    if s.get(FhirClient, body.client_id) is not None:
        raise ConflictError(f"client_id {body.client_id!r} is taken")
    row = FhirClient(id=body.client_id, name=body.name, user_id=therapist.id, jwks=body.jwks)
    s.add(row)
    s.flush()
    return FhirClientOut.model_validate(row).model_copy(update={"key_ids": kids})


@clients.get("", response_model=list[FhirClientOut])
def list_clients(s: DbSession, _: Admin) -> list[FhirClientOut]:
    """Every registered clinic system."""
    return [FhirClientOut.model_validate(c).model_copy(update={
        "key_ids": [k["kid"] for k in c.jwks["keys"]]})
        for c in s.scalars(select(FhirClient).order_by(FhirClient.id))]


@clients.delete("/{client_id}", status_code=204, responses={404: {"description": "no such"}})
def revoke_client(client_id: str, s: DbSession, _: Admin) -> Response:
    """Stop a clinic system signing in (tokens it holds expire within TOKEN_MINUTES)."""
    c = s.get(FhirClient, client_id)
    if c is None:
        raise NotFoundError(f"no client {client_id!r}")
    c.active = False
    return Response(status_code=204)
