"""What the FHIR routes offer, generated from the routes that exist (the CapabilityStatement,
with the SMART security extension), and the StructureDefinition of the forecast-bands
extension, served at its canonical URL."""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.structuredefinition import StructureDefinition

from recovery.service.fhir.codes import BANDS_PATH

__all__ = ["bands_definition", "capability"]

SMART = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
SECURITY = "http://terminology.hl7.org/CodeSystem/restful-security-service"
QUANTILES = ("q5", "q25", "q50", "q75", "q95")


def _interactions(routes: list[tuple[str, str]]) -> dict[str, set[str]]:
    """(method, path) of the /fhir routes as interactions per resource type."""
    out: dict[str, set[str]] = {}
    for method, path in routes:
        parts = path.removeprefix("/fhir").strip("/").split("/")
        if not parts[0] or not parts[0][0].isupper() or parts[0] == "StructureDefinition":
            continue
        code = {("GET", 1): "search-type", ("POST", 1): "create", ("GET", 2): "read",
                ("PUT", 2): "update", ("DELETE", 2): "delete"}.get((method, len(parts)))
        if len(parts) == 3 and parts[2].startswith("$"):
            code = "op:" + parts[2][1:]
        if code:
            out.setdefault(parts[0], set()).add(code)
    return out


def capability(routes: list[tuple[str, str]], params: dict[str, tuple[str, ...]],
               public_url: str, today: date) -> dict[str, Any]:
    """The CapabilityStatement of these routes ((method, path) pairs) and search params."""
    kinds = _interactions(routes)
    resources = []
    for kind in sorted(kinds):
        entry: dict[str, Any] = {"type": kind, "interaction": [
            {"code": c} for c in sorted(kinds[kind]) if not c.startswith("op:")]}
        if "update" in kinds[kind]:
            entry |= {"updateCreate": True, "conditionalUpdate": True}
        entry["searchParam"] = [{"name": n, "type": _param_type(n)} for n in params.get(
            kind, ())]
        ops = [c[3:] for c in kinds[kind] if c.startswith("op:")]
        if ops:
            entry["operation"] = [{"name": o, "definition": "http://hl7.org/fhir/"
                                   f"OperationDefinition/{kind}-{o}"} for o in ops]
        resources.append(entry)
    rest_interactions = [{"code": c} for c in ("transaction", "batch")
                         if ("POST", "/fhir") in routes]
    doc = {"resourceType": "CapabilityStatement", "status": "active", "date": str(today),
           "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"],
           "implementation": {"description": "Recovery: pain forecasts under massage and "
                                             "physiotherapy schedules",
                              "url": f"{public_url}/fhir"},
           "rest": [{"mode": "server", "security": _security(public_url),
                     "interaction": rest_interactions, "resource": resources}]}
    CapabilityStatement.model_validate(doc)
    return doc


def _param_type(name: str) -> str:
    return {"identifier": "token", "_id": "token", "date": "date"}.get(name, "reference")


def _security(public_url: str) -> dict[str, Any]:
    return {"service": [{"coding": [{"system": SECURITY, "code": "SMART-on-FHIR"}]}],
            "description": "SMART backend services (client_credentials with a signed "
                           "private_key_jwt assertion; system/ scopes), or a therapist's "
                           "bearer token from POST /v1/token",
            "extension": [{"url": SMART, "extension": [
                {"url": "token", "valueUri": f"{public_url}/fhir/auth/token"}]}]}


def _element(path: str, eid: str, **more: Any) -> dict[str, Any]:
    return {"id": eid, "path": path, **more}


def _sub(parent_id: str, parent_path: str, name: str, value_type: str, low: int
         ) -> list[dict[str, Any]]:
    eid, path = f"{parent_id}.extension:{name}", f"{parent_path}.extension"
    return [_element(path, eid, sliceName=name, min=low, max="1"),
            _element(f"{path}.url", f"{eid}.url", fixedUri=name),
            _element(f"{path}.value[x]", f"{eid}.value[x]", min=1,
                     type=[{"code": value_type}])]


def bands_definition(public_url: str) -> dict[str, Any]:
    """The forecast-bands extension: a point a week, each with its day and the forecast's
    5/25/50/75/95 % quantiles of the pain score."""
    url = public_url + BANDS_PATH
    slicing = {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"}
    point, point_path = "Extension.extension:point", "Extension.extension"
    elements = [
        _element("Extension", "Extension", short="Forecast bands",
                 definition="The forecast's quantiles of the 0-10 pain score, a point a "
                            "week"),
        _element("Extension.extension", "Extension.extension", slicing=slicing),
        _element(point_path, point, sliceName="point", min=0, max="*"),
        _element(f"{point_path}.extension", f"{point}.extension", slicing=slicing),
        *_sub(point, point_path, "day", "date", 1),
        *(e for q in QUANTILES for e in _sub(point, point_path, q, "decimal", 0)),
        _element(f"{point_path}.url", f"{point}.url", fixedUri="point"),
        _element(f"{point_path}.value[x]", f"{point}.value[x]", max="0"),
        _element("Extension.url", "Extension.url", fixedUri=url),
        _element("Extension.value[x]", "Extension.value[x]", max="0")]
    doc = {"resourceType": "StructureDefinition", "id": "forecast-bands", "url": url,
           "name": "ForecastBands", "title": "Recovery forecast bands", "status": "active",
           "fhirVersion": "4.0.1", "kind": "complex-type", "abstract": False,
           "context": [{"type": "element", "expression": "RiskAssessment.prediction"}],
           "type": "Extension",
           "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
           "derivation": "constraint", "differential": {"element": elements}}
    StructureDefinition.model_validate(doc)
    return doc
