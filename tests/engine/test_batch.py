"""Cohort-wide forecasts: the same tables in one process and on a two-worker Dask cluster,
tidy Parquet, clear CLI errors, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from recovery.cli import app
from recovery.engine import connect, run_batch
from recovery.engine import forecast_batch as engine_batch
from recovery.model import PARAMS, Cohort, Forecaster, simulate_cohort
from recovery.model.predict.batch import BatchSpec
from recovery.model.requests import ScheduleSpec
from tests.helpers import DEFAULT_MODEL

runner = CliRunner()
SPEC = BatchSpec((ScheduleSpec(name="recovery_then_stop"), ScheduleSpec(name="none")),
                 horizon_days=60, draws=200, seed=4)
KEYS = {"trajectories": ["patient_id", "schedule", "day"], "summaries": ["patient_id", "schedule"]}


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return simulate_cohort(9, 6, np.random.default_rng(11))[0]


def _read(out: Path, name: str) -> pd.DataFrame:
    frame = pd.read_parquet(out / f"{name}.parquet")
    return frame.sort_values(KEYS[name]).reset_index(drop=True)


def test_in_process_batch_writes_tidy_tables(default_forecaster: Forecaster, cohort: Cohort,
                                             tmp_path: Path) -> None:
    res = run_batch(default_forecaster, cohort, SPEC, tmp_path / "out", chunk_size=4)
    traj, summ = _read(tmp_path / "out", "trajectories"), _read(tmp_path / "out", "summaries")
    assert res.patients == 9
    assert res.failed == 0
    assert len(summ) == 9 * 2
    assert set(summ["schedule"]) == {"recovery_then_stop", "none"}
    # one row per patient, schedule and day (61 days plus the relapse points)
    assert traj.groupby(["patient_id", "schedule"]).size().min() >= 61
    q = traj[["q05", "q25", "q50", "q75", "q95"]].to_numpy()
    assert (np.diff(q, axis=1) >= -1e-9).all()
    assert q.min() >= 0
    assert q.max() <= 10
    assert (summ.groupby("patient_id")["rank"].apply(sorted).map(list) == [[1, 2]] * 9).all()
    params = pd.read_parquet(tmp_path / "out" / "parameters.parquet")
    assert len(params) == 9 * len(PARAMS)
    assert set(params["parameter"]) == set(PARAMS)
    q = params[["q05", "q50", "q95"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    assert (params["sd"] > 0).all()
    base = params[params["parameter"] == "base"]
    assert base["mean"].between(0, 10).all()  # the natural scale: a pain level
    updates = pd.read_parquet(tmp_path / "out" / "updates.parquet")
    assert sorted(updates["patient_id"]) == sorted(cohort.patient_ids)
    assert (updates["ess"] > 0).all()
    assert updates["method"].isin(["importance", "smc"]).all()


@pytest.mark.slow
def test_two_dask_workers_give_the_single_process_result(
        default_forecaster: Forecaster, cohort: Cohort, tmp_path: Path) -> None:
    run_batch(default_forecaster, cohort, SPEC, tmp_path / "one", chunk_size=2)
    with connect(None, workers=2) as client:
        res = run_batch(default_forecaster, cohort, SPEC, tmp_path / "two", client, chunk_size=2)
    assert res.workers == 2
    for name in KEYS:
        pd.testing.assert_frame_equal(_read(tmp_path / "one", name), _read(tmp_path / "two", name))


def test_a_failed_batch_leaves_no_output(default_forecaster: Forecaster, cohort: Cohort,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing(*args: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return real(*args)

    real = engine_batch.forecast_patients
    monkeypatch.setattr(engine_batch, "forecast_patients", failing)
    with pytest.raises(RuntimeError):
        run_batch(default_forecaster, cohort, SPEC, tmp_path / "out", chunk_size=3)
    assert list(tmp_path.iterdir()) == []


def test_cli_forecast_batch(cohort: Cohort, tmp_path: Path) -> None:
    cohort.save(tmp_path / "cohort")
    args = ["forecast-batch", "--model", str(DEFAULT_MODEL), "--cohort", str(tmp_path / "cohort"),
            "--out", str(tmp_path / "out"), "--workers", "0", "--horizon-days", "30",
            "--draws", "200"]
    res = runner.invoke(app, [*args, "--schedule", "weekly_taper"])
    assert res.exit_code == 0, res.output
    assert "9 patients" in res.output
    assert set(_read(tmp_path / "out", "summaries")["schedule"]) == {"weekly_taper"}
    assert (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.parametrize(("extra", "needle"), [
    (["--schedule", "daily_reiki"], "unknown preset"),
    (["--horizon-days", "700", "--draws", "20000"], "over the limit"),
])
def test_cli_forecast_batch_refuses_bad_input(cohort: Cohort, tmp_path: Path,
                                              extra: list[str], needle: str) -> None:
    cohort.save(tmp_path / "cohort")
    res = runner.invoke(app, ["forecast-batch", "--model", str(DEFAULT_MODEL), "--cohort",
                              str(tmp_path / "cohort"), "--out", str(tmp_path / "out"),
                              "--workers", "0", *extra])
    assert res.exit_code == 2, res.output
    assert needle in res.output, res.output
    assert not (tmp_path / "out").exists()


def test_cli_forecast_batch_refuses_unknown_kind(cohort: Cohort, tmp_path: Path) -> None:
    cohort.save(tmp_path / "cohort")
    specs = tmp_path / "s.json"
    specs.write_text('[{"name": "weekly_taper", "kind": "reiki"}]')
    res = runner.invoke(app, ["forecast-batch", "--model", str(DEFAULT_MODEL), "--cohort",
                              str(tmp_path / "cohort"), "--out", str(tmp_path / "out"),
                              "--schedules", str(specs), "--workers", "0"])
    assert res.exit_code == 2, res.output
    assert "reiki" in res.output, res.output
