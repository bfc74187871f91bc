"""When the pain began is part of the record: kept, corrected, refused in the future, and
what the forecast's natural course runs from (both databases)."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import CLOCK, Api


def _record(api: Api, pain_since: str | None) -> str:
    body: dict[str, object] = {"name": "Onset", "covariates": {"chronic": 0, "age": 40},
                               "start_date": (CLOCK - timedelta(days=20)).isoformat()}
    if pain_since is not None:
        body["pain_since"] = pain_since
    r = api.client.post("/v1/patients", json=body, headers=api.as_("t1"))
    assert r.status_code == 201, r.text
    assert r.json()["pain_since"] == pain_since
    return str(r.json()["id"])


def _untreated_fall(api: Api, pid: str) -> float:
    """Expected pain on the horizon's first day minus its last, with no care."""
    c, h = api.client, api.as_("t1")
    c.post(f"/v1/patients/{pid}/scores", headers=h, json={"scores": [
        {"day": d, "score": 7, "client_id": f"s{d}"} for d in range(0, 20, 2)]})
    r = c.post(f"/v1/patients/{pid}/forecast", headers=h, json={
        "schedules": [{"name": "none"}], "horizon_days": 84, "draws": 500})
    assert r.status_code == 200, r.text
    mean = r.json()["forecasts"][0]["mean"]
    return float(mean[0] - mean[-1])


def test_pain_since_is_kept_and_the_natural_course_runs_from_it(shared_api: Api) -> None:
    """The same diary, the same covariates: pain of two years is forecast to fall less on
    its own than a new episode's (the natural course runs from onset)."""
    old = _record(shared_api, (CLOCK - timedelta(days=730)).isoformat())
    new = _record(shared_api, (CLOCK - timedelta(days=27)).isoformat())
    assert _untreated_fall(shared_api, new) > _untreated_fall(shared_api, old) + 0.3


def test_pain_since_is_refused_in_the_future_and_can_be_corrected(shared_api: Api) -> None:
    c, h = shared_api.client, shared_api.as_("t1")
    r = c.post("/v1/patients", headers=h, json={
        "name": "Later", "pain_since": (CLOCK + timedelta(days=1)).isoformat()})
    assert r.status_code == 422
    assert "pain_since" in r.text
    assert (CLOCK + timedelta(days=1)).isoformat() not in r.text  # the value is not echoed
    pid = _record(shared_api, None)
    since = (CLOCK - timedelta(days=100)).isoformat()
    r = c.patch(f"/v1/patients/{pid}", headers=h, json={"pain_since": since})
    assert r.status_code == 200, r.text
    assert c.get(f"/v1/patients/{pid}", headers=h).json()["pain_since"] == since
