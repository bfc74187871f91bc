"""Records that stay right: several scores on one date are kept, warned about and shown; a
record can be removed with everything in it (and its login), audited; a therapist's list says
which patients have a login."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import CLOCK, Api


def _record(api: Api, name: str = "Integrity") -> str:
    start = (CLOCK - timedelta(days=10)).isoformat()
    r = api.client.post("/v1/patients", headers=api.as_("t1"),
                        json={"name": name, "start_date": start, "covariates": {"age": 40}})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_several_scores_on_one_date_are_warned_about_and_all_shown(shared_api: Api) -> None:
    c, h = shared_api.client, shared_api.as_("t1")
    pid = _record(shared_api)
    on = (CLOCK - timedelta(days=2)).isoformat()
    first = c.post(f"/v1/patients/{pid}/scores", headers=h, json={"scores": [
        {"date": on, "score": 7, "client_id": "a"}]}).json()
    assert first["same_day"] == []
    added = c.post(f"/v1/patients/{pid}/scores", headers=h, json={"scores": [
        {"date": on, "score": 7, "client_id": "b"}, {"date": on, "score": 4, "client_id": "c"}]})
    assert added.status_code == 200
    assert added.json()["same_day"] == [{"date": on, "day": 8.0, "scores": [7, 7, 4],
                                         "used": 4}]
    hist = c.get(f"/v1/patients/{pid}/history", headers=h).json()
    assert hist["pain"] == [{"day": 8.0, "score": 4}]  # forecasts use the last entered
    assert hist["same_day"] == added.json()["same_day"]
    c.delete(f"/v1/patients/{pid}/scores/c", headers=h)
    assert c.get(f"/v1/patients/{pid}/history", headers=h).json()["same_day"][0]["scores"] == [
        7, 7]


def test_a_removed_record_takes_its_entries_and_login_and_is_audited(shared_api: Api) -> None:
    c, h = shared_api.client, shared_api.as_("t1")
    pid = _record(shared_api, "To remove")
    c.post(f"/v1/patients/{pid}/scores", headers=h, json={"scores": [{"day": 1, "score": 5}]})
    c.post(f"/v1/patients/{pid}/sessions", headers=h, json={"sessions": [
        {"day": 1, "kind": "massage"}]})
    made = c.post(f"/v1/patients/{pid}/account", headers=h,
                  json={"username": "removed-patient", "password": "a long password"})
    assert made.status_code == 201, made.text
    listed = {p["id"]: p for p in c.get("/v1/patients", headers=h).json()}
    assert listed[pid]["login"] == "removed-patient"
    assert c.delete(f"/v1/patients/{pid}", headers=shared_api.as_("t2")).status_code == 404
    assert c.delete(f"/v1/patients/{pid}", headers=h).status_code == 204
    assert c.get(f"/v1/patients/{pid}", headers=h).status_code == 404
    assert pid not in {p["id"] for p in c.get("/v1/patients", headers=h).json()}
    signed = c.post("/v1/token", data={"username": "removed-patient",
                                       "password": "a long password"})
    assert signed.status_code == 401
    trail = c.get("/v1/audit", headers=shared_api.as_("root"), params={"patient_id": pid})
    assert "delete" in [a["action"] for a in trail.json()]
