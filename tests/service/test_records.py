"""Records in calendar dates, plans shared with the patient, past forecasts against what
happened, and records that hold sessions of a kind the served model no longer knows."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from recovery.service.db import Database
from recovery.service.tables import Patient, SessionRow
from tests.helpers import CLOCK, Api


def _new_record(api: Api, start: date | None = None) -> str:
    body: dict[str, object] = {"name": "Dated", "covariates": {"age": 52, "structural_cause": True}}
    if start is not None:
        body["start_date"] = start.isoformat()
    r = api.client.post("/v1/patients", json=body, headers=api.as_("t1"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_entries_by_date_land_on_the_records_calendar(shared_api: Api) -> None:
    c, h = shared_api.client, shared_api.as_("t1")
    start = CLOCK - timedelta(days=20)
    pid = _new_record(shared_api, start)
    assert c.get(f"/v1/patients/{pid}", headers=h).json()["start_date"] == start.isoformat()
    r = c.post(f"/v1/patients/{pid}/scores", headers=h, json={"scores": [
        {"date": (start + timedelta(days=3)).isoformat(), "score": 6, "client_id": "d3"},
        {"day": 5, "score": 5.0, "client_id": "d5"}]})
    assert r.status_code == 200
    assert r.json()["created"] == 2
    c.post(f"/v1/patients/{pid}/sessions", headers=h, json={"sessions": [
        {"date": start.isoformat(), "kind": "Massage", "client_id": "s0"}]})
    hist = c.get(f"/v1/patients/{pid}/history", headers=h).json()
    assert [p["day"] for p in hist["pain"]] == [3, 5]
    assert hist["sessions"][0]["day"] == 0
    assert hist["start_date"] == start.isoformat()
    assert hist["today"] == 20
    dates = {e["client_id"]: e["date"] for e in
             c.get(f"/v1/patients/{pid}/entries", headers=h).json()}
    assert dates == {"d3": (start + timedelta(days=3)).isoformat(),
                     "d5": (start + timedelta(days=5)).isoformat(), "s0": start.isoformat()}


def test_entries_outside_the_records_calendar_are_refused_by_field(shared_api: Api) -> None:
    c, h = shared_api.client, shared_api.as_("t1")
    start = CLOCK - timedelta(days=10)
    pid = _new_record(shared_api, start)
    both = c.post(f"/v1/patients/{pid}/scores", headers=h, json={"scores": [
        {"day": 3, "date": start.isoformat(), "score": 4, "client_id": "both"}]})
    assert both.status_code == 422
    assert both.json()["detail"][0]["loc"] == ["body", "scores", 0]
    assert "either day" in both.json()["detail"][0]["msg"]
    bad = c.post(f"/v1/patients/{pid}/scores", headers=h, json={"scores": [
        {"day": 2, "score": 4, "client_id": "ok"},
        {"date": (start - timedelta(days=1)).isoformat(), "score": 4, "client_id": "early"},
        {"day": 400, "score": 4, "client_id": "late"}]})
    msgs = {tuple(d["loc"]): d["msg"] for d in bad.json()["detail"]}
    assert "before this record's start" in msgs[("body", "scores", 1, "date")]
    assert "in the future: today is day 10" in msgs[("body", "scores", 2, "day")]
    assert c.get(f"/v1/patients/{pid}/history", headers=h).json()["pain"] == []  # none stored
    future = c.post("/v1/patients", headers=h, json={
        "name": "Later", "start_date": (CLOCK + timedelta(days=3)).isoformat()})
    assert future.status_code == 422
    assert future.json()["detail"][0]["loc"] == [
        "body", "start_date"]


def test_the_catalogue_lists_kinds_presets_in_words_covariates_and_prices(
        shared_api: Api) -> None:
    cat = shared_api.client.get("/v1/catalogue", headers=shared_api.as_("p1")).json()
    assert cat["kinds"] == ["massage", "physio"]
    assert cat["currency"] == "EUR"
    words = {p["name"]: p["words"] for p in cat["presets"]}
    assert words["recovery_then_stop"] == "twice a week for 6 weeks, then stop"
    assert words["stop_start"] == "weekly for 4 weeks, then a 6-week break, repeated"
    assert cat["covariates"]["age"]["high"] == 120
    assert cat["prices"]["physio"] == 75.0


def test_a_plan_the_therapist_saves_is_offered_to_the_patient(shared_api: Api) -> None:
    c, own = shared_api.client, shared_api.own
    plan = {"schedule": {"name": "fortnightly", "phases": [
        {"kind": "physio", "every_days": 14, "weeks": 12}]}, "note": "Fits your shifts."}
    made = c.post(f"/v1/patients/{own}/plans", json=plan, headers=shared_api.as_("t1"))
    assert made.status_code == 201, made.text
    assert c.post(f"/v1/patients/{own}/plans", json=plan,
                  headers=shared_api.as_("p1")).status_code == 403  # patients read plans only
    odd = {"schedule": {"name": "x", "phases": [{"kind": "reiki", "every_days": 7, "weeks": 2}]}}
    refused = c.post(f"/v1/patients/{own}/plans", json=odd, headers=shared_api.as_("t1"))
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "schedule", "phases", 0, "kind"]
    assert "unknown session kind" in refused.json()["detail"][0]["msg"]  # never the value sent
    seen = c.get(f"/v1/patients/{own}/plans", headers=shared_api.as_("p1")).json()
    assert [p["name"] for p in seen] == ["fortnightly"]
    assert seen[0]["note"] == "Fits your shifts."
    assert c.get(f"/v1/patients/{own}/plans", headers=shared_api.as_("t2")).status_code == 404
    r = c.post(f"/v1/patients/{own}/forecast", headers=shared_api.as_("p1"), json={
        "schedules": [seen[0]["schedule"]], "horizon_days": 30, "draws": 200})
    assert r.status_code == 200
    assert r.json()["forecasts"][0]["name"] == "fortnightly"
    gone = c.delete(f"/v1/patients/{own}/plans/{made.json()['id']}",
                    headers=shared_api.as_("t1"))
    assert gone.status_code == 204
    assert c.get(f"/v1/patients/{own}/plans", headers=shared_api.as_("p1")).json() == []


def test_a_past_forecast_is_set_against_the_scores_recorded_since(shared_api: Api) -> None:
    c, h = shared_api.client, shared_api.as_("t1")
    pid = _new_record(shared_api, CLOCK - timedelta(days=60))
    c.post(f"/v1/patients/{pid}/scores", headers=h, json={"scores": [
        {"day": d, "score": 6, "client_id": f"a{d}"} for d in range(20)]})
    r = c.post(f"/v1/patients/{pid}/forecast", headers=h, json={
        "schedules": [{"name": "none"}, {"name": "recovery_then_stop"}], "horizon_days": 30,
        "draws": 200})
    assert r.status_code == 200
    c.post(f"/v1/patients/{pid}/scores", headers=h, json={"scores": [
        {"day": d, "score": 10 if d >= 30 else 6, "client_id": f"b{d}"} for d in range(20, 40)]})
    past = c.get(f"/v1/patients/{pid}/forecasts", headers=h).json()
    got = c.get(f"/v1/patients/{pid}/forecasts/{past[0]['id']}/outcome", headers=h).json()
    assert [a["day"] for a in got["actual"]] == list(range(20, 41)[:len(got["actual"])])
    assert len(got["actual"]) == 20
    assert [s["name"] for s in got["schedules"]] == [
        "none", "recovery_then_stop"]
    none = got["schedules"][0]
    assert 0.0 < none["inside_90"] < 1.0  # the unforeseen jump to 10 falls outside the bands
    assert c.get(f"/v1/patients/{pid}/forecasts/nope/outcome", headers=h).status_code == 404
    assert c.get(f"/v1/patients/{pid}/forecasts/{past[0]['id']}/outcome",
                 headers=shared_api.as_("t2")).status_code == 404


def test_a_record_with_a_kind_the_model_no_longer_knows_is_forecast_without_it(
        shared_api: Api) -> None:
    c, h = shared_api.client, shared_api.as_("t1")
    pid = _new_record(shared_api, CLOCK - timedelta(days=30))
    c.post(f"/v1/patients/{pid}/scores", headers=h, json={"scores": [
        {"day": d, "score": 6, "client_id": f"a{d}"} for d in range(10)]})
    db = Database(shared_api.settings.database_url)
    with db.session() as s:  # as an older model's record would hold it
        s.add(SessionRow(patient_id=pid, day=2.0, kind="acupuncture", client_id="old"))
        assert s.scalars(select(Patient.id).where(Patient.id == pid)).one() == pid
    db.close()
    hist = c.get(f"/v1/patients/{pid}/history", headers=h).json()
    assert hist["sessions"] == []
    assert "'acupuncture'" in hist["left_out"][0]
    r = c.post(f"/v1/patients/{pid}/forecast", headers=h, json={
        "schedules": [{"name": "none"}], "horizon_days": 14, "draws": 200})
    assert r.status_code == 200, r.text
    assert "1 'acupuncture' session(s) left out" in r.json()["notes"][0]
    assert c.delete(f"/v1/patients/{pid}/sessions/old", headers=h).status_code == 204
