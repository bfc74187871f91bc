"""`recovery forecast / optimise / evaluate` as a user runs them: files written, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recovery.cli import app
from recovery.model.predict import update
from tests.helpers import DEFAULT_MODEL, history_request

runner = CliRunner()


def test_forecast_writes_json_and_fan_chart(tmp_path: Path) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps(history_request()))
    res = runner.invoke(app, ["forecast", "--model", str(DEFAULT_MODEL), "--request", str(req),
                              "--out", str(tmp_path / "f.json"), "--plot",
                              str(tmp_path / "f.png")])
    assert res.exit_code == 0, res.output
    body = json.loads((tmp_path / "f.json").read_text())
    assert [f["name"] for f in body["forecasts"]] == ["recovery_then_stop", "none"]
    assert set(body["forecasts"][0]["quantiles"]) == {"5", "25", "50", "75", "95"}
    assert (tmp_path / "f.png").stat().st_size > 20_000
    assert "Difference in mean pain (recovery_then_stop minus none)" in res.output


def test_forecast_bad_request_exits_2_naming_the_field(tmp_path: Path) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps(history_request(horizon_days=5000)))
    res = runner.invoke(app, ["forecast", "--model", str(DEFAULT_MODEL), "--request", str(req)])
    assert res.exit_code == 2
    assert "horizon_days" in res.output
    assert "Traceback" not in res.output


def test_forecast_unknown_kind_exits_2(tmp_path: Path) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps(history_request(schedules=[{"name": "none", "kind": "reiki"}])))
    res = runner.invoke(app, ["forecast", "--model", str(DEFAULT_MODEL), "--request", str(req)])
    assert res.exit_code == 2
    assert "reiki" in res.output


def test_forecast_missing_model_exits_2(tmp_path: Path) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps(history_request()))
    res = runner.invoke(app, ["forecast", "--model", str(tmp_path), "--request", str(req)])
    assert res.exit_code == 2
    assert "not a model directory" in res.output


def test_optimise_cli(tmp_path: Path) -> None:
    base = history_request()
    req = tmp_path / "opt.json"
    req.write_text(json.dumps({"history": base["history"], "start_day": 20, "horizon_days": 56,
                               "target_score": 5, "level": 0.5}))
    res = runner.invoke(app, ["optimise", "--model", str(DEFAULT_MODEL), "--request", str(req),
                              "--out", str(tmp_path / "o.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "o.json").read_text())["best"] is not None


def test_forecast_warns_when_the_update_rests_on_too_few_draws(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(update, "TRUST_ESS", 1e9)
    req = tmp_path / "req.json"
    req.write_text(json.dumps(history_request()))
    res = runner.invoke(app, ["forecast", "--model", str(DEFAULT_MODEL), "--request", str(req),
                              "--out", str(tmp_path / "f.json")])
    assert res.exit_code == 0
    assert "warning:" in res.output
    assert "unreliable" in res.output
    assert json.loads((tmp_path / "f.json").read_text())["update"]["low_ess"] is True


def test_forecast_quotes_the_models_held_out_calibration(tmp_path: Path) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps(history_request()))
    res = runner.invoke(app, ["forecast", "--model", str(DEFAULT_MODEL), "--request", str(req),
                              "--out", str(tmp_path / "f.json")])
    report = json.loads((DEFAULT_MODEL / "evaluation.json").read_text())["methods"]["model"]
    cal = json.loads((tmp_path / "f.json").read_text())["calibration"]
    assert (cal["coverage_90"], cal["coverage_50"]) == (report["coverage_90"],
                                                        report["coverage_50"])
    assert f"90 % held {report['coverage_90']:.0%}" in res.output


def test_a_model_of_an_older_format_is_refused_by_name(tmp_path: Path) -> None:
    import h5py

    old = tmp_path / "old_model"
    shutil.copytree(DEFAULT_MODEL, old)
    (old / "evaluation.json").unlink()
    with h5py.File(old / "posterior.nc", "r+") as f:
        f["posterior"].attrs["recovery_format_version"] = "1"
    req = tmp_path / "req.json"
    req.write_text(json.dumps(history_request()))
    res = runner.invoke(app, ["forecast", "--model", str(old), "--request", str(req)])
    assert res.exit_code != 0
    assert "format version '1'" in res.output
    assert "Traceback" not in res.output
