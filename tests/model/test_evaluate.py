"""Held-out forecast evaluation: scoring rules, report files, and calibration on a fresh cohort."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recovery.model import Cohort, simulate_cohort
from recovery.model.checks.evaluate import (
    BAND_NAMES,
    _normal_predictive,
    _score,
    evaluate,
    write_report,
)
from recovery.model.predict.forecast import Forecaster


def test_scores_of_a_known_predictive() -> None:
    y = np.array([5.0, 0.0, 10.0])
    sure = _normal_predictive(np.array([5.0, 0.0, 10.0]), np.full(3, 1e-6))
    s = _score(sure, y)
    assert np.allclose(s["crps"], 0)
    assert np.allclose(s["ae"], 0)
    wrong = _score(_normal_predictive(np.full(3, 5.0), np.full(3, 1e-6)), y)
    assert np.allclose(wrong["crps"], [0, 5, 5])  # |y - x| for a point forecast
    assert np.allclose(wrong["cover"][:, 1:], 0)
    wide = _score(_normal_predictive(np.full(3, 5.0), np.full(3, 1e3)), y)
    assert np.allclose(wide["cover"][-1], 1)  # the 90 % interval spans 0-10


def test_report_on_a_small_cohort(default_forecaster: Forecaster, small_cohort: Cohort,
                                  tmp_path: Path) -> None:
    report = evaluate(default_forecaster, small_cohort, holdout_days=14, draws=300)
    assert set(report.methods) == {"model", "last score carried forward",
                                   "population mean trajectory", "own linear trend"}
    assert report.patients + report.skipped_patients == 12
    assert report.held_out_scores > 0
    cal = list(report.methods["model"].calibration.values())
    assert np.all(np.diff(cal) >= 0)  # nested intervals cover more
    # every held-out score is counted once, in the band of its patient's history length
    assert list(report.by_history) == [b for b in BAND_NAMES if b in report.by_history]
    assert sum(s.scores for s in report.by_history.values()) == report.held_out_scores
    write_report(report, tmp_path)
    assert (tmp_path / "calibration.png").stat().st_size > 10_000
    md = (tmp_path / "report.md").read_text()
    assert "| model |" in md
    assert all(f"| {band} |" in md for band in report.by_history)


@pytest.mark.slow
def test_calibrated_and_better_than_baselines_on_a_fresh_cohort(
    default_forecaster: Forecaster,
) -> None:
    cohort, _ = simulate_cohort(40, 20, np.random.default_rng(2024))
    report = evaluate(default_forecaster, cohort, holdout_days=42)
    model = report.methods["model"]
    assert 0.85 <= model.coverage_90 <= 0.95, model
    assert report.crps_beats_every_baseline, report.methods
    assert not report.overlaps_training_cohort
