"""FHIR's single-resource writes: create (POST), update by id or conditionally by identifier
(PUT, creating when nothing matches) and delete (DELETE) of Patients, Observations and
Procedures, each run as a one-entry transaction through the Bundle reader, so a resource
sent alone is read by the same rules as in a Bundle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Body, Request, Response
from sqlalchemy.orm import Session

from recovery.service.api.deps import State
from recovery.service.api.routes.fhir import (
    FHIR_JSON,
    CallerDep,
    FhirResponse,
    apply,
    as_json,
    fhir_base,
    router,
)
from recovery.service.fhir.inbound import read_bundle
from recovery.service.fhir.problems import FhirError
from recovery.service.fhir.search import Who, read

__all__ = ["router"]

Resource = Annotated[Any, Body(media_type=FHIR_JSON)]


def _one(state: Any, who: Any, kind: str, entry: dict[str, Any], route: str) -> Response:
    """A one-entry transaction: the stored resource read back (201 with its Location when
    made), or the entry's problems named at the resource's own paths."""
    if "resource" in entry:
        entry["resource"] = as_json(entry["resource"])
    plan = read_bundle({"resourceType": "Bundle", "type": "transaction", "entry": [entry]},
                       fhir_base(state))
    item = plan.items[0]
    if item.warning and not item.problems:
        raise FhirError([(kind, item.warning)], 422, "not-supported")

    def back(s: Session, answer: dict[str, Any]) -> tuple[str, str | None, Any]:
        response = answer["entry"][0]["response"]
        location = response.get("location")
        if not location:
            return response["status"], None, None
        kind_, rid = location.split("/")
        doc = read(s, Who(therapist=who.user.id), kind_, rid, fhir_base(state))[0]
        return response["status"], location, doc

    try:
        _, (status, location, doc) = apply(state, who, plan, route, then=back)
    except FhirError as exc:
        raise FhirError([(w.replace("Bundle.entry[0].resource", kind).replace(
            "Bundle.entry[0]", kind), m) for w, m in exc.problems], exc.status,
            exc.code) from None
    if doc is None:
        return Response(status_code=204)
    code = int(status.split()[0])
    headers = {"Location": f"{fhir_base(state)}/{location}"} if code == 201 else {}
    return FhirResponse(doc, code, headers)


def _creator(kind: str) -> Callable[..., Response]:
    def create(state: State, who: CallerDep, resource: Resource) -> Response:
        return _one(state, who, kind, {"resource": resource,
                                       "request": {"method": "POST", "url": kind}},
                    f"POST /fhir/{kind}")

    create.__doc__ = f"Create a {kind} (the same identifier again updates it)."
    return create


def _updater(kind: str) -> Callable[..., Response]:
    def update(rid: str, state: State, who: CallerDep, resource: Resource) -> Response:
        resource = as_json(resource)
        if isinstance(resource, dict) and resource.get("id") not in (None, rid):
            raise FhirError([(f"{kind}.id", "must be the id in the URL")], 400)
        return _one(state, who, kind, {"resource": resource, "request": {
            "method": "PUT", "url": f"{kind}/{rid}"}}, f"PUT /fhir/{kind}/{{rid}}")

    update.__doc__ = f"Update a {kind} by id (a new id creates it)."
    return update


def _conditional(kind: str) -> Callable[..., Response]:
    def conditional_update(request: Request, state: State, who: CallerDep,
                           resource: Resource) -> Response:
        query = request.url.query
        if not query.startswith("identifier="):
            raise FhirError([(f"{kind}?", "a conditional update names ?identifier="
                                          "system|value")], 400, "not-supported")
        return _one(state, who, kind, {"resource": resource, "request": {
            "method": "PUT", "url": f"{kind}?{query}"}}, f"PUT /fhir/{kind}")

    conditional_update.__doc__ = f"Update the {kind} with this identifier, or create it."
    return conditional_update


def _deleter(kind: str) -> Callable[..., Response]:
    def remove(rid: str, state: State, who: CallerDep) -> Response:
        return _one(state, who, kind, {"request": {"method": "DELETE",
                                                   "url": f"{kind}/{rid}"}},
                    f"DELETE /fhir/{kind}/{{rid}}")

    remove.__doc__ = f"Retract a {kind} (204 whether or not it was stored)."
    return remove


for _kind in ("Patient", "Observation", "Procedure"):
    router.add_api_route(f"/{_kind}", _creator(_kind), methods=["POST"],
                         name=f"create_{_kind}", status_code=201)
    router.add_api_route(f"/{_kind}/{{rid}}", _updater(_kind), methods=["PUT"],
                         name=f"update_{_kind}")
    router.add_api_route(f"/{_kind}", _conditional(_kind), methods=["PUT"],
                         name=f"conditional_update_{_kind}")
for _kind in ("Observation", "Procedure"):
    router.add_api_route(f"/{_kind}/{{rid}}", _deleter(_kind), methods=["DELETE"],
                         name=f"delete_{_kind}", status_code=204)
