"""Shared fixtures: a small simulated cohort, and one real (small) fit per test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recovery.model import Cohort, FittedModel, SamplerConfig, fit, simulate_cohort

SLOW_PATIENTS, SLOW_WEEKS, SLOW_SEED = 40, 12, 5


@pytest.fixture(scope="session")
def small_cohort() -> Cohort:
    cohort, _ = simulate_cohort(12, 8, np.random.default_rng(0))
    return cohort


@pytest.fixture(scope="session")
def slow_sim() -> tuple[Cohort, dict]:
    return simulate_cohort(SLOW_PATIENTS, SLOW_WEEKS, np.random.default_rng(SLOW_SEED))


@pytest.fixture(scope="session")
def fitted(slow_sim: tuple[Cohort, dict]) -> FittedModel:
    """One small real fit shared by every slow test (2 chains x 1500 draws)."""
    cohort, _ = slow_sim
    return fit(cohort, sampler=SamplerConfig(draws=1500, tune=1000, random_seed=3,
                                             progress_bar=False))


def write_cohort(tmp: Path, patients: str, sessions: str, pain: str) -> Path:
    for name, text in (("patients", patients), ("sessions", sessions), ("pain", pain)):
        (tmp / f"{name}.csv").write_text(text)
    return tmp
