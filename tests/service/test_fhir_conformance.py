"""FHIR conformance, case by case, as a clinic's integration engine sends them (issue 41):
corrections replace, retractions delete, entries Recovery cannot take are refused on their own
with an OperationOutcome naming them, entries it does not keep are skipped with a warning, a
batch is answered entry by entry in request order, a transaction all or nothing; patients
are matched by any identifier and references resolve by id or identifier. Each case on SQLite
and PostgreSQL; every answer passes fhir.resources and the R4 JSON schema."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from tests.helpers import Api, fhir_r4_problems

LOINC, SNOMED = "http://loinc.org", "http://snomed.info/sct"
BASE = "http://testserver/fhir"
_n = itertools.count()


def mrn() -> str:
    """An identifier value no other case uses (the module shares one app per database)."""
    return f"MRN-{next(_n)}"


def patient(value: str, full: str = "urn:uuid:p", **more: Any) -> dict[str, Any]:
    return {"fullUrl": full, "resource": {
        "resourceType": "Patient", "identifier": [{"system": "urn:test", "value": value}],
        "name": [{"text": "Ana Silva"}], **more},
        "request": {"method": "PUT", "url": f"Patient?identifier=urn:test|{value}"}}


def score(value: int | None = 5, on: str = "2026-02-20", subject: str = "urn:uuid:p",
          ident: str | None = None, method: str = "POST", url: str = "Observation",
          **more: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Observation", "status": "final",
                         "code": {"coding": [{"system": LOINC, "code": "72514-3"}]},
                         "subject": {"reference": subject}, "effectiveDateTime": on}
    if value is not None:
        r["valueInteger"] = value
    if ident:
        r["identifier"] = [{"system": "urn:obs", "value": ident}]
    return {"resource": {**r, **more}, "request": {"method": method, "url": url}}


def session(code: str = "387854002", on: str = "2026-02-21", status: str = "completed",
            subject: str = "urn:uuid:p") -> dict[str, Any]:
    return {"resource": {"resourceType": "Procedure", "status": status,
                         "code": {"coding": [{"system": SNOMED, "code": code}]},
                         "subject": {"reference": subject}, "performedDateTime": on},
            "request": {"method": "POST", "url": "Procedure"}}


def bundle(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def send(api: Api, doc: dict[str, Any], expect: int = 200) -> dict[str, Any]:
    r = api.client.post("/fhir", headers=api.as_("t1"), json=doc)
    assert r.status_code == expect, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    out: dict[str, Any] = r.json()
    assert fhir_r4_problems(out) == [], out
    if out["resourceType"] == "Bundle":
        Bundle.model_validate(out)
    else:
        OperationOutcome.model_validate(out)
    return out


def statuses(answer: dict[str, Any]) -> list[str]:
    return [e["response"]["status"] for e in answer["entry"]]


def where(doc: dict[str, Any]) -> list[str]:
    """Every expression of an OperationOutcome (or of the outcomes in a response Bundle)."""
    outcomes = [doc] if doc["resourceType"] == "OperationOutcome" else [
        e["response"]["outcome"] for e in doc["entry"] if "outcome" in e["response"]]
    return [x for o in outcomes for i in o["issue"] for x in i.get("expression", [])]


def record(api: Api, value: str) -> tuple[str, list[tuple[str, int]], list[tuple[str, str]]]:
    """The record of the patient with this identifier: its id, scores and sessions."""
    found = api.client.get("/fhir/Patient", params={"identifier": f"urn:test|{value}"},
                           headers=api.as_("t1")).json()
    assert found["total"] == 1, found
    pid = found["entry"][0]["resource"]["id"]
    out = api.client.get(f"/fhir/Patient/{pid}/$everything", headers=api.as_("t1")).json()
    res = [e["resource"] for e in out["entry"]]
    scores = sorted((r["effectiveDateTime"][:10], r["valueInteger"]) for r in res
                    if r["resourceType"] == "Observation")
    sessions = sorted((r["performedDateTime"][:10], r["code"]["coding"][0]["code"])
                      for r in res if r["resourceType"] == "Procedure")
    return pid, scores, sessions


# --- corrections ---------------------------------------------------------------------------

def test_an_amended_score_with_the_same_identifier_replaces_the_old(shared_api: Api) -> None:
    m = mrn()
    send(shared_api, bundle(patient(m), score(7, ident="o1")))
    again = send(shared_api, bundle(patient(m), score(4, ident="o1", status="amended")))
    assert statuses(again) == ["200 OK", "200 OK"]
    assert record(shared_api, m)[1] == [("2026-02-20", 4)]


def test_a_put_by_id_and_a_conditional_update_replace(shared_api: Api) -> None:
    m = mrn()
    made = send(shared_api, bundle(patient(m), score(7, ident="o2")))
    location = made["entry"][1]["response"]["location"]
    assert location.startswith("Observation/score-")
    pid = made["entry"][0]["response"]["location"].split("/")[1]
    send(shared_api, bundle(score(6, subject=f"Patient/{pid}", method="PUT", url=location,
                                  status="corrected")))
    assert record(shared_api, m)[1] == [("2026-02-20", 6)]
    send(shared_api, bundle(score(2, subject=f"Patient/{pid}", method="PUT",
                                  url="Observation?identifier=urn:obs|o2")))
    assert record(shared_api, m)[1] == [("2026-02-20", 2)]


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_entered_in_error_and_cancelled_retract_a_stored_score(shared_api: Api,
                                                              status: str) -> None:
    m = mrn()
    send(shared_api, bundle(patient(m), score(7, ident="o3"), score(5, on="2026-02-21")))
    send(shared_api, bundle(patient(m), score(7, ident="o3", status=status)))
    assert record(shared_api, m)[1] == [("2026-02-21", 5)]


def test_a_delete_request_retracts_and_never_creates(shared_api: Api) -> None:
    m = mrn()
    made = send(shared_api, bundle(patient(m), score(7), score(3, on="2026-02-22")))
    location = made["entry"][1]["response"]["location"]
    gone = send(shared_api, bundle({"request": {"method": "DELETE", "url": location}},
                                   {"request": {"method": "DELETE",
                                                "url": "Observation?identifier=urn:obs|none"}}))
    assert statuses(gone) == ["204 No Content", "204 No Content"]
    assert record(shared_api, m)[1] == [("2026-02-22", 3)]


def _quantity(entry: dict[str, Any], quantity: dict[str, Any]) -> None:
    entry["resource"].pop("valueInteger")
    entry["resource"]["valueQuantity"] = quantity


REFUSED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("a < comparator", lambda e: _quantity(e, {"value": 4, "comparator": "<"}),
     "valueQuantity.comparator"),
    ("a % unit", lambda e: _quantity(e, {"value": 40, "unit": "%", "code": "%",
                                         "system": "http://unitsofmeasure.org"}),
     "valueQuantity.code"),
    ("an unknown modifierExtension", lambda e: e["resource"].update(modifierExtension=[
        {"url": "http://example.org/not-really", "valueBoolean": True}]), "modifierExtension"),
    ("a month, not a day", lambda e: e["resource"].update(effectiveDateTime="2026-02"),
     "effective[x]"),
    ("a score of 11", lambda e: e["resource"].update(valueInteger=11), "value[x]"),
    ("a field FHIR does not have", lambda e: e["resource"].update(score=3), "score"),
    ("a score next year", lambda e: e["resource"].update(effectiveDateTime="2027-06-01"),
     "resource"),
    ("an unknown record", lambda e: e["resource"]["subject"].update(
        reference="Patient/elsewhere"), "subject"),
]


@pytest.mark.parametrize(("what", "spoil", "path"), REFUSED, ids=[r[0] for r in REFUSED])
def test_an_entry_recovery_must_not_store_is_refused_on_its_own(
        shared_api: Api, what: str, spoil: Callable[[dict[str, Any]], None], path: str
        ) -> None:
    m = mrn()
    bad = score(3, on="2026-02-19")
    spoil(bad)
    answer = send(shared_api, bundle(patient(m), score(5), bad, kind="batch"))
    assert answer["type"] == "batch-response"
    assert statuses(answer)[:2] == ["201 Created", "201 Created"]
    assert statuses(answer)[2].startswith("4"), what
    assert any(x.startswith("Bundle.entry[2]") and x.endswith(path) for x in where(answer))
    assert record(shared_api, m)[1] == [("2026-02-20", 5)]
    # in a transaction the same entry refuses the whole Bundle, and nothing is stored
    n = mrn()
    refused = send(shared_api, bundle(patient(n), score(5), bad), expect=int(
        statuses(answer)[2][:3]))
    assert any(x.endswith(path) for x in where(refused))
    found = shared_api.client.get("/fhir/Patient", params={"identifier": f"urn:test|{n}"},
                                  headers=shared_api.as_("t1")).json()
    assert found["total"] == 0


SKIPPED: list[tuple[str, dict[str, Any]]] = [
    ("a Practitioner", {"resource": {"resourceType": "Practitioner", "name": [{"text": "Dr"}]},
                        "request": {"method": "POST", "url": "Practitioner"}}),
    ("an Encounter", {"resource": {"resourceType": "Encounter", "status": "finished",
                                   "class": {"code": "AMB"}},
                      "request": {"method": "POST", "url": "Encounter"}}),
    ("a body weight", score(72, code={"coding": [{"system": LOINC, "code": "29463-7"}]})),
    ("a registered score", score(4, status="registered")),
    ("no value", score(None, dataAbsentReason={"text": "asked, no answer"})),
    ("exercise therapy", session(code="229065009")),
    ("stretching", session(code="229070002")),
    ("a session not done", session(status="not-done")),
    ("a session in progress", session(status="in-progress")),
]


@pytest.mark.parametrize(("what", "entry"), SKIPPED, ids=[s[0] for s in SKIPPED])
def test_what_recovery_does_not_keep_is_skipped_with_a_warning(
        shared_api: Api, what: str, entry: dict[str, Any]) -> None:
    m = mrn()
    answer = send(shared_api, bundle(patient(m), entry, score(5)))
    assert statuses(answer) == ["201 Created", "200 OK", "201 Created"], what
    issue = answer["entry"][1]["response"]["outcome"]["issue"][0]
    assert issue["severity"] == "warning"
    assert issue["expression"] == ["Bundle.entry[1]"]
    assert record(shared_api, m)[1:] == ([("2026-02-20", 5)], [])


def test_other_codes_dates_and_statuses_that_are_read(shared_api: Api) -> None:
    m = mrn()
    period = score(None, effectivePeriod={"start": "2026-02-10T08:00:00+01:00",
                                          "end": "2026-02-10T09:00:00+01:00"},
                   valueInteger=6)
    period["resource"].pop("effectiveDateTime")
    other_code = score(4, on="2026-02-11",
                       code={"coding": [{"system": LOINC, "code": "38208-5"}]})
    quantity = score(None, on="2026-02-12", valueQuantity={
        "value": 3, "system": "http://unitsofmeasure.org", "code": "{score}"})
    send(shared_api, bundle(patient(m, birthDate="1984"), period, other_code, quantity))
    assert record(shared_api, m)[1] == [("2026-02-10", 6), ("2026-02-11", 4),
                                        ("2026-02-12", 3)]


def test_a_score_is_on_the_senders_local_day(shared_api: Api) -> None:
    """The service's today is 2026-02-27 (UTC); just after midnight in New Zealand it is
    the 28th there: taken, and stored on the 28th."""
    m = mrn()
    send(shared_api, bundle(patient(m), score(5, on="2026-02-28T00:30:00+13:00"),
                            score(6, on="2026-02-26T23:30:00-05:00")))
    assert record(shared_api, m)[1] == [("2026-02-26", 6), ("2026-02-28", 5)]


def test_two_identical_same_day_scores_are_both_kept_and_a_resend_adds_none(
        shared_api: Api) -> None:
    m = mrn()
    doc = bundle(patient(m), score(5), score(5))
    assert statuses(send(shared_api, doc)) == ["201 Created"] * 3
    assert statuses(send(shared_api, doc)) == ["200 OK"] * 3
    assert record(shared_api, m)[1] == [("2026-02-20", 5), ("2026-02-20", 5)]


# --- batch, transaction, collection ---------------------------------------------------------

def test_a_batch_answers_each_entry_in_request_order(shared_api: Api) -> None:
    m = mrn()
    answer = send(shared_api, bundle(
        score(9, on="2026-02-01"), patient(m), {"request": {"method": "GET", "url": "Patient"}},
        {"request": {"method": "DELETE", "url": f"Patient?identifier=urn:test|{m}"}},
        score(4, on="2026-02-02"), kind="batch"))
    assert answer["type"] == "batch-response"
    assert statuses(answer) == ["201 Created", "201 Created", "405 Method Not Allowed",
                                "405 Method Not Allowed", "201 Created"]
    assert record(shared_api, m)[1] == [("2026-02-01", 9), ("2026-02-02", 4)]


def test_a_collection_is_read_entry_by_entry(shared_api: Api) -> None:
    m = mrn()
    entries = [{k: v for k, v in e.items() if k != "request"}
               for e in (patient(m), score(5), session())]
    answer = send(shared_api, bundle(*entries, kind="collection"))
    assert answer["type"] == "batch-response"
    assert record(shared_api, m)[1:] == ([("2026-02-20", 5)], [("2026-02-21", "387854002")])


def test_a_document_bundle_is_refused_naming_its_type(shared_api: Api) -> None:
    out = send(shared_api, bundle(kind="document"), expect=422)
    assert where(out) == ["Bundle.type"]


# --- matching and references ----------------------------------------------------------------

def test_a_patient_is_matched_by_any_of_its_identifiers(shared_api: Api) -> None:
    m = mrn()
    first = patient(m)
    first["resource"]["identifier"].append({"system": "urn:nhs", "value": f"N{m}"})
    send(shared_api, bundle(first, score(5)))
    other = patient("ignored")
    other["resource"]["identifier"] = [{"system": "urn:nhs", "value": f"N{m}"}]
    other["request"] = {"method": "POST", "url": "Patient"}
    answer = send(shared_api, bundle(other, score(3, on="2026-02-21")))
    assert statuses(answer)[0] == "200 OK"
    assert record(shared_api, m)[1] == [("2026-02-20", 5), ("2026-02-21", 3)]


def test_identifiers_are_compared_as_system_and_value(shared_api: Api) -> None:
    m = mrn()
    a = patient(m)
    a["resource"]["identifier"] = [{"system": f"urn:{m}|b", "value": "c"}]
    a["request"] = {"method": "POST", "url": "Patient"}
    b = patient(m)
    b["resource"]["identifier"] = [{"system": f"urn:{m}", "value": "b|c"}]
    b["request"] = {"method": "POST", "url": "Patient"}
    one = send(shared_api, bundle(a))["entry"][0]["response"]
    two = send(shared_api, bundle(b))["entry"][0]["response"]
    assert (one["status"], two["status"]) == ("201 Created", "201 Created")
    assert one["location"] != two["location"]


def test_references_to_stored_records_by_id_identifier_and_absolute_url(shared_api: Api
                                                                       ) -> None:
    m = mrn()
    pid = send(shared_api, bundle(patient(m)))["entry"][0]["response"]["location"][8:]
    answer = send(shared_api, bundle(  # the record starts today (2026-02-27)
        score(1, on="2026-02-27", subject=f"Patient/{pid}"),
        score(2, on="2026-02-27", subject=f"Patient?identifier=urn:test|{m}"),
        score(3, on="2026-02-28", subject=f"{BASE}/Patient/{pid}")))
    assert statuses(answer) == ["201 Created"] * 3
    assert [s for _, s in record(shared_api, m)[1]] == [1, 2, 3]
    before = send(shared_api, bundle(score(4, on="2026-02-26", subject=f"Patient/{pid}")),
                  expect=422)
    assert where(before) == ["Bundle.entry[0].resource"]


def test_a_relative_reference_finds_a_patient_with_an_absolute_full_url(shared_api: Api
                                                                       ) -> None:
    m = mrn()
    p = patient(m, full="https://ehr.example/fhir/Patient/123")
    send(shared_api, bundle(p, score(5, subject="Patient/123")))
    assert record(shared_api, m)[1] == [("2026-02-20", 5)]


def test_a_nameless_patient_is_not_named_after_its_identifier(shared_api: Api) -> None:
    m = mrn()
    p = patient(m)
    p["resource"].pop("name")
    send(shared_api, bundle(p))
    pid = record(shared_api, m)[0]
    name = shared_api.client.get(f"/fhir/Patient/{pid}", headers=shared_api.as_("t1")
                                 ).json()["name"][0]["text"]
    assert m not in name


BAD_TEXT = [("a NUL in the identifier", "identifier", [{"system": "urn:test",
                                                         "value": "A\x00B"}]),
            ("a 10,000-character identifier", "identifier", [{"system": "urn:test",
                                                               "value": "9" * 10_000}]),
            ("a control character in the name", "name", [{"text": "Ana\x1bSilva"}]),
            ("a 200-character name", "name", [{"text": "A" * 200}])]


@pytest.mark.parametrize(("what", "field", "value"), BAD_TEXT, ids=[b[0] for b in BAD_TEXT])
def test_names_and_identifiers_follow_the_apis_rules(shared_api: Api, what: str, field: str,
                                                     value: Any) -> None:
    p = patient(mrn())
    p["resource"][field] = value
    p["request"] = {"method": "POST", "url": "Patient"}
    out = send(shared_api, bundle(p), expect=422)
    assert any(f"entry[0].resource.{field}" in x for x in where(out)), what
    assert "\x00" not in str(out)  # the value is not echoed
    assert "9" * 100 not in str(out)


def test_a_utc_time_is_put_on_the_patients_local_day(shared_api: Api) -> None:
    """A New Zealand patient's 23:00 score on the 25th, then one sent in UTC at 11:30Z on
    the 25th (00:30 on the 26th there): the later score is on the later day."""
    m = mrn()
    send(shared_api, bundle(patient(m), score(6, on="2026-02-25T23:00:00+13:00"),
                            score(4, on="2026-02-25T11:30:00Z")))
    assert record(shared_api, m)[1] == [("2026-02-25", 6), ("2026-02-26", 4)]


def test_identifiers_times_and_statuses_come_back_as_sent(shared_api: Api) -> None:
    m = mrn()
    sent = score(3, on="2026-02-20T21:15:00+13:00", ident="kept", status="amended")
    made = send(shared_api, bundle(patient(m), sent, session(on="2026-02-21T08:00:00-05:00")))
    location = made["entry"][1]["response"]["location"]
    back = shared_api.client.get(f"/fhir/{location}", headers=shared_api.as_("t1")).json()
    assert (back["status"], back["effectiveDateTime"], back["identifier"]) == (
        "amended", "2026-02-20T21:15:00+13:00", [{"system": "urn:obs", "value": "kept"}])
    proc = shared_api.client.get(f"/fhir/{made['entry'][2]['response']['location']}",
                                 headers=shared_api.as_("t1")).json()
    assert proc["performedDateTime"] == "2026-02-21T08:00:00-05:00"


def test_a_score_retracted_later_in_the_same_bundle_is_not_stored(shared_api: Api) -> None:
    m = mrn()
    answer = send(shared_api, bundle(patient(m), score(7, ident="twice"),
                                     score(7, ident="twice", status="entered-in-error"),
                                     score(2, on="2026-02-21")))
    assert statuses(answer) == ["201 Created", "200 OK", "200 OK", "201 Created"]
    assert answer["entry"][1]["response"]["outcome"]["issue"][0]["severity"] == "warning"
    assert record(shared_api, m)[1] == [("2026-02-21", 2)]
