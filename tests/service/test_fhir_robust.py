"""FHIR input that used to crash or cost too much (issues 39 and 41): a Bundle is parsed
without SQLite's writer lock, identical Bundles sent at once are idempotent on both
databases, partial dates are mapped or refused, a deep NDJSON line is a 422 naming its line,
and a flood of bad lines gets a short answer."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from recovery.service.api.routes import fhir as fhir_routes
from tests.helpers import Api


def _bundle(value: str, n: int = 20) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [{"fullUrl": "urn:uuid:p", "resource": {
        "resourceType": "Patient", "identifier": [{"system": "urn:race", "value": value}]},
        "request": {"method": "POST", "url": "Patient"}}]
    entries += [{"resource": {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "subject": {"reference": "urn:uuid:p"}, "effectiveDateTime": f"2026-02-{1 + d % 26:02d}",
        "valueInteger": d % 11}, "request": {"method": "POST", "url": "Observation"}}
        for d in range(n)]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def test_a_bundle_is_parsed_without_the_writer_lock(api: Api,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if not api.settings.database_url.startswith("sqlite"):
        pytest.skip("the writer lock is SQLite's")
    path = api.settings.database_url.split("///", 1)[1]
    free: list[bool] = []
    real = fhir_routes.read_bundle

    def probing(doc: Any, base: str = "") -> Any:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once if anyone holds the lock
            other.execute("ROLLBACK")
            free.append(True)
        except sqlite3.OperationalError:
            free.append(False)
        finally:
            other.close()
        return real(doc, base)

    monkeypatch.setattr(fhir_routes, "read_bundle", probing)
    r = api.client.post("/fhir", headers=api.as_("t1"), json=_bundle("lock"))
    assert r.status_code == 200, r.text
    assert free == [True]


def test_identical_bundles_sent_at_once_store_one_record(api: Api) -> None:
    doc = _bundle("same")
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: api.client.post(
            "/fhir", headers=api.as_("t1"), json=doc), range(6)))
    assert [a.status_code for a in answers] == [200] * 6, [a.text[:300] for a in answers]
    locations = {a.json()["entry"][0]["response"]["location"] for a in answers}
    assert len(locations) == 1
    made = sum(e["response"]["status"] == "201 Created" for a in answers
               for e in a.json()["entry"][1:])
    assert made == 20  # each score stored once, whoever stored it
    found = api.client.get("/fhir/Patient", params={"identifier": "urn:race|same"},
                           headers=api.as_("t1")).json()
    assert found["total"] == 1
    scores = api.client.get("/fhir/Observation", params={
        "patient": found["entry"][0]["resource"]["id"], "_count": 100},
        headers=api.as_("t1")).json()
    assert scores["total"] == 20


def _ndjson(*resources: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in resources)


PATIENT = {"resourceType": "Patient", "id": "a", "birthDate": "1984",
           "identifier": [{"system": "urn:bulk", "value": "A"}]}


def _score(on: str, value: int = 5) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
            "subject": {"reference": "Patient/a"}, "effectiveDateTime": on,
            "valueInteger": value}


def _upload(api: Api, files: dict[str, bytes]) -> Any:
    return api.client.post("/v1/cohorts/fhir", headers=api.as_("a1"), files=[
        ("files", (name, data, "application/fhir+ndjson")) for name, data in files.items()])


def test_bulk_partial_dates_deep_lines_and_floods(shared_api: Api) -> None:
    massage = {"resourceType": "Procedure", "status": "completed",
               "code": {"coding": [{"system": "http://snomed.info/sct", "code": "387854002"}]},
               "subject": {"reference": "Patient/a"}, "performedDateTime": "2026-01-03"}
    ok = _upload(shared_api, {"Patient.ndjson": _ndjson(PATIENT), "Procedure.ndjson":
                              _ndjson(massage), "Observation.ndjson":
                              _ndjson(*(_score(f"2026-01-{d:02d}") for d in range(1, 9)))})
    assert ok.status_code == 201, ok.text  # birthDate "1984": a year is an age
    month = _upload(shared_api, {"Patient.ndjson": _ndjson(PATIENT),
                                 "Observation.ndjson": _ndjson(_score("2026-01-02"),
                                                               _score("2026-11"))})
    assert month.status_code == 422
    assert "Observation.ndjson line 2" in month.json()["detail"][0]["msg"]
    deep = b"[" * 5000 + b"]" * 5000
    r = _upload(shared_api, {"Patient.ndjson": _ndjson(PATIENT) + deep + b"\n"})
    assert r.status_code == 422, r.text[:300]
    assert "Patient.ndjson line 2" in r.json()["detail"][0]["msg"]
    flood = b"not json at all\n" * 60_000  # about 1 MB of bad lines
    r = _upload(shared_api, {"Observation.ndjson": flood})
    assert r.status_code == 422
    assert len(r.content) < 20_000
    assert "more problems" in r.json()["detail"][-1]["msg"]
