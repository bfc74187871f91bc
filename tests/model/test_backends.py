"""Sampler backends beyond the default, and the ADVI quick look."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from recovery.cli import app
from recovery.model import PARAMS, Cohort, SamplerConfig, fit, load


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["numpyro", "nutpie-jax"])
def test_jax_backends_fit_the_same_model(small_cohort: Cohort, sampler: str) -> None:
    fitted = fit(small_cohort, sampler=SamplerConfig(sampler=sampler, draws=60, tune=60,
                                                     max_tree_depth=4, progress_bar=False))
    d = fitted.diagnostics
    assert d.sampler == sampler
    assert d.n_patients == len(small_cohort.patient_ids)
    theta = fitted.idata["posterior"]["theta"]
    assert theta.shape[-2:] == (len(small_cohort.patient_ids), len(PARAMS))
    assert np.isfinite(d.max_rhat or np.nan)
    assert d.max_tree_depth == 4
    assert d.steps_per_draw is not None
    assert d.steps_per_draw <= 15


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_tree_depth_cap_bounds_each_draws_gradients(small_cohort: Cohort, sampler: str) -> None:
    """Depth 3: at most 7 leapfrog steps per draw, where this model's trees otherwise take
    about 31; the share of draws stopped by the cap is reported."""
    d = fit(small_cohort, sampler=SamplerConfig(sampler=sampler, draws=60, tune=60,
                                                max_tree_depth=3, progress_bar=False)
            ).diagnostics
    assert d.max_tree_depth == 3
    assert d.steps_per_draw is not None
    assert d.steps_per_draw <= 7
    assert d.depth_capped is not None
    assert d.depth_capped > 0.5


@pytest.mark.slow
def test_quick_look_cli_labels_it_and_it_forecasts(small_cohort: Cohort, tmp_path: Path) -> None:
    small_cohort.save(tmp_path / "cohort")
    res = CliRunner().invoke(app, ["fit", str(tmp_path / "cohort"), "--out", str(tmp_path / "q"),
                                   "--quick", "--iterations", "500", "--keep-draws", "200"])
    assert res.exit_code == 0, res.output
    assert "QUICK LOOK" in res.output
    quick = load(tmp_path / "q")
    d = quick.diagnostics
    assert d.method == "advi"
    assert not d.passed
    assert d.max_rhat is None
    assert d.problems[0].startswith("QUICK LOOK")
    assert "NUTS" in d.problems[0]
    assert (tmp_path / "q" / "ppc.png").exists()
    traj = quick.trajectory(small_cohort.patient_ids[0], np.arange(0, 30.0))
    assert traj.shape == (200, 30)
    assert ((traj > 0) & (traj < 10)).all()
