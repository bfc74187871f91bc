"""Authorization matrix: every route x every role x own/other's record, with the status each
must get. Nobody reads a record that is not theirs (404 hides whether it exists)."""

from __future__ import annotations

from typing import Any

import pytest

from recovery.service.app import create_app
from tests.helpers import Api, history_request

OK = {200, 201, 202}
ROLES = ("t1", "p1", "a1", "root", None)  # therapist (owns `own`), patient of `own`, ...
FORECAST = {"schedules": [{"name": "none"}], "horizon_days": 14, "draws": 200}
SCORE = {"scores": [{"day": 1, "score": 5, "client_id": "m1"}]}
SESSION = {"sessions": [{"day": 1, "kind": "massage", "client_id": "m1"}]}
OPT = {"horizon_days": 14, "draws": 200}

# (method, path, body, {role: expected}); {rec} is the own or the other patient's id.
RECORD_ROUTES: list[tuple[str, str, Any, dict[str | None, int]]] = [
    ("GET", "/v1/patients/{rec}", None, {"t1": 200, "p1": 200}),
    ("GET", "/v1/patients/{rec}/history", None, {"t1": 200, "p1": 200}),
    ("GET", "/v1/patients/{rec}/entries", None, {"t1": 200, "p1": 200}),
    ("PATCH", "/v1/patients/{rec}", {"covariates": {"stress": 5}}, {"t1": 200}),
    ("POST", "/v1/patients/{rec}/scores", SCORE, {"t1": 200, "p1": 200}),
    ("POST", "/v1/patients/{rec}/sessions", SESSION, {"t1": 200}),
    ("POST", "/v1/patients/{rec}/forecast", FORECAST, {"t1": 200, "p1": 200}),
    ("GET", "/v1/patients/{rec}/forecasts", None, {"t1": 200, "p1": 200}),
    ("POST", "/v1/patients/{rec}/optimise", OPT, {"t1": 200, "p1": 200}),
    ("POST", "/v1/patients/{rec}/explain", {"horizon_days": 14, "draws": 200},
     {"t1": 200, "p1": 200}),
    ("POST", "/v1/patients/{rec}/booking", {"window_days": 14, "draws": 200},
     {"t1": 200, "p1": 200}),
    ("POST", "/v1/patients/{rec}/frontier", OPT, {"t1": 200, "p1": 200}),
]
# Roles without access to the record: 401 when signed out; 403 where the role may never use
# the route; 404 where the role may use it for its own records.
ROLE_BARRED = {("POST", "/v1/patients/{rec}/sessions"): {"p1", "a1", "root"},
               ("PATCH", "/v1/patients/{rec}"): {"p1", "a1", "root"}}

OTHER_ROUTES: list[tuple[str, str, Any, dict[str | None, int]]] = [
    ("GET", "/v1/me", None, {"t1": 200, "p1": 200, "a1": 200, "root": 200, None: 401}),
    ("GET", "/v1/patients", None, {"t1": 200, "p1": 200, "a1": 403, "root": 403, None: 401}),
    ("POST", "/v1/patients", {"name": "New"},
     {"t1": 201, "p1": 403, "a1": 403, "root": 403, None: 401}),
    ("POST", "/v1/forecast", history_request(draws=200),
     {"t1": 200, "p1": 200, "a1": 200, "root": 200, None: 401}),
    ("GET", "/v1/users", None, {"t1": 403, "p1": 403, "a1": 403, "root": 200, None: 401}),
    ("POST", "/v1/users", {"username": "newbie", "password": "long enough pw", "role": "analyst"},
     {"t1": 403, "p1": 403, "a1": 403, "root": 201, None: 401}),
    ("GET", "/v1/cohorts", None, {"t1": 403, "p1": 403, "a1": 200, "root": 403, None: 401}),
    ("GET", "/v1/jobs", None, {"t1": 403, "p1": 403, "a1": 200, "root": 403, None: 401}),
    ("GET", "/v1/models", None, {"t1": 403, "p1": 403, "a1": 200, "root": 403, None: 401}),
    ("GET", "/v1/monitor", None, {"t1": 403, "p1": 403, "a1": 200, "root": 403, None: 401}),
    ("POST", "/v1/fits", {"cohort_id": "none"},
     {"t1": 403, "p1": 403, "a1": 404, "root": 403, None: 401}),
]


def _call(shared_api: Api, who: str | None, method: str, path: str, body: Any) -> int:
    headers = shared_api.as_(who) if who else {}
    return shared_api.client.request(method, path, json=body, headers=headers).status_code


def _expected_for_record(route: tuple[str, str], who: str | None, owner_ok: dict, own: bool
                         ) -> int:
    if who is None:
        return 401
    if who in ROLE_BARRED.get(route, set()) or who == "root":  # admins: only with a reason
        return 403
    if own and who in owner_ok:
        return owner_ok[who]
    return 404


@pytest.mark.parametrize("who", ROLES)
def test_record_routes(shared_api: Api, who: str | None) -> None:
    failures = []
    for method, path, body, owner_ok in RECORD_ROUTES:
        for own, rec in ((True, shared_api.own), (False, shared_api.other)):
            want = _expected_for_record((method, path), who, owner_ok, own)
            got = _call(shared_api, who, method, path.format(rec=rec), body)
            if (got in OK) != (want in OK) or (want not in OK and got != want):
                failures.append(f"{who} {method} {path} own={own}: {got}, expected {want}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("who", ROLES)
def test_other_routes(shared_api: Api, who: str | None) -> None:
    failures = []
    for method, path, body, expected in OTHER_ROUTES:
        got = _call(shared_api, who, method, path, body)
        if got != expected[who]:
            failures.append(f"{who} {method} {path}: {got}, expected {expected[who]}")
    assert not failures, "\n".join(failures)


def test_lists_show_only_ones_own_patients(shared_api: Api) -> None:
    c = shared_api.client
    t1 = c.get("/v1/me", headers=shared_api.as_("t1")).json()["id"]
    listed = c.get("/v1/patients", headers=shared_api.as_("t1")).json()
    assert shared_api.own in [p["id"] for p in listed]
    assert all(p["therapist_id"] == t1 for p in listed)
    for who, rec in (("t2", shared_api.other), ("p1", shared_api.own)):
        ids = [p["id"] for p in c.get("/v1/patients", headers=shared_api.as_(who)).json()]
        assert ids == [rec], who


def test_patient_cannot_read_another_patients_forecasts(shared_api: Api) -> None:
    r = shared_api.client.post(f"/v1/patients/{shared_api.other}/forecast", json=FORECAST,
                        headers=shared_api.as_("t2"))
    assert r.status_code == 200
    assert shared_api.client.get(f"/v1/patients/{shared_api.other}/forecasts",
                          headers=shared_api.as_("p1")).status_code == 404


def test_every_route_is_in_the_matrix(shared_api: Api) -> None:
    """A new route must be added to the matrix before it can ship."""
    app = create_app(shared_api.settings)
    routes = {(m, r.path) for r in app.routes for m in getattr(r, "methods", ())
              if r.path.startswith("/v1/")}
    covered = {(m, p) for m, p, _, _ in RECORD_ROUTES + OTHER_ROUTES}
    covered |= {("POST", "/v1/token"), ("GET", "/v1/jobs/{job_id}"), ("POST", "/v1/cohorts"),
                ("GET", "/v1/models/{model_id}"), ("POST", "/v1/models/{model_id}/promote"),
                ("POST", "/v1/optimise"), ("GET", "/v1/models/{model_id}/plots/{name}")}
    covered = {(m, p.replace("{rec}", "{patient_id}")) for m, p in covered}
    assert routes <= covered, routes - covered


@pytest.mark.parametrize("path", ["/v1/jobs/x", "/v1/models/x", "/v1/models/x/promote"])
@pytest.mark.parametrize("who", ["t1", "p1", "root"])
def test_analyst_routes_refuse_other_roles(shared_api: Api, path: str, who: str) -> None:
    method = "POST" if path.endswith("promote") else "GET"
    assert _call(shared_api, who, method, path, None) == 403


def test_account_refusals_name_the_field(api: Api) -> None:
    """Record logic raises a domain FieldError; the API answers 422 in FastAPI's shape."""
    body = {"username": "staff1", "password": "long enough pw", "role": "therapist",
            "patient_id": api.own}
    r = api.client.post("/v1/users", json=body, headers=api.as_("root"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "patient_id"]
    r = api.client.post("/v1/users", json=body | {"role": "patient"}, headers=api.as_("root"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "role"]
    r = api.client.post("/v1/users", json=body | {"username": "t1", "patient_id": None},
                        headers=api.as_("root"))
    assert r.status_code == 409, r.text
