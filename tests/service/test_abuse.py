"""What an attacker tried (issue 34), each refused with a 4xx and nothing stored: NaN in any
Content-Type spelling, bodies that would stall the event loop, model work past its time
limit, deleted accounts brought back, reserved names, unaudited refusals, huge ids, control
characters in names, unthrottled password guesses and 1-chain refits."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from recovery.service.db import Database
from recovery.service.guard import shape
from recovery.service.settings import Settings
from recovery.service.tables import AuditRow, LoginFailure, Patient
from tests.helpers import PASSWORD, Api, history_request, running_api, service_settings
from tests.live import Server, add_user, health_probe, token

SPELLINGS = ["application/json", "Application/JSON", "APPLICATION/JSON; charset=UTF-8",
             "application/merge-patch+json", "text/plain", None]


def _headers(api: Api, who: str, content_type: str | None) -> dict[str, str]:
    return {**api.as_(who), **({"Content-Type": content_type} if content_type else {})}


@pytest.mark.parametrize("content_type", SPELLINGS)
def test_nan_is_refused_whatever_the_content_type(shared_api: Api, content_type: str | None
                                                  ) -> None:
    c, pid = shared_api.client, shared_api.own
    before = c.get(f"/v1/patients/{pid}", headers=shared_api.as_("t1")).json()
    r = c.patch(f"/v1/patients/{pid}", content=b'{"covariates": {"stress": NaN}}',
                headers=_headers(shared_api, "t1", content_type))
    assert r.status_code == 422, r.text
    r = c.patch(f"/v1/patients/{pid}", content=b'{"name": "\\ud800"}',
                headers=_headers(shared_api, "t1", content_type))
    assert r.status_code == 422, r.text
    assert c.get(f"/v1/patients/{pid}", headers=shared_api.as_("t1")).json() == before
    body = history_request(n_scores=10, draws=200)
    for who in ("t1", "p1"):  # a patient login may forecast too
        text = (f'{{"patient": {{"covariates": {{"stress": NaN}}}}, "schedules": '
                f'[{{"name": "none"}}], "horizon_days": 30, "history": '
                f'{httpx.Request("POST", "/", json=body["history"]).content.decode()}}}')
        r = c.post("/v1/forecast", content=text.encode(),
                   headers=_headers(shared_api, who, content_type))
        assert r.status_code == 422, r.text
        r = c.post("/v1/forecast", content=b'{"schedules": [{"name": "\\ud800"}]}',
                   headers=_headers(shared_api, who, content_type))
        assert r.status_code == 422, r.text
    t0 = time.perf_counter()
    r = c.post(f"/v1/patients/{pid}/forecast", headers=shared_api.as_("t1"),
               json={"schedules": [{"name": "none"}], "horizon_days": 30, "draws": 200})
    assert r.status_code == 200, r.text
    assert time.perf_counter() - t0 < 30


def test_model_work_past_its_time_limit_is_answered_503_and_frees_the_slot(tmp_path: Path
                                                                           ) -> None:
    settings = service_settings("sqlite", tmp_path).model_copy(
        update={"forecast_seconds": 0.001, "forecast_slots": 1})
    with running_api(settings) as api:
        body = {"schedules": [{"name": "none"}], "horizon_days": 365, "draws": 4000}
        url = f"/v1/patients/{api.own}/forecast"
        r = api.client.post(url, headers=api.as_("t1"), json=body)
        assert r.status_code == 503, r.text
        assert "did not answer within" in r.json()["detail"]
        assert r.headers["Retry-After"]
        settings.forecast_seconds = 120.0  # the one slot is free again at once
        assert api.client.post(url, headers=api.as_("t1"), json=body).status_code == 200


def _abusive_bodies(url: str, h: dict[str, str]) -> dict[str, httpx.Response]:
    big = b"[" + b"1," * 10_000_000 + b"1]"  # 20 MB of JSON
    return {
        "20 MB JSON, no sign-in": httpx.post(f"{url}/v1/cohorts", content=big, timeout=30,
                                             headers={"Content-Type": "Application/JSON"}),
        "20 MB form, no sign-in": httpx.post(f"{url}/v1/cohorts", content=big, timeout=30, headers={
            "Content-Type": "multipart/form-data; boundary=x"}),
        "900 deep": httpx.post(f"{url}/v1/patients", headers=h, timeout=30, content=(
            b'{"a":' * 900 + b"1" + b"}" * 900).ljust(1_000_000)),
        "1.9 MB flat": httpx.post(f"{url}/v1/patients", headers=h, timeout=30,
                                  content=b"[" + b"1," * 950_000 + b"1]"),
    }


def test_json_is_limited_before_it_is_parsed_and_the_loop_stays_free(
        settings: Settings, tmp_path: Path) -> None:
    add_user(settings, "ther", "long password 1", "therapist")
    server = Server(settings, tmp_path / "server.log").start()
    try:
        h = token(server.url, "ther", "long password 1")
        with health_probe(server.url) as health:
            answers = _abusive_bodies(server.url, h)
        status = {k: r.status_code for k, r in answers.items()}
        assert status == {"20 MB JSON, no sign-in": 413, "20 MB form, no sign-in": 401,
                          "900 deep": 422, "1.9 MB flat": 422}, status
        assert "nested deeper" in answers["900 deep"].text
        assert "more than 50000 values" in answers["1.9 MB flat"].text
        assert health
        assert max(health) < 0.2, max(health)  # the event loop never stalled
        spoofed = httpx.post(f"{server.url}/v1/token", headers={
            "X-Forwarded-For": "203.0.113.9"}, data={"username": "ther", "password": "no"})
        assert spoofed.status_code == 401
        db = Database(settings.database_url)
        with db.session() as s:  # the lockout counts the real address, not the claimed one
            assert set(s.scalars(select(LoginFailure.client))) == {"127.0.0.1"}
        db.close()
    finally:
        server.stop()


DENSE = [{"schedules": [{"name": "d", "phases": [{"kind": "massage", "every_days": every,
                                                   "weeks": 156}]}], "horizon_days": 1}
         for every in (0.00001, 1e-7, 3e-5)]


def test_dense_schedules_stall_neither_process(settings: Settings, tmp_path: Path) -> None:
    """Issue 39: a patient's dense schedules, sent to one server process, are refused at once;
    /healthz stays quick on both processes and the other process's writes never fail."""
    tid = add_user(settings, "ther", "long password 1", "therapist")
    db = Database(settings.database_url)
    with db.session() as s:
        s.add(Patient(name="P", covariates={}, therapist_id=tid, start_date=settings.today()))
        s.flush()
        pid = s.scalars(select(Patient.id)).one()
    db.close()
    add_user(settings, "pat", "long password 2", "patient", patient_id=pid)
    a, b = Server(settings, tmp_path / "a.log"), Server(settings, tmp_path / "b.log")
    with ThreadPoolExecutor(2) as pool:  # both start at once
        list(pool.map(Server.start, (a, b)))
    try:
        hp, ht = token(a.url, "pat", "long password 2"), token(b.url, "ther", "long password 1")
        writes: list[int] = []
        with health_probe(a.url) as health_a, health_probe(b.url) as health_b:
            for i, body in enumerate(DENSE):
                r = httpx.post(f"{a.url}/v1/forecast", headers=hp, json=body, timeout=60)
                assert r.status_code == 422, r.text
                assert "server" not in r.headers
                assert r.headers["x-content-type-options"] == "nosniff"
                writes.append(httpx.post(f"{b.url}/v1/patients/{pid}/scores", headers=ht,
                                         json=[{"date": str(settings.today()), "score": i,
                                                "client_id": f"w{i}"}], timeout=60
                                         ).status_code)
        assert writes == [200] * len(writes), writes
        assert health_a
        assert health_b
        assert max(health_a + health_b) < 0.5, (max(health_a), max(health_b))
    finally:
        a.stop()
        b.stop()


def test_deleted_accounts_stay_deleted_and_their_names_are_reserved(api: Api) -> None:
    c, root = api.client, api.as_("root")
    made = c.post("/v1/users", headers=root, json={
        "username": "leaver", "password": PASSWORD, "role": "therapist"}).json()
    assert c.delete(f"/v1/users/{made['id']}", headers=root).status_code == 204
    for patch in ({"active": True}, {"password": "a new long password"}):
        r = c.patch(f"/v1/users/{made['id']}", headers=root, json=patch)
        assert r.status_code == 409, r.text
    other = c.post("/v1/users", headers=root, json={
        "username": "stayer", "password": PASSWORD, "role": "therapist"}).json()
    for name in (f"deleted-{other['id']}", f"Deleted-{other['id'] + 1}"):
        r = c.post("/v1/users", headers=root, json={
            "username": name, "password": PASSWORD, "role": "therapist"})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "username"]
        r = c.post(f"/v1/patients/{api.own}/account", headers=api.as_("t1"),
                   json={"username": name, "password": PASSWORD})
        assert r.status_code == 422, r.text
    assert c.delete(f"/v1/users/{other['id']}", headers=root).status_code == 204
    for huge in (2**63, 10**30, 0):
        assert c.patch(f"/v1/users/{huge}", headers=root, json={"active": False}
                       ).status_code == 422
        assert c.delete(f"/v1/users/{huge}", headers=root).status_code == 422
    assert c.get("/v1/audit", headers=root, params={"user_id": 2**64}).status_code == 422


def test_refused_record_accesses_are_audited(api: Api) -> None:
    c = api.client
    assert c.get(f"/v1/patients/{api.other}", headers=api.as_("t1")).status_code == 404
    assert c.get("/v1/patients/no-such-record", headers=api.as_("t1")).status_code == 404
    assert c.get(f"/v1/patients/{api.own}", headers=api.as_("root")).status_code == 403
    r = c.post(f"/v1/patients/{api.own}/scores", headers=api.as_("t1"),
               json=[{"day": 9999, "score": 4, "client_id": "late"}])
    assert r.status_code == 422
    db = Database(api.settings.database_url)
    with db.session() as s:
        rows = [(r.action, r.patient_id, r.route) for r in s.scalars(
            select(AuditRow).order_by(AuditRow.id))]
    db.close()
    assert ("denied", api.other, "GET /v1/patients/{patient_id}") in rows
    assert ("denied", "no-such-record", "GET /v1/patients/{patient_id}") in rows
    assert [r for r in rows if r[0] == "denied" and r[1] == api.own]
    assert ("write", api.own, "POST /v1/patients/{patient_id}/scores") in rows


def test_wrong_current_passwords_lock_like_sign_ins(tmp_path: Path) -> None:
    settings = service_settings("sqlite", tmp_path).model_copy(
        update={"login_max_failures": 3})
    with running_api(settings) as api:
        url, h = "/v1/me/password", api.as_("t1")
        codes = [api.client.post(url, headers=h, json={
            "current_password": f"guess {i}", "new_password": "a new long password"}
        ).status_code for i in range(4)]
        assert codes == [401, 401, 401, 429], codes
        r = api.client.post(url, headers=h, json={
            "current_password": PASSWORD, "new_password": "a new long password"})
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) > 0
        db = Database(settings.database_url)
        with db.session() as s:
            assert len(s.scalars(select(LoginFailure)).all()) == 3
        db.close()


def test_names_with_control_characters_and_one_chain_refits_are_refused(shared_api: Api
                                                                       ) -> None:
    c, h = shared_api.client, shared_api.as_("t1")
    r = c.post(f"/v1/patients/{shared_api.own}/plans", headers=h, json={
        "schedule": {"name": "weekly\r=HYPERLINK(\"x\")", "phases": [
            {"kind": "massage", "every_days": 7, "weeks": 4}]}})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == "name"
    r = c.post("/v1/patients", headers=h, json={"name": "A\nB"})
    assert r.status_code == 422, r.text
    r = c.post("/v1/fits", headers=shared_api.as_("a1"), json={"cohort_id": "x", "chains": 1})
    assert r.status_code == 422
    assert ["body", "chains"] in [d["loc"] for d in r.json()["detail"]]


def test_short_secret_keys_are_refused_without_showing_them() -> None:
    with pytest.raises(ValueError, match="at least 32 characters") as refused:
        Settings(secret_key="s3cret")  # type: ignore[arg-type]
    assert "s3cret" not in str(refused.value)


def test_long_reads_and_password_checks_hold_no_write_lock(api: Api,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """A write commits at once while the monitor's read transaction is open, and while a
    sign-in checks its password hash (another connection writes meanwhile)."""
    db = Database(api.settings.database_url)
    with db.reading() as r:
        assert r.scalars(select(AuditRow)).all() is not None  # the read transaction is open
        t0 = time.perf_counter()
        with db.session() as s:
            s.add(LoginFailure(username="someone", client="x"))
        assert time.perf_counter() - t0 < 1.0
    from recovery.service.api.routes import auth

    waited: list[float] = []
    check = auth.verify_password

    def verify_while_another_writes(password: str, hashed: str | None) -> bool:
        other = Database(api.settings.database_url)
        t0 = time.perf_counter()
        with other.session() as s:
            s.add(LoginFailure(username="other", client="y"))
        waited.append(time.perf_counter() - t0)
        other.close()
        return check(password, hashed)

    monkeypatch.setattr(auth, "verify_password", verify_while_another_writes)
    assert api.client.post("/v1/token", data={"username": "t1", "password": PASSWORD}
                           ).status_code == 200
    assert waited
    assert waited[0] < 1.0, waited
    db.close()


@pytest.mark.parametrize(("body", "depth", "values"), [
    (b'[[1,{"a":"[[[["}]]', 3, 3),
    (b'{"a\\\\":[1,2]}', 2, 3),  # an escaped backslash ends the key
    (b'["a,b", "c\\"]", 3]', 1, 3),  # an escaped quote does not
    (b'"' + b'\\"' * 500_000, 0, 1),  # one unterminated string: no quadratic scan
])
def test_json_is_measured_from_its_bytes(body: bytes, depth: int, values: int) -> None:
    assert shape(body) == (depth, values)
