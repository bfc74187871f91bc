"""A refit handed to the Dask engine: the fit runs on a cluster worker, progress comes back."""

from __future__ import annotations

import numpy as np
import pytest

from recovery.engine import fit_on_engine
from recovery.model import SamplerConfig, simulate_cohort


@pytest.mark.slow
def test_fit_runs_on_a_dask_worker_and_reports_progress() -> None:
    """nutpie's JAX backend: the same reporting path, a fraction of numba's compile time."""
    cohort, _ = simulate_cohort(6, 4, np.random.default_rng(2))
    seen: list[tuple[float, str]] = []
    fitted = fit_on_engine(None, cohort, SamplerConfig(sampler="nutpie-jax", draws=60, tune=60,
                                                         random_seed=2),
                           lambda f, phase: seen.append((f, phase)), poll=1.0)
    assert fitted.diagnostics.n_patients == 6
    assert fitted.idata["posterior"].sizes["draw"] == 60
    assert seen
    assert all(0 <= f <= 1 for f, _ in seen)
    assert all(phase.startswith(("tuning", "sampling, draw ")) for _, phase in seen), seen
