"""Shared fixtures: a small simulated cohort, and one real (small) fit per test session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recovery.model import Cohort, FittedModel, SamplerConfig, fit, load, simulate_cohort
from recovery.model.forecast import Forecaster

SLOW_PATIENTS, SLOW_WEEKS, SLOW_SEED = 40, 12, 5
DEFAULT_MODEL = Path(__file__).parents[1] / "data" / "default_model"


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


@pytest.fixture(scope="session")
def default_forecaster() -> Forecaster:
    """The bundled default model, ready to forecast (fast: no sampling)."""
    return Forecaster(load(DEFAULT_MODEL))


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
