"""Shared fixtures: a small simulated cohort, and one real (small) fit per test session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from recovery.model import Cohort, FittedModel, SamplerConfig, fit, simulate_cohort
from recovery.model.forecast import Forecaster
from recovery.service.settings import Settings

SLOW_PATIENTS, SLOW_WEEKS, SLOW_SEED = 40, 12, 5

DEFAULT_MODEL = Path(__file__).parents[1] / "data" / "default_model"


@pytest.fixture(scope="session")
def small_cohort() -> Cohort:
    cohort, _ = simulate_cohort(12, 8, np.random.default_rng(0))
    return cohort


@pytest.fixture(scope="session", params=["whole days", "clock times"])
def small_cohort_timed(request: pytest.FixtureRequest, small_cohort: Cohort) -> Cohort:
    """The small cohort as recorded (whole days), or with each session and score moved to a
    random time of its day (as dates with clock times give): the Ops' lag tables and the
    exact exp path both run."""
    if request.param == "whole days":
        return small_cohort
    rng = np.random.default_rng(7)
    moved = [frame.assign(day=frame["day"] + rng.uniform(0.0, 0.95, len(frame))).sort_values(
        ["patient_id", "day"], kind="stable").reset_index(drop=True)
        for frame in (small_cohort.sessions, small_cohort.pain)]
    return Cohort(small_cohort.patients, *moved)


@pytest.fixture(scope="session")
def slow_sim() -> tuple[Cohort, dict]:
    return simulate_cohort(SLOW_PATIENTS, SLOW_WEEKS, np.random.default_rng(SLOW_SEED))


@pytest.fixture(scope="session")
def fitted(slow_sim: tuple[Cohort, dict]) -> FittedModel:
    """One small real fit shared by every slow test: 2 chains x 5000 draws after 1500 tuning,
    target acceptance 0.95. On 40 patients the short relief's parameters are weakly informed;
    at the default 0.9 and 1000 tuning the fit had 1 divergence in 10,000 draws (R-hat 1.004),
    at 0.95 and 1500 none (R-hat 1.004, min ESS 580, about 280 s)."""
    cohort, _ = slow_sim
    return fit(cohort, sampler=SamplerConfig(draws=5000, tune=1500, target_accept=0.95,
                                             random_seed=3, progress_bar=False))


def write_cohort(tmp: Path, patients: str, sessions: str, pain: str) -> Path:
    for name, text in (("patients", patients), ("sessions", sessions), ("pain", pain)):
        (tmp / f"{name}.csv").write_text(text)
    return tmp


@pytest.fixture(scope="session")
def default_forecaster() -> Forecaster:
    """The bundled default model, ready to forecast (fast: no sampling)."""
    return Forecaster.from_directory(DEFAULT_MODEL)


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


# --- the service -----------------------------------------------------------------------------

PG_URL = os.environ.get("RECOVERY_TEST_PG_URL")  # `make test` sets it when it can start one
if os.environ.get("RECOVERY_REQUIRE_PG") and not PG_URL:
    raise RuntimeError("RECOVERY_REQUIRE_PG is set but no PostgreSQL is available")
DB_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="RECOVERY_TEST_PG_URL not set"))]


def _fresh_pg(url: str) -> str:
    """An empty schema for one test on the shared PostgreSQL server."""
    from sqlalchemy import create_engine, text

    name = f"t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


def _settings(backend: str, tmp: Path) -> Settings:
    url = f"sqlite:///{tmp}/recovery.db" if backend == "sqlite" else _fresh_pg(PG_URL or "")
    return Settings(database_url=url, secret_key=SecretStr("test-secret-" + "x" * 32),
                    models_dir=tmp / "models", cohorts_dir=tmp / "cohorts",
                    default_model_dir=DEFAULT_MODEL, max_body_bytes=2_000_000,
                    model_poll_seconds=0.5)


@pytest.fixture(params=DB_BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return _settings(request.param, tmp_path)


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
    from recovery.service.api_auth import create
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
            year_ago = date.today() - timedelta(days=365)  # room for diaries of past days
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


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with running_api(settings) as a:
        yield a


@pytest.fixture(scope="module", params=DB_BACKENDS)
def shared_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Api]:
    """One app per test module (for read-mostly tests such as the authorization matrix)."""
    with running_api(_settings(request.param, tmp_path_factory.mktemp("svc"))) as a:
        yield a
