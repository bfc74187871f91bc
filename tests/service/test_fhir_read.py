"""FHIR read and search as a client uses them: Patient by id and by identifier, scores and
sessions by patient and date with _count paging and _since, forecasts and plans by patient;
a CapabilityStatement that claims only routes that answer; OperationOutcomes for every
refusal under /fhir; JSON or 406; absolute fullUrls; the bands extension's definition served
at its URL. Every answer passes fhir.resources and the R4 JSON schema."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from tests.helpers import Api, fhir_r4_problems

BASE = "http://testserver/fhir"


def valid(doc: dict[str, Any]) -> dict[str, Any]:
    assert fhir_r4_problems(doc) == [], doc
    get_fhir_model_class(doc["resourceType"]).model_validate(doc)
    for e in doc.get("entry", []):
        if "resource" in e:
            assert fhir_r4_problems(e["resource"]) == []
    return doc


@pytest.fixture(scope="module")
def loaded(shared_api: Api) -> tuple[Api, str]:
    """A record with 6 scores, 2 sessions, a forecast and a plan."""
    c, h = shared_api.client, shared_api.as_("t1")
    entries = [{"fullUrl": "urn:uuid:r", "resource": {
        "resourceType": "Patient", "name": [{"text": "Read Me"}],
        "identifier": [{"system": "urn:read", "value": "R-1"},
                       {"system": "urn:other", "value": "O|1"}]},
        "request": {"method": "POST", "url": "Patient"}}]
    for d in range(6):
        entries.append({"resource": {
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
            "subject": {"reference": "urn:uuid:r"}, "effectiveDateTime": f"2026-02-{10 + d}",
            "valueInteger": 8 - d}, "request": {"method": "POST", "url": "Observation"}})
    for d in (11, 14):
        entries.append({"resource": {
            "resourceType": "Procedure", "status": "completed",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "387854002"}]},
            "subject": {"reference": "urn:uuid:r"}, "performedDateTime": f"2026-02-{d}"},
            "request": {"method": "POST", "url": "Procedure"}})
    made = c.post("/fhir", headers=h, json={"resourceType": "Bundle", "type": "transaction",
                                            "entry": entries})
    assert made.status_code == 200, made.text
    pid = made.json()["entry"][0]["response"]["location"].split("/")[1]
    assert c.post(f"/v1/patients/{pid}/forecast", headers=h, json={
        "schedules": [{"name": "none"}], "horizon_days": 28, "draws": 300}).status_code == 200
    assert c.post(f"/v1/patients/{pid}/plans", headers=h, json={"schedule": {
        "name": "weekly", "phases": [{"kind": "massage", "every_days": 7, "weeks": 4}]}}
    ).status_code == 201
    return shared_api, pid


def get(api: Api, url: str, who: str = "t1", **params: Any) -> dict[str, Any]:
    r = api.client.get(url, headers=api.as_(who), params=params or None)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    return valid(r.json())


def test_patient_read_and_search_by_any_identifier(loaded: tuple[Api, str]) -> None:
    api, pid = loaded
    p = get(api, f"/fhir/Patient/{pid}")
    assert {"system": "urn:other", "value": "O|1"} in p["identifier"]
    for token in ("urn:read|R-1", "urn:other|O\\|1", "R-1"):
        found = get(api, "/fhir/Patient", identifier=token)
        assert [e["resource"]["id"] for e in found["entry"]] == [pid], token
        assert found["entry"][0]["fullUrl"] == f"{BASE}/Patient/{pid}"
    assert get(api, "/fhir/Patient", identifier="urn:read|R-2")["total"] == 0
    assert get(api, "/fhir/Patient", who="t2", identifier="urn:read|R-1")["total"] == 0


def test_scores_by_patient_and_date_paged_by_count(loaded: tuple[Api, str]) -> None:
    api, pid = loaded
    first = get(api, "/fhir/Observation", patient=pid, date=["ge2026-02-11", "le2026-02-14"],
                _count=3)
    assert first["total"] == 4
    assert [e["resource"]["effectiveDateTime"] for e in first["entry"]] == [
        "2026-02-11", "2026-02-12", "2026-02-13"]
    following = next(x["url"] for x in first["link"] if x["relation"] == "next")
    assert following.startswith(BASE + "/Observation?")
    rest = get(api, following.removeprefix("http://testserver"))
    assert [e["resource"]["valueInteger"] for e in rest["entry"]] == [4]
    assert not any(x["relation"] == "next" for x in rest["link"])
    sessions = get(api, "/fhir/Procedure", subject=f"Patient/{pid}")
    assert [e["resource"]["performedDateTime"] for e in sessions["entry"]] == [
        "2026-02-11", "2026-02-14"]
    assert get(api, "/fhir/Observation", patient=pid, _since="2999-01-01T00:00:00Z"
               )["total"] == 0
    assert get(api, "/fhir/Observation", patient=pid, _since="2000-01-01T00:00:00Z"
               )["total"] == 6
    one = get(api, f"/fhir/Observation/{first['entry'][0]['resource']['id']}")
    assert one["valueInteger"] == 7


def test_forecasts_and_plans_are_searchable_and_readable(loaded: tuple[Api, str]) -> None:
    api, pid = loaded
    risks = get(api, "/fhir/RiskAssessment", patient=pid)
    (risk,) = [e["resource"] for e in risks["entry"]]
    assert 0 <= risk["prediction"][0]["probabilityDecimal"] <= 100  # R4: a percentage
    url = risk["prediction"][0]["extension"][0]["url"]
    assert url == "http://testserver/fhir/StructureDefinition/forecast-bands"
    definition = get(api, url.removeprefix("http://testserver"))
    assert definition["url"] == url
    assert get(api, f"/fhir/RiskAssessment/{risk['id']}")["id"] == risk["id"]
    plans = get(api, "/fhir/CarePlan", patient=pid)
    assert plans["total"] == 1
    everything = get(api, f"/fhir/Patient/{pid}/$everything")
    assert all(e["fullUrl"].startswith(BASE + "/") for e in everything["entry"])


def test_the_capability_statement_claims_what_answers(loaded: tuple[Api, str]) -> None:
    api, pid = loaded
    meta = valid(api.client.get("/fhir/metadata").json())
    rest = meta["rest"][0]
    smart = rest["security"]["extension"][0]
    assert smart["url"].endswith("/oauth-uris")
    assert smart["extension"][0]["valueUri"] == "http://testserver/fhir/auth/token"
    claims = {r["type"]: {i["code"] for i in r["interaction"]} for r in rest["resource"]}
    assert claims["Patient"] >= {"read", "search-type", "create", "update"}
    assert claims["Observation"] >= {"read", "search-type", "create", "update", "delete"}
    ids = {"Patient": pid, "Observation": "score-1", "Procedure": "session-1"}
    for kind, codes in claims.items():  # each claimed read and search answers (not 404/405)
        if "search-type" in codes:
            assert api.client.get(f"/fhir/{kind}", headers=api.as_("t1")).status_code == 200
        if "read" in codes and kind in ids:
            r = api.client.get(f"/fhir/{kind}/{ids[kind]}", headers=api.as_("t1"))
            assert r.status_code in (200, 404), kind
            assert r.status_code == 200 or r.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(("method", "url", "status"), [
    ("GET", "/fhir/Patient/nobody", 404), ("GET", "/fhir/Banana", 404),
    ("GET", "/fhir/Observation/score-999999", 404), ("DELETE", "/fhir/Patient/x", 405),
    ("GET", "/fhir/Observation?colour=red", 400), ("GET", "/fhir/Observation?_count=9999", 422),
    ("GET", "/fhir/Observation?date=yesterday", 422),
])
def test_every_refusal_under_fhir_is_an_operation_outcome(shared_api: Api, method: str,
                                                          url: str, status: int) -> None:
    r = shared_api.client.request(method, url, headers=shared_api.as_("t1"))
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert valid(r.json())["resourceType"] == "OperationOutcome"


def test_unsigned_and_oversized_requests_are_operation_outcomes_too(shared_api: Api) -> None:
    r = shared_api.client.get("/fhir/Patient")
    assert r.status_code == 401
    assert valid(r.json())["issue"][0]["code"] == "login"
    big = shared_api.client.post("/fhir", headers=shared_api.as_("t1"),
                                 content=b" " * (shared_api.settings.max_body_bytes + 1))
    assert big.status_code == 413
    assert valid(big.json())["issue"][0]["code"] == "too-costly"


def test_json_is_served_and_other_formats_are_406(shared_api: Api) -> None:
    c, h = shared_api.client, shared_api.as_("t1")
    for ok in ({"_format": "json"}, {"_format": "application/fhir+json"}):
        assert c.get("/fhir/metadata", params=ok).status_code == 200
    assert c.get("/fhir/metadata", headers={"Accept": "application/fhir+json"}
                 ).status_code == 200
    for params, headers in (({"_format": "xml"}, {}),
                            ({}, {"Accept": "application/fhir+xml"})):
        r = c.get("/fhir/Patient", params=params, headers={**h, **headers})
        assert r.status_code == 406
        assert r.json()["resourceType"] == "OperationOutcome"


def test_a_patient_login_reads_only_its_own_record_and_writes_nothing(
        loaded: tuple[Api, str]) -> None:
    api, pid = loaded
    own = get(api, f"/fhir/Patient/{api.own}", who="p1")
    assert own["id"] == api.own
    r = api.client.get(f"/fhir/Patient/{pid}", headers=api.as_("p1"))
    assert r.status_code == 404
    made = api.client.post("/fhir", headers=api.as_("p1"), json={
        "resourceType": "Bundle", "type": "batch", "entry": []})
    assert made.status_code == 403
    assert made.json()["issue"][0]["code"] == "forbidden"
    assert api.client.get("/fhir/Patient", headers=api.as_("a1")).status_code == 403
