"""Issue 39: no request may cost more than its share. Dense schedules in every spelling are
refused by arithmetic before anything is expanded; no write lock is held while a body is
validated; work past its time limit stops; ids past 32 bits and NUL characters are answered,
not 500, on both databases; wrong passwords lock only their own (username, address); errors
never echo what was sent; security headers on every response; names refuse line separators;
a guessable secret key is refused."""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from fastapi import HTTPException
from fastapi.dependencies import utils as fastapi_utils
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from recovery.service.api.deps import within
from recovery.service.settings import Settings
from tests.helpers import PASSWORD, Api, running_api

WEEKLY = {"kind": "massage", "every_days": 7, "weeks": 1}
DENSE: dict[str, list[dict[str, Any]]] = {
    "every_days 1e-5": [{"name": "d", "phases": [
        {"kind": "massage", "every_days": 0.00001, "weeks": 156}]}],
    "every_days 1e-7": [{"name": "d", "phases": [
        {"kind": "massage", "every_days": 1e-7, "weeks": 156}]}],
    "every_days 5e-324": [{"name": "d", "phases": [
        {"kind": "massage", "every_days": 5e-324, "weeks": 1}]}],
    "51 phases": [{"name": "d", "phases": [WEEKLY] * 51}],
    "2,600 sessions over phases": [{"name": "d", "phases": [
        {"kind": "massage", "every_days": 0.5, "weeks": 93}] * 2}],
    "13 schedules": [{"name": f"s{i}", "phases": [WEEKLY]} for i in range(13)],
}
# each schedule within its own bound, 12 of them over the request's
MANY = [{"name": f"s{i}", "phases": [{"kind": "massage", "every_days": 0.5, "weeks": 150}]}
        for i in range(12)]


def _refused_fast(r: Any, started: float) -> None:
    assert r.status_code == 422, r.text[:500]
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("spelling", list(DENSE))
def test_dense_schedules_are_refused_before_anything_is_expanded(shared_api: Api,
                                                                 spelling: str) -> None:
    c, own = shared_api.client, shared_api.own
    schedules = DENSE[spelling]
    asks: list[tuple[str, str, dict[str, Any]]] = [
        ("p1", "/v1/forecast", {"schedules": schedules, "horizon_days": 1}),
        ("t1", f"/v1/patients/{own}/forecast", {"schedules": schedules, "horizon_days": 1})]
    if len(schedules) == 1:
        asks += [("t1", f"/v1/patients/{own}/explain", {"schedule": schedules[0],
                                                        "horizon_days": 1}),
                 ("t1", f"/v1/patients/{own}/plans", {"schedule": schedules[0]})]
    for who, url, body in asks:
        t0 = time.perf_counter()
        _refused_fast(c.post(url, headers=shared_api.as_(who), json=body), t0)
    assert c.get(f"/v1/patients/{own}/plans", headers=shared_api.as_("t1")).json() == []


def test_sessions_are_bounded_per_request_too(shared_api: Api) -> None:
    t0 = time.perf_counter()
    r = shared_api.client.post("/v1/forecast", headers=shared_api.as_("p1"),
                               json={"schedules": MANY, "horizon_days": 1, "draws": 100})
    _refused_fast(r, t0)
    assert "sessions in all, over the limit of 10,000 a request" in r.text


def _writer_waits(url: str) -> bool:
    """Whether another connection would wait to write now (a write transaction is open)."""
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.split("///", 1)[1], timeout=0, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            con.close()
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                              "current_database() AND pid <> pg_backend_pid() AND state = "
                              "'idle in transaction'")).scalar_one()
    engine.dispose()
    return bool(n)


def test_no_write_transaction_is_open_while_a_body_is_validated(
        shared_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    validate = fastapi_utils.request_body_to_args

    async def checking(*args: Any, **kwargs: Any) -> Any:
        seen.append(await anyio.to_thread.run_sync(_writer_waits,
                                                   shared_api.settings.database_url))
        return await validate(*args, **kwargs)

    monkeypatch.setattr(fastapi_utils, "request_body_to_args", checking)
    c, own = shared_api.client, shared_api.own
    asks = [("t1", "PATCH", f"/v1/patients/{own}", {"name": "Own"}),
            ("t1", "POST", f"/v1/patients/{own}/scores", [{"day": 1, "score": 5}]),
            ("t1", "POST", f"/v1/patients/{own}/forecast", {"schedules": [{"name": "none"}],
                                                            "horizon_days": 7, "draws": 100}),
            ("p1", "POST", "/v1/forecast", {"schedules": [{"name": "none"}], "horizon_days": 7,
                                            "draws": 100}),
            ("t1", "POST", "/v1/me/password", {"current_password": "wrong password",
                                               "new_password": "another long one"})]
    for who, method, url, body in asks:
        r = c.request(method, url, headers=shared_api.as_(who), json=body)
        assert r.status_code < 500, r.text
    assert seen == [False] * len(asks), seen


def _alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "model-work" and t.is_alive()]


def test_work_past_its_time_limit_really_stops() -> None:
    steps: list[int] = []

    def forever() -> None:
        while True:
            steps.append(1)
            sum(range(1000))

    with pytest.raises(HTTPException) as refused:
        within(0.2, forever)
    assert refused.value.status_code == 503
    done = len(steps)
    time.sleep(0.3)
    assert len(steps) == done  # it stopped, and not only its answer
    assert not _alive()


def test_a_forecast_past_its_time_limit_stops(shared_api: Api) -> None:
    settings, c = shared_api.settings, shared_api.client
    before = settings.forecast_seconds
    settings.forecast_seconds = 0.05
    try:
        r = c.post(f"/v1/patients/{shared_api.own}/forecast", headers=shared_api.as_("t1"),
                   json={"schedules": [{"name": "weekly_taper"}], "horizon_days": 1095,
                         "draws": 5000})
    finally:
        settings.forecast_seconds = before
    assert r.status_code == 503, r.text
    deadline = time.monotonic() + 5
    while _alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive()


def test_ids_past_32_bits_are_answered_on_every_database(shared_api: Api) -> None:
    c, root = shared_api.client, shared_api.as_("root")
    for uid in (2**31, 2**40, 2**63 - 1):
        assert c.patch(f"/v1/users/{uid}", headers=root, json={"active": False}
                       ).status_code == 404
        assert c.delete(f"/v1/users/{uid}", headers=root).status_code == 404
        r = c.get("/v1/audit", headers=root, params={"user_id": uid})
        assert r.status_code == 200
        assert r.json() == []
        r = c.post("/v1/fhir-clients", headers=root, json={
            "client_id": f"clinic-{uid}", "name": "Clinic", "therapist_id": uid,
            "jwks": {"keys": []}})
        assert 400 <= r.status_code < 500, r.text


@pytest.mark.parametrize(("who", "url"), [
    ("t1", "/v1/patients/%00"), ("t1", "/v1/patients/a%00b/history"),
    ("t1", "/v1/patients/%00/plans"), ("a1", "/v1/jobs/%00"), ("a1", "/v1/models/%00"),
    ("t1", "/fhir/Patient/%00/$everything"), ("root", "/v1/audit?patient_id=%00"),
    ("a1", "/v1/jobs/x?flag=%00"),
])
def test_nul_in_a_path_or_query_is_422(shared_api: Api, who: str, url: str) -> None:
    r = shared_api.client.get(url, headers=shared_api.as_(who))
    assert r.status_code == 422, r.text


def test_nul_in_a_sign_in_or_a_body_is_422(shared_api: Api) -> None:
    c = shared_api.client
    r = c.post("/v1/token", data={"username": "t1\x00", "password": PASSWORD})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "username"]
    r = c.post(f"/v1/patients/{shared_api.own}/account", headers=shared_api.as_("t1"),
               json={"username": "someone", "password": "a\x00long password"})
    assert r.status_code == 422, r.text
    r = c.post("/v1/users", headers=shared_api.as_("root"), json={
        "username": "nul.user", "password": PASSWORD, "role": "therapist",
        "patient_id": "\x00"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "patient_id"]


def test_wrong_passwords_lock_only_their_username_from_their_address(settings: Settings
                                                                      ) -> None:
    with running_api(settings.model_copy(update={"login_max_failures": 3})) as api:
        app = api.client.app
        here = TestClient(app, client=("198.51.100.7", 40000))
        there = TestClient(app, client=("203.0.113.8", 40000))

        def sign_in(c: TestClient, name: str, password: str = PASSWORD) -> int:
            return c.post("/v1/token", data={"username": name, "password": password}
                          ).status_code

        assert [sign_in(here, "t1", f"guess {i}") for i in range(4)] == [401, 401, 401, 429]
        assert sign_in(here, "t1") == 429  # locked, even with the right password, from here
        assert sign_in(there, "t1") == 200  # the rightful user elsewhere still signs in
        for name in ("t2", "a1", "root", "nobody"):  # many failures from one address ...
            assert [sign_in(here, name, "wrong") for _ in range(3)] == [401] * 3
        assert sign_in(here, "p1") == 200  # ... lock nobody else behind it
        assert sign_in(api.client, "t1") == 200


ECHO = "<img src=x>"


def test_errors_never_echo_what_was_sent(shared_api: Api) -> None:
    c, t1, a1 = shared_api.client, shared_api.as_("t1"), shared_api.as_("a1")
    own = shared_api.own
    answers = [
        c.get(f"/v1/jobs/{ECHO}", headers=a1), c.get(f"/v1/models/{ECHO}", headers=a1),
        c.post(f"/v1/models/{ECHO}/promote", headers=a1),
        c.get(f"/v1/models/{ECHO}/plots/{ECHO}", headers=a1),
        c.post("/v1/fits", headers=a1, json={"cohort_id": ECHO}),
        c.get(f"/v1/patients/{ECHO}", headers=t1),
        c.delete(f"/v1/patients/{own}/plans/{ECHO}", headers=t1),
        c.delete(f"/v1/patients/{own}/scores/{ECHO}", headers=t1),
        c.get(f"/v1/patients/{own}/forecasts/{ECHO}/outcome", headers=t1),
        c.post("/v1/forecast", headers=t1, json={"schedules": [{"name": "<script>x</script>"}]}),
        c.post("/v1/forecast", headers=t1, json={"schedules": [{"name": ECHO}, {"name": ECHO}]}),
        c.post("/v1/forecast", headers=t1, json={"schedules": [{"name": ECHO, "session_days": [
            900]}], "horizon_days": 7}),
        c.post(f"/v1/patients/{own}/sessions", headers=t1, json=[{"day": 1, "kind": "reiki"}]),
    ]
    for r in answers:
        assert 400 <= r.status_code < 500, r.text
        assert not any(sent in r.text for sent in ("<img", "<script>", "reiki")), r.text
    root = shared_api.as_("root")
    c.post("/v1/users", headers=root, json={"username": "echo.me", "password": PASSWORD,
                                            "role": "therapist"})
    r = c.post("/v1/users", headers=root, json={"username": "echo.me", "password": PASSWORD,
                                                "role": "therapist"})
    assert r.status_code == 409
    assert "echo.me" not in r.text
    assert "username" in r.text


HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
           "referrer-policy": "no-referrer"}


def test_security_headers_on_every_response(shared_api: Api) -> None:
    c, t1 = shared_api.client, shared_api.as_("t1")
    answers = [c.get("/healthz"), c.get("/v1/nothing-here"), c.get("/v1/me"),
               c.get("/v1/me", headers=t1), c.get("/v1/patients/%00", headers=t1),
               c.post("/v1/patients", headers=t1, content=b'{"name": NaN}'),
               c.post("/v1/patients", headers=t1, content=b"x" * 3_000_000),
               c.get("/openapi.json"), c.get("/fhir/metadata")]
    assert [r.status_code for r in answers] == [200, 404, 401, 200, 422, 422, 413, 200, 200]
    for r in answers:
        assert {k: r.headers.get(k) for k in HEADERS} == HEADERS, r.headers
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
    docs = c.get("/docs")
    assert docs.status_code == 200
    assert "script-src 'self' 'unsafe-inline'" in docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\u0085", "\u009b", "\x7f", "\r"])
def test_names_refuse_line_separators_and_controls(shared_api: Api, sep: str) -> None:
    c, t1 = shared_api.client, shared_api.as_("t1")
    name = f"Ann{sep}=HYPERLINK(1)"
    r = c.post("/v1/patients", headers=t1, json={"name": name})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "name"]
    r = c.post(f"/v1/patients/{shared_api.own}/plans", headers=t1, json={
        "schedule": {"name": name, "phases": [WEEKLY]}})
    assert r.status_code == 422
    r = c.post("/v1/fhir-clients", headers=shared_api.as_("root"), json={
        "client_id": "clinic-x", "name": name, "therapist_id": 1, "jwks": {"keys": []}})
    assert r.status_code == 422
    assert ["body", "name"] in [d["loc"] for d in r.json()["detail"]]
    r = c.post("/v1/cohorts", headers=shared_api.as_("a1"), data={"name": name}, files={
        t: (f"{t}.csv", b"x\n") for t in ("patients", "sessions", "pain")})
    assert r.status_code == 422
    assert ["body", "name"] in [d["loc"] for d in r.json()["detail"]]


def test_csv_exports_escape_line_separators() -> None:
    from recovery.dashboard.views import spreadsheet_safe

    for sep in ("\u2028", "\u2029", "\u0085", "\r", "\n"):
        cell = spreadsheet_safe(f"a{sep}b")
        assert cell == "a b", repr(cell)
    assert spreadsheet_safe("\u2028=1").startswith("'")


@pytest.mark.parametrize("key", [" " * 32, "ab" * 16, "abcdefg" * 5, "0123456" * 6])
def test_a_secret_key_with_too_little_entropy_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="too little entropy") as refused:
        Settings(secret_key=key)  # type: ignore[arg-type]
    assert key not in str(refused.value)


@pytest.mark.parametrize("make", [lambda: secrets.token_urlsafe(32),
                                  lambda: secrets.token_hex(32)])
def test_a_random_secret_key_is_taken(make: Callable[[], str]) -> None:
    for _ in range(50):
        Settings(secret_key=make())  # type: ignore[arg-type]


def test_one_budget_bounds_every_model_route_without_refusing_what_worked() -> None:
    from pydantic import ValidationError

    from recovery.model.requests import (
        MAX_DRAW_DAYS,
        BookingRequest,
        ExplainRequest,
        OptimiseRequest,
        within_budget,
    )

    OptimiseRequest(draws=1000, horizon_days=399)  # the old per-candidate limit, exactly
    BookingRequest(draws=5000, window_days=730, follow_days=182)  # booking's worst
    with pytest.raises(ValueError, match="over the limit of 25,600,000"):
        within_budget(MAX_DRAW_DAYS + 1)
    with pytest.raises(ValidationError, match="over the limit of 2,500 sessions"):
        ExplainRequest.model_validate({"schedule": DENSE["every_days 1e-7"][0]})
