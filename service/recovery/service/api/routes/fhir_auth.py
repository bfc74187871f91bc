"""SMART backend services: discovery (at the FHIR base and at the root), the token endpoint
(a client_credentials grant with a signed private_key_jwt assertion, for a 5-minute token
carrying the client and the system/ scopes granted) and the admins' register of clinic
systems. Answers are OAuth JSON; nothing is built from the request's Host header."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from recovery.service.api.deps import COMMON_RESPONSES, Admin, DbSession, State
from recovery.service.auth import Role
from recovery.service.errors import ConflictError, FieldError, NotFoundError
from recovery.service.fhir.scopes import TYPES, ScopeError, parse_scopes
from recovery.service.fhir.smart import (
    ALGORITHMS,
    ASSERTION_TYPE,
    TOKEN_LIFETIME,
    ClientAuthError,
    check_jwks,
    issue_smart_token,
    verify_assertion,
)
from recovery.service.fhir.store import first_use
from recovery.service.schemas import FhirClientIn, FhirClientOut
from recovery.service.tables import FhirClient, User

__all__ = ["clients", "discovery", "tokens"]

tokens = APIRouter(prefix="/fhir", tags=["fhir"])
discovery = APIRouter(tags=["fhir"])
clients = APIRouter(prefix="/v1/fhir-clients", tags=["fhir"], responses=COMMON_RESPONSES)
SCOPES = ["system/*.read", "system/*.write", "system/*.rs", "system/*.cud",
          *(f"system/{t}.{a}" for t in TYPES for a in ("read", "write"))]


def _configuration(state: State) -> JSONResponse:
    """How a clinic system signs in (SMART backend services)."""
    return JSONResponse({
        "issuer": f"{state.settings.public_url}/fhir",
        "token_endpoint": f"{state.settings.public_url}/fhir/auth/token",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "scopes_supported": SCOPES,
        "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"]})


@tokens.get("/.well-known/smart-configuration", response_class=JSONResponse)
def smart_configuration(state: State) -> JSONResponse:
    """SMART discovery at the FHIR base."""
    return _configuration(state)


@discovery.get("/.well-known/smart-configuration", response_class=JSONResponse)
def smart_configuration_root(state: State) -> JSONResponse:
    """SMART discovery at the server's root."""
    return _configuration(state)


@tokens.post("/auth/token", response_class=JSONResponse, name="smart_token", responses={
    400: {"description": "an unsupported grant, assertion type or scope (OAuth error)"},
    401: {"description": "the assertion does not prove a registered client"},
    422: {"description": "a form field missing, too long or holding NUL",
          "content": {"application/json": {}, "application/fhir+json": {}}}})
def smart_token(s: DbSession, state: State,
                grant_type: Annotated[str, Form(max_length=64)],
                client_assertion_type: Annotated[str, Form(max_length=200)],
                client_assertion: Annotated[str, Form(max_length=16_000)],
                scope: Annotated[str, Form(max_length=2000)] = "system/*.read",
                ) -> JSONResponse:
    """A clinic system's signed assertion (RS384 or ES384, with a registered key) for a
    5-minute bearer token acting for its therapist within the scopes asked; each assertion
    works once."""
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "use client_credentials")
    if client_assertion_type != ASSERTION_TYPE:
        return _oauth_error(400, "invalid_request", f"client_assertion_type: {ASSERTION_TYPE}")
    try:
        parse_scopes(scope)
    except ScopeError as exc:
        return _oauth_error(400, "invalid_scope", str(exc))
    now = datetime.now(UTC)

    def jwks_of(client_id: str) -> dict[str, Any] | None:
        c = s.get(FhirClient, client_id[:64])
        return c.jwks if c is not None and c.active else None

    token_url = f"{state.settings.public_url}/fhir/auth/token"
    try:
        proof = verify_assertion(client_assertion, jwks_of, token_url, now)
    except ClientAuthError as exc:
        return _oauth_error(401, "invalid_client", str(exc))
    if not first_use(s, proof.jti, proof.client_id, proof.expires, now):
        return _oauth_error(401, "invalid_client", "this assertion was used already")
    client = s.get(FhirClient, proof.client_id)
    user = s.get(User, client.user_id) if client else None
    if client is None or user is None or not user.active:
        return _oauth_error(401, "invalid_client", "the client's therapist account is not active")
    granted = " ".join(scope.split())
    access = issue_smart_token(user.id, user.token_version, client.id, granted,
                               f"{state.settings.public_url}/fhir",
                               state.settings.secret_key.get_secret_value(), now)
    return JSONResponse({"access_token": access, "token_type": "bearer",
                         "expires_in": int(TOKEN_LIFETIME.total_seconds()), "scope": granted},
                        headers={"Cache-Control": "no-store"})


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status)


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
        raise ConflictError("this client_id is taken")
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
    """Stop a clinic system signing in; its tokens stop working at once."""
    c = s.get(FhirClient, client_id[:64]) if "\x00" not in client_id else None
    if c is None:
        raise NotFoundError("no such client")
    c.active = False
    return Response(status_code=204)
