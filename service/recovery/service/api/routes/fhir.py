"""FHIR R4 routes: a transaction, batch or collection Bundle into a therapist's records
(parsed and checked before any transaction, written in one short one), create, update
(by id or conditionally by identifier) and delete of single resources, read and search,
$everything, the CapabilityStatement generated from these routes, and the bands extension's
StructureDefinition. Callers are therapists (their records), patients (their own, read
only) and SMART clients within their scopes. Refusals are OperationOutcomes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from recovery.service.api.deps import COMMON_RESPONSES, State, audit, get_state, oauth2, served
from recovery.service.auth import Role, TokenError, read_token
from recovery.service.errors import ForbiddenError, ServiceError
from recovery.service.fhir.conformance import bands_definition, capability
from recovery.service.fhir.inbound import EntryIn, ImportPlan, read_bundle
from recovery.service.fhir.negotiation import FHIR_JSON
from recovery.service.fhir.outbound import outcome
from recovery.service.fhir.problems import FhirError, issue_code
from recovery.service.fhir.scopes import Grants, ScopeError, allows, parse_scopes
from recovery.service.fhir.search import PARAMS, Who, everything, read, record_for, search
from recovery.service.fhir.smart import read_smart_token
from recovery.service.fhir.store import Context, store_plan
from recovery.service.tables import FhirClient, User

__all__ = ["Caller", "as_json", "fhir_base", "refused", "render", "router"]


class FhirResponse(JSONResponse):
    """A FHIR resource, as application/fhir+json."""

    media_type = FHIR_JSON


OUTCOME = {"description": "an OperationOutcome naming each problem",
           "content": {FHIR_JSON: {}}}
router = APIRouter(prefix="/fhir", tags=["fhir"], default_response_class=FhirResponse,
                   responses={**COMMON_RESPONSES, 404: OUTCOME, 422: OUTCOME})
UNAUTHORISED = ServiceError("not signed in, or the token expired or was revoked")
WRITES = ("Patient", "Observation", "Procedure")
READS = ("Patient", "Observation", "Procedure", "RiskAssessment", "CarePlan")


def fhir_base(state: Any) -> str:
    """This server's FHIR base URL (from the configured public URL, never the Host header)."""
    return f"{state.settings.public_url}/fhir"


def refused(exc: ServiceError) -> JSONResponse:
    """A refusal under /fhir: its status with an OperationOutcome naming each problem."""
    from recovery.service.api.errors import refusal

    detail, status = refusal(exc)
    if isinstance(exc, FhirError):
        problems, code = exc.problems, exc.code
    elif isinstance(detail, list):
        problems = [(".".join(str(x) for x in d["loc"][1:]), d["msg"]) for d in detail]
        code = issue_code(status)
    else:
        problems, code = [("", str(detail))], issue_code(status)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return FhirResponse(outcome(problems, code), status, headers)


def render(request: Request, exc: ServiceError) -> JSONResponse | None:
    """The OperationOutcome of a refusal under /fhir; None elsewhere (JSON is answered)."""
    return refused(exc) if request.url.path.startswith("/fhir") else None


@dataclass
class Caller:
    """Who calls: the user, whose records they see, and a SMART client's scopes (None for
    a user's own token, which their role bounds)."""

    user: User
    who: Who
    grants: Grants | None = None

    def need(self, kind: str, letter: str, write: bool = False) -> None:
        """ForbiddenError unless the caller may do `letter` (c r u d s) on `kind`."""
        if write and self.user.role != Role.therapist:
            raise ForbiddenError(f"a {self.user.role} may not write records through FHIR")
        if self.grants is not None and not allows(self.grants, kind, letter):
            raise FhirError([("", f"the token's scopes do not allow this on {kind}")], 403,
                            "forbidden")


def caller(request: Request, state: Annotated[Any, Depends(get_state)],
           token: Annotated[str | None, Depends(oauth2)]) -> Caller:
    """The signed-in caller, read without a write transaction (no writer lock is taken
    while a Bundle is read)."""
    secret = state.settings.secret_key.get_secret_value()
    smart = read_smart_token(token, fhir_base(state), secret) if token else None
    with state.db.reading() as s:
        if smart is not None:
            user, client = s.get(User, smart.user_id), s.get(FhirClient, smart.client_id)
            version = smart.version
            if client is None or not client.active or user is None or client.user_id != user.id:
                raise _unauthorised()
        else:
            try:
                user_id, version = read_token(token or "", secret)
            except TokenError:
                raise _unauthorised() from None
            user = s.get(User, user_id)
        if user is None or not user.active or user.token_version != version:
            raise _unauthorised()
        s.expunge(user)  # kept loaded after the read-only transaction ends
    if user.role not in (Role.therapist, Role.patient):
        raise ForbiddenError(f"a {user.role} does not use the FHIR routes")
    request.state.user_id = user.id
    try:
        grants = parse_scopes(smart.scope) if smart is not None else None
    except ScopeError:
        raise _unauthorised() from None
    return Caller(user, Who.of(user), grants)


def _unauthorised() -> FhirError:
    return FhirError([("", "not signed in, or the token expired or was revoked")], 401,
                     "login")


CallerDep = Annotated[Caller, Depends(caller)]


def as_json(body: Any) -> Any:
    """The body as JSON whatever its Content-Type said (FastAPI leaves other types raw)."""
    if not isinstance(body, bytes | str):
        return body
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise FhirError([("", "the body is not JSON")]) from None


@router.get("/metadata")
def metadata(request: Request, state: State) -> FhirResponse:
    """The CapabilityStatement, generated from the routes that exist."""
    routes = [(m.upper(), path) for path, ops in request.app.openapi()["paths"].items()
              if path.startswith("/fhir") for m in ops]
    return FhirResponse(capability(routes, PARAMS, state.settings.public_url,
                                   state.settings.today()))


@router.get("/StructureDefinition/forecast-bands")
def bands(state: State) -> FhirResponse:
    """The forecast-bands extension's definition, at its canonical URL."""
    return FhirResponse(bands_definition(state.settings.public_url))


def _letter(item_method: str, e: Any) -> str:
    if item_method == "DELETE":
        return "d"
    if isinstance(e, EntryIn) and e.retract:
        return "u"
    return "u" if item_method == "PUT" else "c"


def _scoped(plan: ImportPlan, who: Caller) -> None:
    """Entries the caller's scopes do not allow: problems (403) of their own."""
    for item in plan.items:
        if item.type in WRITES and not item.problems and (item.action or item.method ==
                                                          "DELETE"):
            try:
                who.need(str(item.type), _letter(item.method, item.action), write=True)
            except FhirError as exc:
                item.problems, item.status = list(exc.problems), 403


def apply(state: Any, who: Caller, plan: ImportPlan, route: str,
          then: Callable[[Session, dict[str, Any]], Any] | None = None
          ) -> tuple[dict[str, Any], Any]:
    """Store a read plan in one short transaction; the response Bundle (and `then`'s result
    in the same transaction)."""
    if who.user.role != Role.therapist:
        raise ForbiddenError(f"a {who.user.role} may not write records through FHIR")
    _scoped(plan, who)
    forecaster = served(state).forecaster
    ctx = Context(who.user.id, state.settings.today(), forecaster.kinds,
                  forecaster.config.covariates.get("age"))
    with state.db.session() as s:
        s.info["route"] = route
        answer, records = store_plan(s, ctx, plan)
        for record in records:
            audit(s, who.user, record, "write")
        s.add_all(s.info.pop("audit", []))
        extra = then(s, answer) if then is not None else None
    return answer, extra


@router.post("", responses={200: {"description": "the transaction- or batch-response"}})
def transaction(state: State, who: CallerDep,
                bundle: Annotated[Any, Body(media_type=FHIR_JSON)]) -> FhirResponse:
    """A transaction (all or nothing), batch or collection (entry by entry) Bundle of
    Patients (matched by any identifier), pain Observations and massage or physiotherapy
    Procedures; other resources are skipped with a warning. The response Bundle answers
    each entry in request order."""
    plan = read_bundle(as_json(bundle), fhir_base(state))
    answer, _ = apply(state, who, plan, "POST /fhir")
    return FhirResponse(answer)


@router.get("/Patient/{patient_id}/$everything")
def patient_everything(patient_id: str, state: State, who: CallerDep) -> FhirResponse:
    """The record as a searchset Bundle: Patient, Observations, Procedures, RiskAssessments
    (stored forecasts) and CarePlans (proposed schedules). Read audited."""
    for kind in READS:
        who.need(kind, "r")
    with state.db.reading() as s:
        p = record_for(s, who.who, patient_id)
        doc, record = everything(s, p, fhir_base(state)), p.id
    _audit_read(state, who, [record], "GET /fhir/Patient/{patient_id}/$everything")
    return FhirResponse(doc)


def _audit_read(state: Any, who: Caller, records: list[str], route: str) -> None:
    if not records:
        return
    with state.db.session() as s:
        s.info["route"] = route
        for r in records:
            audit(s, who.user, r, "read")
        s.add_all(s.info.pop("audit", []))


def _reader(kind: str) -> Callable[..., FhirResponse]:
    def read_one(rid: str, state: State, who: CallerDep) -> FhirResponse:
        who.need(kind, "r")
        with state.db.reading() as s:
            doc, record = read(s, who.who, kind, rid, fhir_base(state))
        _audit_read(state, who, [record], f"GET /fhir/{kind}/{{rid}}")
        return FhirResponse(doc)

    read_one.__doc__ = f"One {kind} by id."
    return read_one


def _searcher(kind: str) -> Callable[..., FhirResponse]:
    def search_type(request: Request, state: State, who: CallerDep) -> FhirResponse:
        who.need(kind, "s")
        params: dict[str, list[str]] = {}
        for k, v in request.query_params.multi_items():
            params.setdefault(k, []).append(v)
        with state.db.reading() as s:
            doc = search(s, who.who, kind, params, fhir_base(state))
        records = sorted({e["resource"]["subject"]["reference"].split("/")[-1]
                          if kind != "Patient" else e["resource"]["id"]
                          for e in doc.get("entry", [])})
        _audit_read(state, who, records, f"GET /fhir/{kind}")
        return FhirResponse(doc)

    search_type.__doc__ = f"Search {kind} ({', '.join(PARAMS[kind])}, _count, _since)."
    return search_type


for _kind in READS:
    router.add_api_route(f"/{_kind}/{{rid}}", _reader(_kind), methods=["GET"],
                         name=f"read_{_kind}")
    router.add_api_route(f"/{_kind}", _searcher(_kind), methods=["GET"],
                         name=f"search_{_kind}")
