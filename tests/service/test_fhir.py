"""FHIR R4 in and out: a clinic's transaction Bundle through a real FHIR client (fhirpy)
over real HTTP, the record back as a Bundle every resource of which fhir.resources accepts,
and refused Bundles that store nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome as ClientOutcome
from sqlalchemy import select

from recovery.service.db import Database
from recovery.service.settings import Settings
from recovery.service.tables import Patient
from tests.helpers import ROOT, Api, fhir_r4_problems
from tests.live import Server, add_user, token

EXAMPLE = ROOT / "examples" / "fhir" / "transaction.json"


def _example() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return doc


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_a_clinics_bundle_round_trips_through_a_fhir_client(settings: Settings,
                                                             tmp_path: Path) -> None:
    add_user(settings, "clinic", "long password 1", "therapist")
    server = Server(settings, tmp_path / "server.log").start()
    try:
        auth = token(server.url, "clinic", "long password 1")["Authorization"]
        client = SyncFHIRClient(f"{server.url}/fhir", authorization=auth)
        made = client.execute("", method="post", data=_example())
        assert made["type"] == "transaction-response"
        statuses = [e["response"]["status"] for e in made["entry"]]
        assert statuses == ["201 Created"] * 6
        pid = made["entry"][0]["response"]["location"].split("/")[1]
        again = client.execute("", method="post", data=_example())
        assert [e["response"]["status"] for e in again["entry"]] == ["200 OK"] * 6

        out = client.execute(f"Patient/{pid}/$everything", method="get")
        Bundle.model_validate(out)
        assert fhir_r4_problems(out) == []
        assert fhir_r4_problems(_example()) == []  # the example is valid R4 too
        patient = _resources(out, "Patient")[0]
        assert {"system": "urn:oid:1.2.36.146.595.217.0.1", "value": "MRN-4471"} in patient[
            "identifier"]
        scores = {(o["effectiveDateTime"][:10], o["valueInteger"])
                  for o in _resources(out, "Observation")}
        assert scores == {("2026-01-05", 7), ("2026-01-08", 6), ("2026-01-12", 5)}
        sessions = {(p["performedDateTime"][:10], p["code"]["coding"][0]["code"])
                    for p in _resources(out, "Procedure")}
        assert sessions == {("2026-01-06", "387854002"), ("2026-01-13", "91251008")}
        record = client.resource("Patient", **patient)  # the client reads what we wrote
        assert record.get_by_path(["identifier", 1, "value"]) == "MRN-4471"
        bad = _example()
        bad["entry"][1]["resource"]["valueInteger"] = 12
        with pytest.raises(ClientOutcome) as refused:  # refusals read as OperationOutcomes
            client.execute("", method="post", data=bad)
        assert "value[x]" in str(refused.value)
    finally:
        server.stop()


def test_forecasts_and_plans_come_out_as_risk_assessments_and_care_plans(api: Api) -> None:
    c, h = api.client, api.as_("t1")
    fhir_h = {**h, "Content-Type": "application/fhir+json"}
    made = c.post("/fhir", headers=fhir_h, content=EXAMPLE.read_bytes())
    assert made.status_code == 200, made.text
    assert made.headers["content-type"].startswith("application/fhir+json")
    pid = made.json()["entry"][0]["response"]["location"].split("/")[1]
    r = c.post(f"/v1/patients/{pid}/forecast", headers=h, json={
        "schedules": [{"name": "recovery_then_stop"}, {"name": "none"}], "horizon_days": 56,
        "target_score": 3, "draws": 300})
    assert r.status_code == 200, r.text
    assert c.post(f"/v1/patients/{pid}/plans", headers=h, json={
        "schedule": {"name": "every other week", "phases": [
            {"kind": "massage", "every_days": 14, "weeks": 12}]},
        "note": "Every other Friday."}).status_code == 201
    out = c.get(f"/fhir/Patient/{pid}/$everything", headers=h).json()
    Bundle.model_validate(out)
    assert fhir_r4_problems(out) == []
    (risk,) = _resources(out, "RiskAssessment")
    assert risk["method"]["coding"][0]["code"] == r.json()["model_version"]
    assert [p["probabilityDecimal"] for p in risk["prediction"]] == [  # R4: a percentage
        round(100 * f["summary"]["p_target_at_horizon"], 2) for f in r.json()["forecasts"]]
    points = risk["prediction"][0]["extension"][0]["extension"]
    days = r.json()["forecasts"][0]["days"]
    assert len(points) == len(days[::7])  # a point a week
    assert [x["url"] for x in points[0]["extension"]] == ["day", "q5", "q25", "q50", "q75",
                                                          "q95"]
    (plan,) = _resources(out, "CarePlan")
    assert (plan["status"], plan["intent"], plan["description"]) == (
        "draft", "proposal", "Every other Friday.")
    repeat = plan["activity"][0]["detail"]["scheduledTiming"]["repeat"]
    assert (repeat["period"], repeat["periodUnit"]) == (14, "d")
    assert c.get(f"/fhir/Patient/{pid}/$everything", headers=api.as_("t2")).status_code == 404


BAD: list[tuple[str, Any, str]] = [
    ("a score of 11", lambda b: b["entry"][1]["resource"].update(valueInteger=11),
     "Bundle.entry[1].resource.value[x]"),
    ("an unknown subject", lambda b: b["entry"][4]["resource"]["subject"].update(
        reference="Patient/elsewhere"), "Bundle.entry[4].resource.subject"),
    ("a patient without identifier", lambda b: b["entry"][0]["resource"].pop("identifier"),
     "Bundle.entry[0].resource.identifier"),
    ("a field FHIR does not have", lambda b: b["entry"][1]["resource"].update(score=3),
     "Bundle.entry[1].resource.score"),
    ("a searchset", lambda b: b.update(type="searchset"), "Bundle.type"),
    ("a score next year", lambda b: b["entry"][3]["resource"].update(
        effectiveDateTime="2027-06-01"), "Bundle.entry[3].resource"),
]


@pytest.mark.parametrize(("what", "spoil", "where"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_bundle_is_refused_whole_with_an_operation_outcome(
        shared_api: Api, what: str, spoil: Any, where: str) -> None:
    bundle = copy.deepcopy(_example())
    bundle["entry"][0]["resource"]["identifier"] = [{"system": "urn:test", "value": what}]
    bundle["entry"][3]["resource"]["subject"]["reference"] = f"Patient?identifier=urn:test|{what}"
    spoil(bundle)
    r = shared_api.client.post("/fhir", headers=shared_api.as_("t1"), json=bundle)
    assert r.status_code == 422, r.text
    issues = OperationOutcome.model_validate(r.json()).issue
    assert fhir_r4_problems(r.json()) == []
    where_all = [x for i in issues for x in (i.expression or [])]
    assert where in where_all, r.json()  # (a patient without identifier: its entries too)
    db = Database(shared_api.settings.database_url)
    with db.session() as s:  # nothing of the Bundle was stored
        assert s.scalars(select(Patient).where(
            Patient.fhir_identifier == f"urn:test|{what}")).first() is None
    db.close()


def test_metadata_and_who_may_import(shared_api: Api) -> None:
    c = shared_api.client
    meta = c.get("/fhir/metadata")
    assert meta.status_code == 200
    assert CapabilityStatement.model_validate(meta.json()).fhirVersion == "4.0.1"
    assert fhir_r4_problems(meta.json()) == []
    broken = {**meta.json(), "status": "kind of"}
    assert fhir_r4_problems(broken)  # the schema does check
    assert c.post("/fhir", headers=shared_api.as_("p1"), json=_example()).status_code == 403
    assert c.post("/fhir", json=_example()).status_code == 401


BULK = ROOT / "examples" / "fhir" / "bulk"


def test_a_bulk_data_export_becomes_a_pseudonymous_cohort(shared_api: Api) -> None:
    c, h = shared_api.client, shared_api.as_("a1")
    files = [("files", (p.name, p.read_bytes(), "application/fhir+ndjson"))
             for p in sorted(BULK.glob("*.ndjson"))]
    r = c.post("/v1/cohorts/fhir", headers=h, files=files, data={"name": "clinic export"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["n_patients"], made["n_scores"], made["n_sessions"]) == (3, 63, 18)
    stored = Path(shared_api.settings.cohorts_dir) / made["id"]
    text = "".join(p.read_text() for p in stored.glob("*.csv"))
    assert "MRN" not in text  # identifiers stay with the clinic
    ages = sorted(pd.read_csv(stored / "patients.csv")["age"])  # at each first entry
    assert ages == [36.8, 50.5, 63.2]
    bad = [(n, (f, b.replace(b'"valueInteger": 5', b'"valueInteger": "five"', 1), t))
           for n, (f, b, t) in files]
    r = c.post("/v1/cohorts/fhir", headers=h, files=bad)
    assert r.status_code == 422
    assert "valueInteger" in r.json()["detail"][0]["msg"]
    lines = [(n, (f, b + b"not json\n" if f == "Procedure.ndjson" else b, t))
             for n, (f, b, t) in files]
    r = c.post("/v1/cohorts/fhir", headers=h, files=lines)
    assert r.status_code == 422
    assert "Procedure.ndjson line 19" in r.json()["detail"][0]["msg"]
    assert c.post("/v1/cohorts/fhir", headers=shared_api.as_("t1"), files=files
                  ).status_code == 403
