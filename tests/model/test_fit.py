"""Slow: one small real fit per session — diagnostics, parameter recovery, save/load."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from recovery.cli import app
from recovery.model import Cohort, FittedModel, load, save
from recovery.model.predict.forecast import Forecaster
from recovery.model.requests import ForecastRequest
from recovery.model.simulation.simulate import truth_table
from tests.helpers import history_request

pytestmark = pytest.mark.slow


def test_fit_converges_without_divergences(fitted: FittedModel) -> None:
    d = fitted.diagnostics
    assert d.max_rhat <= 1.01, d.problems
    assert d.divergences == 0
    assert d.min_ess_bulk > 100
    assert d.n_patients == 40


def _draws(fitted: FittedModel, name: str) -> np.ndarray:
    var, _, idx = name.partition("[")
    x = fitted.idata["posterior"][var]
    if idx:
        x = x.sel({x.dims[-1]: idx.rstrip("]")})
    return np.asarray(x.values).ravel()


def test_population_parameters_are_recovered(fitted: FittedModel,
                                             slow_sim: tuple[Cohort, dict]) -> None:
    """Calibrated 90 % intervals cover ~90 % of 17 true values; none is far outside (99.5 %)."""
    truth = {k: v for k, v in truth_table(slow_sim[1]).items()
             if not k.startswith("patient_sd")}
    inside90, outside995 = [], []
    for name, value in truth.items():
        x = _draws(fitted, name)
        lo, hi = np.quantile(x, [0.05, 0.95])
        inside90.append(lo <= value <= hi)
        lo2, hi2 = np.quantile(x, [0.0025, 0.9975])
        if not lo2 <= value <= hi2:
            outside995.append(f"{name}: truth {value:.3f}, 99.5 % [{lo2:.3f}, {hi2:.3f}]")
    assert np.mean(inside90) >= 0.8, [n for n, ok in zip(truth, inside90, strict=True) if not ok]
    assert not outside995


def test_saved_posterior_loads_and_gives_the_same_trajectories(fitted: FittedModel,
                                                               tmp_path: Path) -> None:
    days = np.arange(0, 200.0, 3)
    before = fitted.trajectory("P00003", days)
    save(fitted, tmp_path / "m")
    again = load(tmp_path / "m")
    np.testing.assert_array_equal(again.trajectory("P00003", days), before)
    assert again.model_id == fitted.model_id
    assert again.kinds == fitted.kinds
    assert again.diagnostics == fitted.diagnostics
    stored = fitted.idata["posterior"].sizes
    assert before.shape == (stored["chain"] * stored["draw"], len(days))
    assert stored["draw"] == 1000  # 5000 draws per chain, every 5th kept: keep_draws=1000
    assert np.all((before > 0) & (before < 10))
    req = ForecastRequest.model_validate(history_request())
    assert Forecaster(again).forecast(req) == Forecaster(fitted).forecast(req)


def test_fit_cli_writes_everything_and_fails_the_gate_on_a_short_run(
        small_cohort: Cohort, tmp_path: Path) -> None:
    small_cohort.save(tmp_path / "cohort")
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["fit", str(tmp_path / "cohort"), "--out", str(out),
                                      "--draws", "40", "--max-draws", "40", "--tune", "60",
                                      "--seed", "2",
                                      "--sampler", "nutpie-jax",  # compiles fastest
                                      "--max-tree-depth", "4",
                                      "--strategy", "subsample", "--subsample", "8",
                                      "--workers", "1"])
    assert result.exit_code == 3, result.output
    d = load(out).diagnostics
    assert d.strategy == "subsample"
    assert 8 <= d.n_patients < 12
    assert d.cohort_update is not None
    assert d.cohort_update.updated == 12
    assert f"R-hat and ESS are of NUTS on {d.n_patients} of 12 patients" in result.output
    params = pd.read_parquet(out / "patients" / "parameters.parquet")
    assert sorted(params["patient_id"].unique()) == sorted(small_cohort.patient_ids)
    assert "DIAGNOSTICS FAILED" in result.output
    assert "ESS" in result.output
    assert "of draws stopped at the tree depth cap (4)" in result.output
    for name in ("posterior.nc", "diagnostics.json", "ppc.png", "population.png",
                 "cohort/pain.csv"):
        assert (out / name).exists(), name
    assert load(out).diagnostics.passed is False
    bad = CliRunner().invoke(app, ["fit", str(tmp_path / "cohort"), "--out", str(out),
                                   "--max-tree-depth", "2"])
    assert bad.exit_code == 2
    assert "--max-tree-depth" in bad.output
    bad = CliRunner().invoke(app, ["fit", str(tmp_path / "cohort"), "--out", str(out),
                                   "--strategy", "shards"])
    assert bad.exit_code == 2
    assert "--strategy must be one of auto, full, subsample" in bad.output
