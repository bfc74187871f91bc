"""Sampler backends beyond the default, the JAX erfcx they need, and the ADVI quick look."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.special as sp
from typer.testing import CliRunner

from recovery.cli import app
from recovery.model import Cohort, SamplerConfig, fit, load


def test_jax_erfcx_matches_scipy_in_value_and_gradient() -> None:
    import jax

    from recovery.model.jax_ops import erfcx

    jax.config.update("jax_enable_x64", True)
    x = np.array([0.0, 0.7, 3.0, 9.99, 10.0, 10.01, 40.0, 1e4])
    np.testing.assert_allclose(np.asarray(erfcx(x)), sp.erfcx(x), rtol=1e-6)
    grad = np.asarray(jax.vmap(jax.grad(erfcx))(x))
    np.testing.assert_allclose(grad, 2 * x * sp.erfcx(x) - 2 / np.sqrt(np.pi), rtol=1e-5,
                               atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["numpyro", "nutpie-jax"])
def test_jax_backends_fit_the_same_model(small_cohort: Cohort, sampler: str) -> None:
    fitted = fit(small_cohort, sampler=SamplerConfig(sampler=sampler, draws=60, tune=60,
                                                     progress_bar=False))
    d = fitted.diagnostics
    assert d.sampler == sampler and d.n_patients == len(small_cohort.patient_ids)
    assert fitted.idata["posterior"]["theta"].shape[-2:] == (len(small_cohort.patient_ids), 6)
    assert np.isfinite(d.max_rhat or np.nan)


@pytest.mark.slow
def test_quick_look_cli_labels_it_and_it_forecasts(small_cohort: Cohort, tmp_path: Path) -> None:
    small_cohort.save(tmp_path / "cohort")
    res = CliRunner().invoke(app, ["fit", str(tmp_path / "cohort"), "--out", str(tmp_path / "q"),
                                   "--quick", "--iterations", "500", "--keep-draws", "200"])
    assert res.exit_code == 0, res.output
    assert "QUICK LOOK" in res.output
    quick = load(tmp_path / "q")
    d = quick.diagnostics
    assert d.method == "advi" and not d.passed and d.max_rhat is None
    assert d.problems[0].startswith("QUICK LOOK") and "NUTS" in d.problems[0]
    assert (tmp_path / "q" / "ppc.png").exists()
    traj = quick.trajectory(small_cohort.patient_ids[0], np.arange(0, 30.0))
    assert traj.shape == (200, 30) and ((traj > 0) & (traj < 10)).all()
