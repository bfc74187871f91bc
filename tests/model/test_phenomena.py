"""The phenomena report: the committed report is what the bundled model says today, and the
report runs end to end (CLI included) on a freshly fitted model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recovery.cli import app
from recovery.model import FittedModel
from recovery.model.checks.phenomena import CASES, PhenomenaReport
from recovery.model.checks.phenomena_report import readme_block, run_phenomena, write_report
from recovery.model.checks.trials import TRIALS, run_trials
from recovery.model.predict.forecast import Forecaster
from tests.helpers import DEFAULT_MODEL, ROOT

COMMITTED = ROOT / "docs" / "phenomena" / "phenomena.json"


def test_committed_report_is_what_the_default_model_says(default_forecaster: Forecaster
                                                         ) -> None:
    """docs/phenomena was written from the bundled model: rerunning it gives the same figures
    and verdicts (forecasts are seeded), so the README's table cannot drift from the model."""
    committed = json.loads(COMMITTED.read_text())
    report = run_phenomena(default_forecaster)
    assert committed["model_version"] == report.model_version
    for want, got in zip(committed["cases"], report.cases, strict=True):
        assert (want["key"], want["passed"]) == (got.key, got.passed)
        assert want["measured"] == pytest.approx(got.measured, abs=0.02), got.key
    for want_t, got_t in zip(committed["trials"], report.trials, strict=True):
        assert (want_t["key"], want_t["verdict"]) == (got_t.key, got_t.verdict)
        assert want_t["measured"] == pytest.approx(got_t.measured, abs=0.05), got_t.key


def test_readme_shows_the_committed_report() -> None:
    report = PhenomenaReport.model_validate_json(COMMITTED.read_text())
    model_page = COMMITTED.parents[1] / "model.md"  # docs/model.md: links relative to docs/
    assert readme_block(report, "phenomena") in model_page.read_text()


def test_every_case_has_a_chart_and_a_row(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["phenomena", "--model", str(DEFAULT_MODEL),
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "phenomena.md").read_text()
    data = json.loads((tmp_path / "phenomena.json").read_text())
    assert [c["key"] for c in data["cases"]] == [c.key for c in CASES]
    for case in CASES:
        assert (tmp_path / f"{case.key}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"({case.key}.png)" in md
        assert case.claim in result.output
    assert f"{data['passed']} of {len(CASES)} claims hold" in result.output
    assert [t["key"] for t in data["trials"]] == [y.figure.key for _, ys in TRIALS for y in ys]
    assert "Eklund 2018" in result.output
    assert "Trial yardsticks" in md


def test_a_trial_figure_is_judged_against_its_published_range(default_forecaster: Forecaster
                                                              ) -> None:
    """The natural-course arm ends where Costa's cohorts do; the days-in-pain count is the
    sum of each day's chance, so an arm in more pain has more such days."""
    trials = {t.key: t for t in run_trials(default_forecaster)}
    costa = trials["costa_52_weeks"]
    assert costa.low <= costa.measured <= costa.high
    assert costa.verdict == "within"
    cherkin = trials["cherkin_10_weeks"]
    assert cherkin.verdict == ("below" if cherkin.measured < 1.4 else
                               "above" if cherkin.measured > 1.7 else "within")
    assert trials["eklund_bothersome_days"].measured > 0  # booked visits beat waiting


@pytest.mark.slow
def test_report_runs_on_a_freshly_fitted_model(fitted: FittedModel, tmp_path: Path) -> None:
    report = write_report(Forecaster(fitted), tmp_path)
    assert report.total == len(CASES)
    assert report.passed == sum(c.passed for c in report.cases)
    assert all(c.measured for c in report.cases)
    # a fitted model of simulated diaries shows relief that fades when sessions stop
    returns = next(c for c in report.cases if c.key == "returns_after_stopping")
    assert returns.measured["regained_6_months"] > 0.2
