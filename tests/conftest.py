"""Shared fixtures: a small simulated cohort, and one real (small) fit per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from recovery.model import Cohort, FittedModel, SamplerConfig, fit, simulate_cohort
from recovery.model.predict.forecast import Forecaster
from recovery.service.settings import Settings
from tests.helpers import DB_BACKENDS, DEFAULT_MODEL, Api, running_api, service_settings

SLOW_PATIENTS, SLOW_WEEKS, SLOW_SEED = 40, 12, 5


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the shared fit run on one xdist worker (with `--dist loadgroup`), so the fit
    is sampled once, not once per worker."""
    for item in items:
        if "fitted" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("fitted"))


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


def _claim_the_fit(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Under xdist, fail if another worker already sampled the shared fit: its tests are
    grouped onto one worker, and a silent break of that grouping doubles the slow run."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return
    claim = tmp_path_factory.getbasetemp().parent / "fitted-by"  # shared by this run's workers
    try:
        with claim.open("x") as f:
            f.write(worker)
    except FileExistsError:
        pytest.fail(f"the shared fit was already sampled on {claim.read_text()}: the "
                    f"xdist_group of its tests was not honoured (run with --dist loadgroup)")


@pytest.fixture(scope="session")
def slow_sim() -> tuple[Cohort, dict]:
    return simulate_cohort(SLOW_PATIENTS, SLOW_WEEKS, np.random.default_rng(SLOW_SEED))


@pytest.fixture(scope="session")
def fitted(slow_sim: tuple[Cohort, dict], tmp_path_factory: pytest.TempPathFactory
           ) -> FittedModel:
    """One small real fit shared by every slow test: 2 chains x 5000 draws after 1500 tuning,
    target acceptance 0.95, which keeps the weakly informed short relief free of divergences
    on 40 patients (docs/decisions/0008-sampling-the-hierarchy.md)."""
    _claim_the_fit(tmp_path_factory)
    cohort, _ = slow_sim
    return fit(cohort, sampler=SamplerConfig(draws=5000, tune=1500, target_accept=0.95,
                                             random_seed=3, progress_bar=False))


@pytest.fixture(scope="session")
def default_forecaster() -> Forecaster:
    """The bundled default model, ready to forecast (fast: no sampling)."""
    return Forecaster.from_directory(DEFAULT_MODEL)


@pytest.fixture(params=DB_BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return service_settings(request.param, tmp_path)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with running_api(settings) as a:
        yield a


@pytest.fixture(scope="module", params=DB_BACKENDS)
def shared_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Api]:
    """One app per test module (for read-mostly tests such as the authorization matrix)."""
    with running_api(service_settings(request.param, tmp_path_factory.mktemp("svc"))) as a:
        yield a
