"""The service under attack and abuse (issue 24's findings, each written to fail on the code
before it): oversized bodies, password guessing, revocation, the paused-worker race, audited
reads, formula injection, malformed numbers, and two server processes on one SQLite file."""

from __future__ import annotations

import csv
import io
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import HTTPException
from sqlalchemy import func, select

from recovery.dashboard.views import forecast_csv
from recovery.engine.refit import RefitResult
from recovery.model import EvaluationReport, load, save
from recovery.service.db import Database
from recovery.service.lockout import locked_for
from recovery.service.settings import Settings
from recovery.service.tables import Job, ModelRow
from recovery.service.throttle import ForecastGate
from recovery.service.worker import LeaseLostError, Worker
from tests.helpers import (
    DEFAULT_MODEL,
    PASSWORD,
    Api,
    history_request,
    queue_jobs,
    running_api,
    service_settings,
)
from tests.live import Server, add_user, health_probe, token


def _sign_in(api: Api, who: str, password: str = PASSWORD) -> httpx.Response:
    return api.client.post("/v1/token", data={"username": who, "password": password})


# 1. Oversized bodies are refused before they are read, and the process stays responsive.
def test_an_oversized_upload_is_refused_at_once_and_health_stays_fast(
        settings: Settings, tmp_path: Path) -> None:
    add_user(settings, "ther", "long password 1", "therapist")
    server = Server(settings, tmp_path / "server.log").start()
    try:
        h = token(server.url, "ther", "long password 1")
        record = {"name": "P", "start_date": "2025-01-01"}
        pid = httpx.post(f"{server.url}/v1/patients", json=record, headers=h).json()["id"]
        row = b'{"day": 1, "score": 5, "client_id": "abcdefghijklmnop"},'
        body = b'{"scores": [' + row * 360_000 + b'{"day": 2, "score": 5, "client_id": "z"}]}'
        assert len(body) > 19_000_000
        url = f"{server.url}/v1/patients/{pid}/scores"
        h_json = {**h, "Content-Type": "application/json"}

        def chunks() -> Any:
            for k in range(0, len(body), 65_536):
                yield body[k:k + 65_536]

        with health_probe(server.url) as health:
            t0 = time.perf_counter()
            declared = httpx.post(url, content=body, headers=h_json, timeout=30)
            took_declared = time.perf_counter() - t0
            t0 = time.perf_counter()
            chunked = httpx.post(url, content=chunks(), headers=h_json, timeout=30)
            took_chunked = time.perf_counter() - t0
        assert declared.status_code == 413, took_declared
        assert took_declared < 1.0, took_declared
        assert chunked.status_code == 413, took_chunked
        assert took_chunked < 1.0, took_chunked
        assert "limit" in chunked.json()["detail"]
        assert health, max(health)
        assert max(health) < 0.2, max(health)
    finally:
        server.stop()


# 2. Password guessing locks the username (and stays cheap for everyone else).
def test_the_eleventh_wrong_sign_in_in_a_minute_is_locked_out(api: Api) -> None:
    for _ in range(10):
        assert _sign_in(api, "t1", "wrong password").status_code == 401
    locked = _sign_in(api, "t1", "wrong password")
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 60
    assert _sign_in(api, "t1").status_code == 429  # even the right password waits
    assert _sign_in(api, "t2").status_code == 200  # other users are not locked out


def test_lockout_doubles_and_is_capped() -> None:
    now = datetime(2026, 1, 1, 12)
    assert locked_for(9, now, 10, now) == 0
    assert locked_for(10, now, 10, now) == 60
    assert locked_for(10, now - timedelta(seconds=59), 10, now) == 1
    assert locked_for(10, now - timedelta(seconds=61), 10, now) == 0
    assert locked_for(25, now, 10, now) == 120
    assert locked_for(400, now, 10, now) == 3600


# 3. Tokens are revocable; ids are never reused.
def test_tokens_stop_working_on_password_change_disable_and_delete(api: Api) -> None:
    c = api.client
    old = api.as_("t1")
    r = c.post("/v1/me/password", headers=old,
               json={"current_password": PASSWORD, "new_password": "a new long password"})
    assert r.status_code == 204
    assert c.get("/v1/me", headers=old).status_code == 401
    assert _sign_in(api, "t1").status_code == 401
    assert _sign_in(api, "t1", "a new long password").status_code == 200
    wrong = c.post("/v1/me/password", headers=api.as_("t2"),
                   json={"current_password": "not it at all", "new_password": "whatever long"})
    assert wrong.status_code == 401

    root = api.as_("root")
    users = {u["username"]: u["id"] for u in c.get("/v1/users", headers=root).json()}
    assert c.patch(f"/v1/users/{users['t2']}", json={"active": False},
                   headers=root).status_code == 200
    assert c.get("/v1/me", headers=api.as_("t2")).status_code == 401
    assert _sign_in(api, "t2").status_code == 401
    assert c.delete(f"/v1/users/{users['a1']}", headers=root).status_code == 204
    assert c.get("/v1/me", headers=api.as_("a1")).status_code == 401
    new = c.post("/v1/users", headers=root, json={"username": "a1", "password": "another long",
                                                  "role": "admin"})
    assert new.status_code == 201
    assert new.json()["id"] > max(users.values())
    assert c.get("/v1/me", headers=api.as_("a1")).status_code == 401  # still the dead user's
    assert c.delete(f"/v1/users/{users['root']}", headers=root).status_code == 409
    assert c.patch("/v1/users/999999", json={"active": False}, headers=root).status_code == 404


# 4. A worker paused past the stale limit cannot write over the worker that took its job.
def test_a_paused_worker_that_lost_its_lease_registers_nothing(api: Api, tmp_path: Path) -> None:
    (job_id,) = queue_jobs(api)
    paused, other = Worker(api.settings, name="paused"), Worker(api.settings, name="other")
    assert paused.claim() == job_id
    with paused.db.session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.heartbeat_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
        cohort_id = job.cohort_id
    assert other.claim() == job_id  # reaped and claimed again, with a new lease
    dirs = []
    for name in ("paused", "other"):
        save(replace(load(DEFAULT_MODEL), model_id=f"from-{name}"), tmp_path / name)
        dirs.append(tmp_path / name)
    with pytest.raises(LeaseLostError):
        paused.beat(job_id)
    evaluation = EvaluationReport.model_validate_json(
        (DEFAULT_MODEL / "evaluation.json").read_text())
    done = [RefitResult(load(d), d, evaluation) for d in dirs]
    with pytest.raises(LeaseLostError):
        paused._commit(job_id, cohort_id, done[0])
    assert other._commit(job_id, cohort_id, done[1]) == "from-other"
    with other.db.session() as s:
        registered = s.scalars(select(ModelRow.id).where(ModelRow.job_id == job_id)).all()
        job = s.get(Job, job_id)
        assert registered == ["from-other"]
        assert job is not None
        assert job.model_id == "from-other"
    paused.close()
    other.close()


# 5. Reads of records are audited; an admin reads a record only with a stated reason.
def test_record_reads_are_audited_and_admins_need_a_reason(shared_api: Api) -> None:
    c, root = shared_api.client, shared_api.as_("root")
    own = shared_api.own
    assert c.get(f"/v1/patients/{own}/history", headers=shared_api.as_("p1")).status_code == 200
    trail = c.get("/v1/audit", params={"patient_id": shared_api.own}, headers=root).json()
    assert trail[0]["action"] == "read"
    assert trail[0]["route"].endswith("/history")
    assert trail[0]["role"] == "patient"
    assert c.get(f"/v1/patients/{shared_api.own}", headers=root).status_code == 403
    why = {**root, "X-Access-Reason": "complaint 2026-41"}
    assert c.get(f"/v1/patients/{shared_api.own}", headers=why).status_code == 200
    assert c.post(f"/v1/patients/{shared_api.own}/scores", headers=why, json={
        "scores": [{"day": 1, "score": 3, "client_id": "x"}]}).status_code == 403
    trail = c.get("/v1/audit", params={"patient_id": shared_api.own}, headers=root).json()
    assert trail[0]["role"] == "admin"
    assert trail[0]["reason"] == "complaint 2026-41"
    assert c.get("/v1/audit", headers=shared_api.as_("t1")).status_code == 403
    # no back door through a linked login: only the record's therapist creates one
    linked = c.post("/v1/users", headers=root, json={
        "username": "spy", "password": "long password", "role": "patient",
        "patient_id": shared_api.own})
    assert linked.status_code == 422
    account = {"username": "pat2", "password": "long password"}
    assert c.post(f"/v1/patients/{shared_api.other}/account", json=account,
                  headers=shared_api.as_("t1")).status_code == 404
    made = c.post(f"/v1/patients/{own}/account", json=account, headers=shared_api.as_("t1"))
    assert made.status_code == 201
    assert made.json()["patient_id"] == shared_api.own
    assert _sign_in(shared_api, "pat2", "long password").status_code == 200


def test_request_logs_name_the_user_and_record(shared_api: Api,
                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="recovery.http"):
        shared_api.client.get(f"/v1/patients/{shared_api.own}", headers=shared_api.as_("t1"))
    (rec,) = [r for r in caplog.records if getattr(r, "route", "") == "/v1/patients/{patient_id}"]
    assert getattr(rec, "patient_id") == shared_api.own  # noqa: B009
    assert getattr(rec, "user_id") > 0  # noqa: B009


# 6. Nothing a spreadsheet would run as a formula.
def test_csv_cells_and_ids_cannot_carry_formulas(shared_api: Api) -> None:
    result = {"model_version": "m1", "forecasts": [{
        "name": "=cmd|' /C calc'!A0", "days": [1], "mean": [5.0], "quantiles": {"0.5": [5.0]}}]}
    made = (date(2026, 1, 5), date(2026, 1, 6))
    rows = list(csv.DictReader(io.StringIO(forecast_csv(result, {}, "@evil", *made).decode())))
    assert rows[0]["schedule"].startswith("'=cmd")
    assert rows[0]["patient"].startswith("'@evil")
    inside = {**result, "forecasts": [{**result["forecasts"][0], "name": "plan\r=HYPERLINK(1)"}]}
    text = forecast_csv(inside, {}, "Ana", *made).decode()
    assert len(text.splitlines()) == 2  # one row: the CR became a space
    assert next(csv.DictReader(io.StringIO(text)))["schedule"] == "plan =HYPERLINK(1)"
    files = {"patients": ("patients.csv", b"patient_id,chronic\n=1+1,0\n"),
             "sessions": ("sessions.csv", b"patient_id,day,kind\n=1+1,0,massage\n"),
             "pain": ("pain.csv", b"patient_id,day,score\n=1+1,0,5\n")}
    r = shared_api.client.post("/v1/cohorts", files=files, headers=shared_api.as_("a1"))
    assert r.status_code == 422
    assert any(d["loc"] == ["patients.csv", 1, "patient_id"] and "bad patient_id" in d["msg"]
               for d in r.json()["detail"])


# 7. Every malformed number is a JSON 422 naming its field.
MALFORMED = [
    ("scores", b'{"scores": [{"day": NaN, "score": 5, "client_id": "a"}]}',
     ["body", "scores", 0, "day"]),
    ("scores", b'{"scores": [{"day": 1, "score": Infinity, "client_id": "a"}]}',
     ["body", "scores", 0, "score"]),
    ("scores", b'{"scores": [{"day": 1e309, "score": 5, "client_id": "a"}]}',
     ["body", "scores", 0, "day"]),
    ("forecast", b'{"schedules": [{"name": "none"}], "target_score": -Infinity}',
     ["body", "target_score"]),
    ("forecast", b'{"schedules": [{"name": "none"}], "prices": {"massage": NaN}}',
     ["body", "prices", "massage"]),
    ("patients", b'{"name": "\\ud800"}', ["body", "name"]),
    ("patients", b'{"name": "x", "covariates": {"stress": NaN}}',
     ["body", "covariates", "stress"]),
    ("patients", b'{"name": "x", "covariates": {"stress": 1e308}}',
     ["body", "covariates", "stress"]),
]


@pytest.mark.parametrize(("route", "body", "loc"), MALFORMED)
def test_malformed_numbers_are_422_naming_the_field(shared_api: Api, route: str, body: bytes,
                                                    loc: list[Any]) -> None:
    path = {"scores": f"/v1/patients/{shared_api.own}/scores", "patients": "/v1/patients",
            "forecast": f"/v1/patients/{shared_api.own}/forecast"}[route]
    r = shared_api.client.post(path, content=body, headers={
        **shared_api.as_("t1"), "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/json"
    assert loc in [d["loc"] for d in r.json()["detail"]], r.json()


def test_nan_and_infinity_in_a_cohort_are_422_by_row(shared_api: Api) -> None:
    files = {"patients": ("patients.csv", b"patient_id,stress\np1,inf\n"),
             "sessions": ("sessions.csv", b"patient_id,day,kind\np1,nan,massage\n"),
             "pain": ("pain.csv", b"patient_id,day,score\np1,0,inf\np1,1,-Infinity\n")}
    r = shared_api.client.post("/v1/cohorts", files=files, headers=shared_api.as_("a1"))
    assert r.status_code == 422, r.text
    locs = [d["loc"] for d in r.json()["detail"]]
    assert ["patients.csv", 1, "stress"] in locs
    assert ["sessions.csv", 1, "day"] in locs
    assert ["pain.csv", 1, "score"] in locs
    assert ["pain.csv", 2, "score"] in locs


def test_prices_must_not_be_negative_and_validation_errors_do_not_echo(shared_api: Api) -> None:
    h = shared_api.as_("t1")
    r = shared_api.client.post("/v1/forecast", headers=h, json=history_request(
        prices={"massage": -60.0}))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "massage"
    secret = "patient-name-that-must-not-echo"
    r = shared_api.client.post("/v1/patients", headers=h, json={"name": secret, "age": 3})
    assert r.status_code == 422
    assert secret not in r.text


def test_cohort_tables_over_the_row_limit_are_refused(tmp_path: Path) -> None:
    """Counted before any database work: SQLite only."""
    with running_api(service_settings("sqlite", tmp_path).model_copy(
            update={"max_upload_rows": 3})) as api:
        pain = "patient_id,day,score\n" + "".join(f"p1,{d},5\n" for d in range(4))
        files = {"patients": ("patients.csv", b"patient_id\np1\n"),
                 "sessions": ("sessions.csv", b"patient_id,day,kind\np1,0,massage\n"),
                 "pain": ("pain.csv", pain.encode())}
        r = api.client.post("/v1/cohorts", files=files, headers=api.as_("a1"))
        assert r.status_code == 413
        assert "pain: 4 rows" in r.json()["detail"]


def test_forecasts_are_rate_limited_per_user(tmp_path: Path) -> None:
    """Counted in the process, not the database: SQLite only."""
    with running_api(service_settings("sqlite", tmp_path).model_copy(
            update={"forecasts_per_minute": 2})) as api:
        body = history_request(draws=200, horizon_days=14)
        codes = [api.client.post("/v1/forecast", json=body, headers=api.as_("t1")).status_code
                 for _ in range(3)]
        assert codes == [200, 200, 429]
        assert api.client.post("/v1/forecast", json=body,
                               headers=api.as_("t2")).status_code == 200


def test_the_forecast_queue_is_bounded() -> None:
    gate = ForecastGate(per_minute=100, workers=1, queue=1)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.enter(1):
            inside.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    inside.wait(5)
    with pytest.raises(HTTPException) as full, gate.enter(2):
        pass
    release.set()
    t.join()
    assert full.value.status_code == 503
    assert full.value.headers == {"Retry-After": "2"}
    with gate.enter(2):  # room again
        pass


def test_records_can_be_corrected(shared_api: Api) -> None:
    c, h = shared_api.client, shared_api.as_("t1")
    future = c.post(f"/v1/patients/{shared_api.own}/scores", headers=h, json={"scores": [
        {"day": 1, "score": 5, "client_id": "a"}, {"day": 5000, "score": 5, "client_id": "b"}]})
    assert future.status_code == 422  # the whole batch refused, the far-future day named
    assert future.json()["detail"][0]["loc"] == ["body", "scores", 1, "day"]
    assert "in the future" in future.json()["detail"][0]["msg"]
    c.post(f"/v1/patients/{shared_api.own}/scores", headers=h, json={"scores": [
        {"day": 1, "score": 5, "client_id": "a"}, {"day": 50, "score": 5, "client_id": "b"}]})
    c.post(f"/v1/patients/{shared_api.own}/sessions", headers=h, json={"sessions": [
        {"day": 1, "kind": "massage", "client_id": "s"}]})
    assert c.delete(f"/v1/patients/{shared_api.own}/scores/b", headers=h).status_code == 204
    assert c.delete(f"/v1/patients/{shared_api.own}/scores/b", headers=h).status_code == 404
    assert c.delete(f"/v1/patients/{shared_api.own}/sessions/s",
                    headers=shared_api.as_("p1")).status_code == 403  # sessions are the therapist's
    assert c.delete(f"/v1/patients/{shared_api.own}/sessions/s", headers=h).status_code == 204
    hist = c.get(f"/v1/patients/{shared_api.own}/history", headers=h).json()
    assert [p["day"] for p in hist["pain"]] == [1]
    assert hist["sessions"] == []
    r = c.patch(f"/v1/patients/{shared_api.own}", headers=h, json={"covariates": {"stress": 7,
                                                                            "chronic": None}})
    assert r.status_code == 200
    assert r.json()["covariates"] == {"stress": 7}
    bad = c.patch(f"/v1/patients/{shared_api.own}", headers=h, json={"covariates": {"stress": 70}})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == [
        "body", "covariates", "stress"]
    assert c.patch(f"/v1/patients/{shared_api.other}", headers=h,
                   json={"name": "x"}).status_code == 404


def test_what_people_naturally_send_is_taken_and_unknown_kinds_are_not(shared_api: Api
                                                                        ) -> None:
    c, h, own = shared_api.client, shared_api.as_("t1"), shared_api.own
    r = c.post(f"/v1/patients/{own}/sessions", headers=h, json={"sessions": [
        {"day": 40, "kind": "Massage ", "client_id": "cap"}]})
    assert r.status_code == 200
    assert r.json()["created"] == 1
    assert {"day": 40.0, "kind": "massage"} in c.get(f"/v1/patients/{own}/history",
                                                      headers=h).json()["sessions"]
    bad = c.post(f"/v1/patients/{own}/sessions", headers=h, json={"sessions": [
        {"day": 41, "kind": "massage", "client_id": "ok"},
        {"day": 41, "kind": "acupuncture", "client_id": "acu"}]})
    assert bad.status_code == 422
    (item,) = bad.json()["detail"]
    assert item["loc"] == ["body", "sessions", 1, "kind"]
    assert "'massage'" in item["msg"]
    assert c.post(f"/v1/patients/{own}/scores", headers=h, json={"scores": [
        {"day": 42, "score": 6.0, "client_id": "six"}]}).status_code == 200
    assert c.post(f"/v1/patients/{own}/scores", headers=h, json={"scores": [
        {"day": 42, "score": 6.5, "client_id": "half"}]}).status_code == 422
    made = c.post("/v1/patients", headers=h, json={"name": "Yes", "covariates": {
        "chronic": True, "structural_cause": False}})
    assert made.status_code == 201
    assert made.json()["covariates"] == {"chronic": 1.0, "structural_cause": 0.0}
    forecast = c.post(f"/v1/patients/{own}/forecast", headers=h, json={
        "schedules": [{"name": "none"}], "horizon_days": 14, "draws": 200})
    assert forecast.status_code == 200, forecast.text  # the record stays forecastable
    plain = [{"day": 43, "score": 5}, {"date": None, "day": 44, "score": 4}]
    first = c.post(f"/v1/patients/{own}/scores", headers=h, json=plain)  # no client ids
    assert first.status_code == 200, first.text
    assert first.json()["created"] == 2
    again = c.post(f"/v1/patients/{own}/scores", headers=h, json=plain).json()
    assert (again["created"], again["duplicates"]) == (0, 2)  # a retry stores nothing new
    session = c.post(f"/v1/patients/{own}/sessions", headers=h, json=[{"day": 43}])
    assert session.json()["created"] == 1
    entries = c.get(f"/v1/patients/{own}/entries", headers=h).json()
    assert any(e["client_id"] == "auto:score:43:5" for e in entries)  # deletable by it
    direct = c.post("/v1/forecast", headers=h, json={  # the stateless route takes the same
        "patient": {"covariates": {"chronic": True, "structural_cause": False}},
        "history": {"pain": [{"day": 0, "score": 6.0}, {"day": 1, "score": 5}]},
        "schedules": [{"name": "none"}], "start_day": 2, "horizon_days": 14, "draws": 200})
    assert direct.status_code == 200, direct.text
    assert c.post("/v1/forecast", headers=h, json={
        "history": {"pain": [{"day": 0, "score": 6.5}]}, "schedules": [{"name": "none"}],
        "start_day": 2}).status_code == 422


# 8. Two server processes on one SQLite file: no write fails, and both log their requests.
def test_two_processes_on_sqlite_take_a_concurrent_stream(tmp_path: Path) -> None:
    settings = service_settings("sqlite", tmp_path)
    add_user(settings, "ther", "long password 1", "therapist")
    server = Server(settings, tmp_path / "server.log", workers=2).start()
    try:
        deadline = time.monotonic() + 60
        while server.log.read_text().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, "the second server process did not start"
            time.sleep(0.2)
        h = token(server.url, "ther", "long password 1")
        pids = [httpx.post(f"{server.url}/v1/patients", headers=h, json={
            "name": f"P{i}", "start_date": "2025-01-01"}).json()["id"] for i in range(3)]
        statuses: list[int] = []

        def stream(pid: str) -> None:
            url = f"{server.url}/v1/patients/{pid}"
            for i in range(50):  # a connection per request: the processes share them out
                body = {"scores": [{"day": i + k / 10, "score": k, "client_id": f"{i}-{k}"}
                                   for k in range(5)]}
                statuses.append(httpx.post(f"{url}/scores", json=body, headers=h,
                                           timeout=30).status_code)
                if i % 10 == 0:
                    statuses.append(httpx.get(f"{url}/history", headers=h,
                                              timeout=30).status_code)

        threads = [threading.Thread(target=stream, args=(p,)) for p in pids * 2]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(statuses) == 6 * 55, sorted(set(statuses))
        assert set(statuses) == {200}, sorted(set(statuses))
        db = Database(settings.database_url)
        with db.session() as s:
            from recovery.service.tables import PainRow

            assert s.scalar(select(func.count()).select_from(PainRow)) == 3 * 50 * 5
        db.close()
        logged = {line.split('"pid": ')[1].split(",")[0]
                  for line in server.log.read_text().splitlines()
                  if '"msg": "request"' in line and "/scores" in line}
        assert len(logged) == 2, logged  # both processes wrote request logs
    finally:
        server.stop()


def test_a_busy_worker_reaps_another_workers_stale_job(api: Api) -> None:
    dead_job, own_job = queue_jobs(api, 2)
    dead = Worker(api.settings, name="dead")
    assert dead.claim() == dead_job
    with dead.db.session() as s:
        job = s.get(Job, dead_job)
        assert job is not None
        job.heartbeat_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    busy = Worker(api.settings.model_copy(update={"job_heartbeat_seconds": 0.05}), name="busy")
    with busy.db.session() as s:  # busy already runs a job: it will not claim again
        job = s.get(Job, own_job)
        assert job is not None
        job.status, job.worker, job.lease = "running", "busy", "lease-of-busy"
        job.heartbeat_at = datetime.now(UTC).replace(tzinfo=None)
    busy.lease = "lease-of-busy"
    stop = threading.Event()
    beating = threading.Thread(target=busy._heartbeat, args=(own_job, stop))
    beating.start()
    time.sleep(0.5)
    stop.set()
    beating.join()
    with busy.db.session() as s:
        reaped = s.get(Job, dead_job)
        assert reaped is not None
        assert reaped.status == "queued"
        assert "stopped responding" in reaped.message
    dead.close()
    busy.close()


def test_the_migrations_build_the_schema_the_code_declares(settings: Settings) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from recovery.service.tables import Base

    db = Database(settings.database_url)
    db.migrate()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.close()
    assert diff == [], diff
