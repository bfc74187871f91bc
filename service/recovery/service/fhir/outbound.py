"""A record as FHIR: the Patient, its scores as Observations, its sessions as Procedures,
its stored forecasts as RiskAssessments and its proposed schedules as CarePlans, each in a
searchset Bundle with absolute fullUrls under the server's FHIR base; and OperationOutcomes.
Every resource is validated by fhir.resources' R4B model before it is returned."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from recovery.service.fhir.codes import (
    BANDS_PATH,
    LOINC,
    MODEL_PATH,
    PAIN_CODE,
    PAIN_DISPLAY,
    RECORD_ID_PATH,
    SESSION_CODES,
    SESSION_DISPLAY,
    SNOMED,
    UCUM,
)
from recovery.service.fhir.problems import Problem, capped
from recovery.service.fhir.refs import parse_token
from recovery.service.tables import ForecastRow, PainRow, Patient, PlanRow, SessionRow

__all__ = ["BAND_WEEKS", "outcome", "resource", "searchset"]

KIND_CODE = {kind: code for code, kind in SESSION_CODES.items()}
BAND_WEEKS = 7  # the bands extension gives every 7th day of a forecast


def _root(base: str) -> str:
    """The service's address (the FHIR base without /fhir)."""
    return base.removesuffix("/fhir")


def _patient(p: Patient, base: str, identifiers: list[str]) -> dict[str, Any]:
    ident = [{"system": _root(base) + RECORD_ID_PATH, "value": p.id}]
    for i in identifiers or ([p.fhir_identifier] if p.fhir_identifier else []):
        system, value = parse_token(i)
        ident.append({"system": system or "", "value": value} if system else {"value": value})
    return {"resourceType": "Patient", "id": p.id, "identifier": ident,
            "name": [{"text": p.name}]}


def _as_sent(p: Patient, row: PainRow | SessionRow, statuses: tuple[str, ...]
             ) -> tuple[str, dict[str, Any]]:
    """The entry's date-time and status as a FHIR client sent them (its day and the first
    status otherwise), with its identifiers."""
    source = row.source or {}
    on = str(p.start + timedelta(days=int(row.day)))
    when = source.get("time") if str(source.get("time", ""))[:10] == on else None
    status = source.get("status") if source.get("status") in statuses else statuses[0]
    extra = {"identifier": source["identifier"]} if source.get("identifier") else {}
    return when or on, {"status": status, **extra}


def _observation(p: Patient, row: PainRow, base: str) -> dict[str, Any]:
    when, sent = _as_sent(p, row, ("final", "amended", "corrected", "preliminary"))
    return {"resourceType": "Observation", "id": f"score-{row.id}", **sent,
            "code": {"coding": [{"system": LOINC, "code": PAIN_CODE, "display": PAIN_DISPLAY}]},
            "subject": {"reference": f"Patient/{p.id}"},
            "effectiveDateTime": when, "valueInteger": row.score}


def _procedure(p: Patient, row: SessionRow, base: str) -> dict[str, Any]:
    code = KIND_CODE.get(row.kind)
    coding = ([{"system": SNOMED, "code": code, "display": SESSION_DISPLAY[row.kind]}]
              if code else [])
    when, sent = _as_sent(p, row, ("completed",))
    return {"resourceType": "Procedure", "id": f"session-{row.id}", **sent,
            "code": {"coding": coding, "text": row.kind},
            "subject": {"reference": f"Patient/{p.id}"},
            "performedDateTime": when}


def _risk(p: Patient, f: ForecastRow, base: str) -> dict[str, Any]:
    """One stored forecast: per schedule, the chance of being at or below the target at the
    horizon (as R4 gives it: a percentage, 0-100), and the bands every BAND_WEEKS days in the
    forecast-bands extension (its StructureDefinition served at its URL)."""
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
            "probabilityDecimal": round(100 * s["summary"]["p_target_at_horizon"], 2),
            "whenPeriod": {"start": str(p.start + timedelta(days=int(days[0]))),
                           "end": str(p.start + timedelta(days=int(days[-1])))},
            "extension": [{"url": _root(base) + BANDS_PATH, "extension": points}]})
    return {"resourceType": "RiskAssessment", "id": f"forecast-{f.id}", "status": "final",
            "subject": {"reference": f"Patient/{p.id}"},
            "occurrenceDateTime": _utc(f.created_at),
            "method": {"coding": [{"system": _root(base) + MODEL_PATH,
                                   "code": f.model_version}],
                       "text": f"Recovery model {f.model_version}"},
            "basis": [{"reference": f"Patient/{p.id}",
                       "display": "the record's scores and sessions up to the forecast"}],
            "prediction": predictions}


def _care_plan(p: Patient, row: PlanRow, base: str) -> dict[str, Any]:
    spec = row.spec["schedule"]
    activities = [{"detail": {
        "status": "not-started", "kind": "ServiceRequest",
        "code": _kind_concept(ph.get("kind", "massage")),
        "scheduledTiming": {"repeat": {"frequency": 1, "period": ph["every_days"],
                                       "periodUnit": "d",
                                       "boundsDuration": {"value": ph["weeks"], "unit": "wk",
                                                          "system": UCUM,
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


Row = Patient | PainRow | SessionRow | ForecastRow | PlanRow
_MAKERS: dict[type, Any] = {PainRow: _observation, SessionRow: _procedure,
                            ForecastRow: _risk, PlanRow: _care_plan}


def resource(p: Patient, row: Row, base: str, identifiers: list[str] | None = None
             ) -> dict[str, Any]:
    """One stored row as its FHIR resource (the record itself as a Patient)."""
    if isinstance(row, Patient):
        return _patient(p, base, identifiers or [])
    doc: dict[str, Any] = _MAKERS[type(row)](p, row, base)
    return doc


def searchset(resources: list[dict[str, Any]], base: str, total: int | None = None,
              links: dict[str, str] | None = None) -> dict[str, Any]:
    """Resources as a searchset Bundle with absolute fullUrls, validated."""
    doc: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                           "total": len(resources) if total is None else total}
    if links:
        doc["link"] = [{"relation": k, "url": v} for k, v in links.items()]
    doc["entry"] = [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                     "search": {"mode": "match"}} for r in resources]
    if not doc["entry"]:
        del doc["entry"]
    Bundle.model_validate(doc)
    return doc


def outcome(problems: list[Problem], code: str = "invalid", severity: str = "error"
            ) -> dict[str, Any]:
    """An OperationOutcome with one issue per (where, what), at most MAX_ISSUES of them."""
    doc = {"resourceType": "OperationOutcome", "issue": [
        {"severity": severity, "code": code, "diagnostics": what or "refused",
         **({"expression": [where]} if where else {})} for where, what in capped(problems)]}
    OperationOutcome.model_validate(doc)
    return doc
