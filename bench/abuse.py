"""An attacker's share of a real server (issue 39): two `recovery serve` processes, A and B,
on one database (SQLite, or PostgreSQL with --pg-url). A takes the attacks from a patient
login; B takes a therapist writing a score every 0.1 s. /healthz is probed back to back on
both all the while.

Attacks on A, one after another: dense schedules in every spelling (tiny every_days, many
phases, many schedules, many sessions in all) on every route that takes a schedule; the
heaviest forecast the budget allows; FHIR Bundles of 2,200 Observations, 4 at once (the
Bundle hook: it passes once Bundles are parsed outside the write lock); and the sign-in
lockout (wrong passwords for a user from one address, then the right one from another, and
colleagues behind the attacker's address).

Targets: /healthz worst < 0.5 s on A and B, 0 5xx from B, A's RSS growth < 200 MB a request,
every refusal a 4xx. Writes bench/results/abuse[_postgresql].json.
Usage: python bench/abuse.py [--pg-url postgresql+psycopg://...] [--skip-bundles]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from common import commit, machine

RECOVERY = str(Path(sys.executable).parent / "recovery")
RESULTS = Path(__file__).parent / "results"
PASSWORD = "abuse bench password"
TARGETS = {"health_worst_s": 0.5, "b_5xx": 0, "rss_growth_mb": 200}
WEEKLY = {"kind": "massage", "every_days": 7, "weeks": 1}
DENSE: dict[str, list[dict[str, Any]]] = {
    "every_days 1e-5 for 156 weeks": [{"name": "d", "phases": [
        {"kind": "massage", "every_days": 0.00001, "weeks": 156}]}],
    "every_days 1e-7": [{"name": "d", "phases": [
        {"kind": "massage", "every_days": 1e-7, "weeks": 156}]}],
    "every_days 3e-5 (explain)": [{"name": "d", "phases": [
        {"kind": "massage", "every_days": 3e-5, "weeks": 156}]}],
    "100 phases": [{"name": "d", "phases": [WEEKLY] * 100}],
    "100 phases x 12 schedules": [{"name": f"s{i}", "phases": [
        {"kind": "massage", "every_days": 0.01, "weeks": 1.5}] * 100} for i in range(12)],
    "12 schedules of 2,100 sessions": [{"name": f"s{i}", "phases": [
        {"kind": "massage", "every_days": 0.5, "weeks": 150}]} for i in range(12)],
    "13 schedules": [{"name": f"s{i}", "phases": [WEEKLY]} for i in range(13)],
}
# Observations per Bundle: 2,100 lean entries are about 48,000 JSON values, under the guard's
# 50,000 (2,200 are refused with 422 before they are parsed)
BUNDLE_ENTRIES = 2100
# the most one forecast may ask for: 5,000 draws x 1,096 days, 2,184 sessions
HEAVIEST = {"schedules": [{"name": "twice daily", "phases": [
    {"kind": "massage", "every_days": 0.5, "weeks": 156}]}], "horizon_days": 1095,
    "draws": 5000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(db_url: str, work: Path, key: str) -> dict[str, str]:
    return {**os.environ, "RECOVERY_DATABASE_URL": db_url, "RECOVERY_SECRET_KEY": key,
            "RECOVERY_MODELS_DIR": str(work / "models"),
            "RECOVERY_COHORTS_DIR": str(work / "cohorts"), "RECOVERY_LOG_LEVEL": "WARNING",
            "RECOVERY_FORECASTS_PER_MINUTE": "100000",
            # X-Forwarded-For from loopback names the client: the lockout's addresses
            "RECOVERY_TRUSTED_PROXIES": '["127.0.0.1"]'}


def start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "wb")  # noqa: SIM115 (lives with the process)
    proc = subprocess.Popen([RECOVERY, "serve", "--port", str(port)], env=env, stdout=out,
                            stderr=out)
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(log.read_text()[-3000:])
        time.sleep(0.5)


def seed(db_url: str) -> None:
    """A therapist (B's writer), a patient login (A's attacker), a victim and colleagues."""
    from recovery.service.accounts import create
    from recovery.service.db import Database
    from recovery.service.schemas import UserIn
    from recovery.service.tables import Patient

    db = Database(db_url)
    db.migrate()
    with db.session() as s:
        ther = create(s, UserIn(username="ther", password=PASSWORD, role="therapist"))  # type: ignore[arg-type]
        p = Patient(name="Target", covariates={}, therapist_id=ther.id,
                    start_date=datetime.now(UTC).date() - timedelta(days=400))
        s.add(p)
        s.flush()
        create(s, UserIn(username="patient", password=PASSWORD, role="patient",  # type: ignore[arg-type]
                         patient_id=p.id))
        for name in ("victim", "colleague", *(f"user{i}" for i in range(5))):
            create(s, UserIn(username=name, password=PASSWORD, role="therapist"))  # type: ignore[arg-type]
    db.close()


def sign_in(url: str, name: str, address: str = "192.0.2.1", password: str = PASSWORD
            ) -> httpx.Response:
    return httpx.post(f"{url}/v1/token", data={"username": name, "password": password},
                      headers={"X-Forwarded-For": address}, timeout=60)


def bearer(url: str, name: str) -> dict[str, str]:
    r = sign_in(url, name)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@contextmanager
def probing(url: str) -> Iterator[list[tuple[float, float]]]:
    """GET /healthz back to back while the block runs: (when it started, seconds it took)
    for each (a failure took 99)."""
    times: list[tuple[float, float]] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    ok = c.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                times.append((t0, time.perf_counter() - t0 if ok else 99.0))
                time.sleep(0.01)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    try:
        yield times
    finally:
        stop.set()
        t.join()


@contextmanager
def writing(url: str, h: dict[str, str], pid: str) -> Iterator[list[tuple[float, int]]]:
    """B's therapist adds a score every 0.1 s while the block runs: (when, status) of each."""
    statuses: list[tuple[float, int]] = []
    stop = threading.Event()

    def write() -> None:
        with httpx.Client(base_url=url, headers=h, timeout=60) as c:
            i = 0
            while not stop.is_set():
                t0 = time.perf_counter()
                r = c.post(f"/v1/patients/{pid}/scores", json=[{
                    "day": 1 + (i % 300), "score": i % 11, "client_id": uuid.uuid4().hex}])
                statuses.append((t0, r.status_code))
                i += 1
                time.sleep(0.1)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    try:
        yield statuses
    finally:
        stop.set()
        t.join()


def rss_mb(proc: subprocess.Popen[bytes]) -> float:
    return psutil.Process(proc.pid).memory_info().rss / 2**20


def timed(proc: subprocess.Popen[bytes], send: Callable[[], httpx.Response]
          ) -> dict[str, Any]:
    """One attack: its status, seconds, and A's RSS growth (MB)."""
    before, t0 = rss_mb(proc), time.perf_counter()
    try:
        r = send()
        status, text = r.status_code, r.text[:200]
    except httpx.HTTPError as exc:
        status, text = 599, type(exc).__name__
    return {"status": status, "seconds": round(time.perf_counter() - t0, 3),
            "rss_growth_mb": round(rss_mb(proc) - before, 1), "answer": text,
            "window": (t0, time.perf_counter())}


def dense_attacks(url: str, h: dict[str, str], pid: str, proc: subprocess.Popen[bytes]
                  ) -> dict[str, Any]:
    """Every spelling of a dense schedule on every route that takes one."""
    out: dict[str, Any] = {}
    for spelling, schedules in DENSE.items():
        routes: dict[str, tuple[str, dict[str, Any]]] = {
            "/v1/forecast": ("/v1/forecast", {"schedules": schedules, "horizon_days": 1}),
            "record forecast": (f"/v1/patients/{pid}/forecast",
                                {"schedules": schedules, "horizon_days": 1})}
        if len(schedules) == 1:
            routes["explain"] = (f"/v1/patients/{pid}/explain",
                                 {"schedule": schedules[0], "horizon_days": 1})
        for name, (path, body) in routes.items():
            out[f"{spelling} on {name}"] = timed(proc, lambda p=path, b=body: httpx.post(
                f"{url}{p}", json=b, headers=h, timeout=120))
    out["heaviest allowed forecast"] = timed(proc, lambda: httpx.post(
        f"{url}/v1/forecast", json=HEAVIEST, headers=h, timeout=120))
    return out


def bundle(n: int, patient: int) -> dict[str, Any]:
    """A transaction Bundle: one Patient and `n` pain Observations, 4 a day until today
    (each entry as lean as R4 allows: no fullUrl, the day's time as a date-time)."""
    ref = f"urn:uuid:{uuid.uuid4()}"
    now = datetime.now(UTC).replace(microsecond=0)
    entries: list[dict[str, Any]] = [{"fullUrl": ref, "resource": {
        "resourceType": "Patient", "identifier": [{"system": "urn:bench", "value": f"P{patient}"}],
        "name": [{"family": f"Bench{patient}"}]}, "request": {
        "method": "PUT", "url": f"Patient?identifier=urn:bench|P{patient}"}}]
    for i in range(n):
        at = now - timedelta(days=1 + i // 4, hours=3 * (i % 4))
        entries.append({"resource": {
            "resourceType": "Observation", "status": "final", "code": {"coding": [
                {"system": "http://loinc.org", "code": "72514-3"}]},
            "subject": {"reference": ref}, "effectiveDateTime": at.isoformat(),
            "valueInteger": i % 11}, "request": {"method": "POST", "url": "Observation"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def bundle_attack(url: str, h: dict[str, str], proc: subprocess.Popen[bytes]
                  ) -> dict[str, Any]:
    """Four Bundles of BUNDLE_ENTRIES Observations at once."""
    bodies = [json.dumps(bundle(BUNDLE_ENTRIES, i)).encode() for i in range(4)]
    headers = {**h, "Content-Type": "application/fhir+json"}

    def send(body: bytes) -> dict[str, Any]:
        return timed(proc, lambda: httpx.post(f"{url}/fhir", content=body, headers=headers,
                                              timeout=120))

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, bodies))
    return {"bytes": len(bodies[0]), "answers": answers}


def lockout_attack(url: str, limit: int = 10) -> dict[str, Any]:
    """Wrong passwords for the victim from one address; the rightful user elsewhere; many
    users' wrong passwords from one address, then a colleague behind it."""
    attacker, elsewhere = "198.51.100.7", "203.0.113.8"
    wrong = [sign_in(url, "victim", attacker, f"guess {i}").status_code
             for i in range(limit + 2)]
    sprayed = [sign_in(url, f"user{i % 5}", attacker, "wrong").status_code for i in range(50)]
    return {"wrong from the attacker": wrong,
            "right password from the attacker's address": sign_in(
                url, "victim", attacker).status_code,
            "right password from another address": sign_in(url, "victim", elsewhere).status_code,
            "50 wrong for 5 users from one address": sorted(set(sprayed)),
            "a colleague behind that address": sign_in(url, "colleague", attacker).status_code}


def worst_during(health: list[tuple[float, float]], window: tuple[float, float]) -> float:
    """The slowest /healthz that started within `window`, or overlapped it."""
    return round(max((dt for t, dt in health if t <= window[1] and t + dt >= window[0]),
                     default=0.0), 3)


def phases(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Worst /healthz on A and B, and B's 5xx, during each attack."""
    windows = {"dense schedules": (min(a["window"][0] for k, a in result["dense"].items()
                                       if k != "heaviest allowed forecast"),
                                   result["dense"]["heaviest allowed forecast"]["window"][0]),
               "heaviest allowed forecast":
                   result["dense"]["heaviest allowed forecast"]["window"],
               "lockout": result["lockout_window"]}
    if "bundles" in result:
        answers = result["bundles"]["answers"]
        windows["4 Bundles at once"] = (min(a["window"][0] for a in answers),
                                        max(a["window"][1] for a in answers))
    return {name: {"a": worst_during(result["health_a"], w),
                   "b": worst_during(result["health_b"], w),
                   "b_5xx": sum(s >= 500 for t, s in result["b_statuses"] if w[0] <= t <= w[1])}
            for name, w in windows.items()}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The targets' numbers: worst /healthz, B's 5xx, A's worst RSS growth, and any 5xx."""
    answers = [*result["dense"].values(), *result.get("bundles", {}).get("answers", [])]
    lock = result["lockout"]
    a_times = [dt for _, dt in result["health_a"]]
    b_times = [dt for _, dt in result["health_b"]]
    return {
        "health_worst_s": round(max(a_times + b_times), 3),
        "health_a_worst_s": round(max(a_times), 3),
        "health_b_worst_s": round(max(b_times), 3),
        "health_probes": len(a_times) + len(b_times),
        "health_worst_by_attack": phases(result),
        "b_writes": len(result["b_statuses"]),
        "b_5xx": sum(s >= 500 for _, s in result["b_statuses"]),
        "a_5xx": sum(a["status"] >= 500 for a in answers),
        "rss_growth_mb": max(a["rss_growth_mb"] for a in answers),
        "dense_refused_4xx": all(400 <= a["status"] < 500 for k, a in result["dense"].items()
                                 if k != "heaviest allowed forecast"),
        "dense_worst_s": max(a["seconds"] for a in result["dense"].values()),
        "lockout_spares_the_rightful_user": (
            lock["right password from another address"] == 200
            and lock["a colleague behind that address"] == 200)}


def run(db_url: str, work: Path, bundles: bool) -> dict[str, Any]:
    seed(db_url)
    env = env_for(db_url, work, secrets.token_urlsafe(48))
    a_port, b_port = free_port(), free_port()
    a = start(env, a_port, work / "a.log")
    b = start(env, b_port, work / "b.log")
    a_url, b_url = f"http://127.0.0.1:{a_port}", f"http://127.0.0.1:{b_port}"
    try:
        hp, ht = bearer(a_url, "patient"), bearer(b_url, "ther")
        pid = httpx.get(f"{a_url}/v1/me", headers=hp).json()["patient_id"]
        headers = dict(httpx.get(f"{a_url}/healthz").headers)
        with probing(a_url) as health_a, probing(b_url) as health_b, \
                writing(b_url, ht, pid) as b_statuses:
            result: dict[str, Any] = {"dense": dense_attacks(a_url, hp, pid, a)}
            if bundles:
                result["bundles"] = bundle_attack(a_url, ht, a)
            t0 = time.perf_counter()
            result["lockout"] = lockout_attack(a_url)
            result["lockout_window"] = (t0, time.perf_counter())
        result |= {"health_a": health_a, "health_b": health_b, "b_statuses": b_statuses,
                   "server_header": headers.get("server"),
                   "security_headers": {k: v for k, v in headers.items() if k in (
                       "content-security-policy", "x-content-type-options",
                       "x-frame-options", "referrer-policy")}}
    finally:
        for proc in (a, b):
            proc.terminate()
            proc.wait(timeout=30)
    return result


def fresh_pg(url: str) -> str:
    from sqlalchemy import create_engine, text

    name = f"abuse_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pg-url", help="a PostgreSQL server to make a fresh database on")
    ap.add_argument("--skip-bundles", action="store_true", help="leave out the FHIR Bundles")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db_url = fresh_pg(args.pg_url) if args.pg_url else f"sqlite:///{work}/recovery.db"
        result = run(db_url, work, not args.skip_bundles)
    backend = "postgresql" if args.pg_url else "sqlite"
    s = summary(result)
    s["meets_targets"] = (s["health_worst_s"] < TARGETS["health_worst_s"] and s["b_5xx"] == 0
                          and s["a_5xx"] == 0 and s["rss_growth_mb"] < TARGETS["rss_growth_mb"]
                          and s["dense_refused_4xx"] and s["lockout_spares_the_rightful_user"]
                          and result["server_header"] is None)
    out = {"machine": machine(), "commit": commit(), "database": backend, "targets": TARGETS,
           # the machine's 1-minute load average before and after (others' work shares it)
           "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
           "summary": s, "lockout": result["lockout"], "server_header": result["server_header"],
           "security_headers": result["security_headers"],
           "dense": {k: {x: v[x] for x in ("status", "seconds", "rss_growth_mb")}
                     for k, v in result["dense"].items()},
           "bundles": None if "bundles" not in result else {
               "entries": BUNDLE_ENTRIES, "bytes": result["bundles"]["bytes"],
               "answers": [{x: v[x] for x in ("status", "seconds", "rss_growth_mb", "answer")}
                           for v in result["bundles"]["answers"]]}}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"abuse{'' if backend == 'sqlite' else '_' + backend}.json"
    path.write_text(json.dumps(out, indent=1))
    print(json.dumps({"database": backend, **s, "lockout": result["lockout"]}, indent=1))


if __name__ == "__main__":
    main()
