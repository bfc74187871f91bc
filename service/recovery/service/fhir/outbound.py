"""A record as FHIR: the Patient, its scores as Observations, its sessions as Procedures,
its stored forecasts as RiskAssessments and its proposed schedules as CarePlans; and the
OperationOutcome and CapabilityStatement of the FHIR routes. Each resource is validated by
fhir.resources' R4B model before it is returned."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from recovery.service.fhir.codes import (
    BANDS_EXTENSION,
    LOINC,
    PAIN_CODE,
    PAIN_DISPLAY,
    RECOVERY,
    SESSION_CODES,
    SESSION_DISPLAY,
    SNOMED,
)
from recovery.service.tables import ForecastRow, PainRow, Patient, PlanRow, SessionRow

__all__ = ["BAND_WEEKS", "capability", "everything", "outcome"]

KIND_CODE = {kind: code for code, kind in SESSION_CODES.items()}
BAND_WEEKS = 7  # the bands extension gives every 7th day of a forecast


def _patient(p: Patient) -> dict[str, Any]:
    ident = [{"system": RECOVERY + "/patient", "value": p.id}]
    if p.fhir_identifier:
        system, value = p.fhir_identifier.split("|", 1)
        ident.append({"system": system, "value": value})
    return {"resourceType": "Patient", "id": p.id, "identifier": ident,
            "name": [{"text": p.name}]}


def _observation(p: Patient, row: PainRow) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": f"score-{row.id}", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": PAIN_CODE, "display": PAIN_DISPLAY}]},
            "subject": {"reference": f"Patient/{p.id}"},
            "effectiveDateTime": str(p.start + timedelta(days=int(row.day))),
            "valueInteger": row.score}


def _procedure(p: Patient, row: SessionRow) -> dict[str, Any]:
    code = KIND_CODE.get(row.kind)
    coding = ([{"system": SNOMED, "code": code, "display": SESSION_DISPLAY[row.kind]}]
              if code else [])
    return {"resourceType": "Procedure", "id": f"session-{row.id}", "status": "completed",
            "code": {"coding": coding, "text": row.kind},
            "subject": {"reference": f"Patient/{p.id}"},
            "performedDateTime": str(p.start + timedelta(days=int(row.day)))}


def _risk(p: Patient, f: ForecastRow) -> dict[str, Any]:
    """One stored forecast: per schedule, the chance of being at or below the target at the
    horizon, and the bands every BAND_WEEKS days in the forecast-bands extension."""
    target = f.request.get("target_score", 3.0)
    predictions = []
    for s in f.response["forecasts"]:
        days = s["days"]
        points = [{"url": "point", "extension": [
            {"url": "day", "valueDate": str(p.start + timedelta(days=int(days[i])))},
            *({"url": f"q{k}", "valueDecimal": v[i]} for k, v in s["quantiles"].items())]}
            for i in range(0, len(days), BAND_WEEKS)]
        predictions.append({
            "outcome": {"text": f"pain score {target:g} or below under '{s['name']}'"},
            "probabilityDecimal": s["summary"]["p_target_at_horizon"],
            "whenPeriod": {"start": str(p.start + timedelta(days=int(days[0]))),
                           "end": str(p.start + timedelta(days=int(days[-1])))},
            "extension": [{"url": BANDS_EXTENSION, "extension": points}]})
    return {"resourceType": "RiskAssessment", "id": f"forecast-{f.id}", "status": "final",
            "subject": {"reference": f"Patient/{p.id}"},
            "occurrenceDateTime": _utc(f.created_at),
            "method": {"coding": [{"system": f"{RECOVERY}/model", "code": f.model_version}],
                       "text": f"Recovery model {f.model_version}"},
            "basis": [{"reference": f"Patient/{p.id}",
                       "display": "the record's scores and sessions up to the forecast"}],
            "prediction": predictions}


def _care_plan(p: Patient, row: PlanRow) -> dict[str, Any]:
    spec = row.spec["schedule"]
    activities = [{"detail": {
        "status": "not-started", "kind": "ServiceRequest",
        "code": _kind_concept(ph.get("kind", "massage")),
        "scheduledTiming": {"repeat": {"frequency": 1, "period": ph["every_days"],
                                       "periodUnit": "d",
                                       "boundsDuration": {"value": ph["weeks"], "unit": "wk",
                                                          "system": "http://unitsofmeasure.org",
                                                          "code": "wk"}}}}}
        for ph in spec.get("phases") or [] if ph.get("every_days")]
    if spec.get("session_days"):
        dates = ", ".join(str(p.start + timedelta(days=int(d))) for d in spec["session_days"])
        activities.append({"detail": {"status": "not-started", "kind": "ServiceRequest",
                                      "code": _kind_concept(spec.get("kind", "massage")),
                                      "scheduledString": dates}})
    out = {"resourceType": "CarePlan", "id": f"plan-{row.id}", "status": "draft",
           "intent": "proposal", "title": row.name, "subject": {"reference": f"Patient/{p.id}"},
           "created": _utc(row.created_at), "activity": activities}
    if row.spec.get("note"):
        out["description"] = row.spec["note"]
    return out


def _kind_concept(kind: str) -> dict[str, Any]:
    code = KIND_CODE.get(kind)
    return {"coding": [{"system": SNOMED, "code": code, "display": SESSION_DISPLAY[kind]}],
            "text": kind} if code else {"text": kind}


def _utc(t: datetime) -> str:
    return t.replace(microsecond=0).isoformat() + "+00:00"  # the tables store naive UTC


def everything(p: Patient, pain: list[PainRow], sessions: list[SessionRow],
               forecasts: list[ForecastRow], plans: list[PlanRow]) -> dict[str, Any]:
    """The record as a searchset Bundle ($everything), every resource validated."""
    resources = [_patient(p), *(_observation(p, r) for r in pain),
                 *(_procedure(p, r) for r in sessions), *(_risk(p, f) for f in forecasts),
                 *(_care_plan(p, r) for r in plans)]
    doc = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
           "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r,
                      "search": {"mode": "match"}} for r in resources]}
    Bundle.model_validate(doc)
    return doc


def outcome(problems: list[tuple[str, str]], code: str = "invalid") -> dict[str, Any]:
    """An OperationOutcome with one error issue per (where, what)."""
    doc = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "diagnostics": what, "expression": [where]}
        for where, what in problems]}
    OperationOutcome.model_validate(doc)
    return doc


def capability(today: date) -> dict[str, Any]:
    """What the FHIR routes offer (GET /fhir/metadata)."""
    doc = {"resourceType": "CapabilityStatement", "status": "active", "date": str(today),
           "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"],
           "implementation": {"description": "Recovery: pain forecasts under massage and "
                                             "physiotherapy schedules"},
           "rest": [{"mode": "server",
                     "security": {"description": "OAuth2 bearer tokens (POST /v1/token); "
                                                 "therapists import and export their patients"},
                     "interaction": [{"code": "transaction"}],
                     "resource": [
                         {"type": "Patient", "interaction": [{"code": "read"}],
                          "operation": [{"name": "everything", "definition":
                                         "http://hl7.org/fhir/OperationDefinition/"
                                         "Patient-everything"}]},
                         {"type": "Observation", "interaction": [{"code": "create"}]},
                         {"type": "Procedure", "interaction": [{"code": "create"}]},
                         {"type": "RiskAssessment"}, {"type": "CarePlan"}]}]}
    CapabilityStatement.model_validate(doc)
    return doc

