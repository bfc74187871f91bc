"""Sampling that stops when its gate passes or its time budget runs out, keeping complete draws."""

from __future__ import annotations

from typing import Any

import arviz as az
import numpy as np
import pytest
from typer.testing import CliRunner

from recovery.cli import app
from recovery.model import SamplerConfig, fit, simulate_cohort
from recovery.model.inference.budget import BudgetError, complete_draws, sample_in_background


def _trace(lengths: list[int], width: int = 10) -> az.InferenceData:
    """A nutpie-like trace: chains of different lengths, padded with NaN to the longest."""
    x = np.full((len(lengths), width), np.nan)
    for c, n in enumerate(lengths):
        x[c, :n] = np.arange(n)
    div = np.zeros_like(x, dtype=bool)
    return az.from_dict(posterior={"a": x}, sample_stats={"diverging": div})


def test_complete_draws_keeps_what_every_chain_finished() -> None:
    got = complete_draws(_trace([7, 5]))
    assert got["posterior"].sizes["draw"] == 5
    assert np.isfinite(got["posterior"]["a"]).all()
    assert got["sample_stats"].sizes["draw"] == 5


class _FakeSampler:
    """Adds `per_poll` draws per chain each time it is inspected (a nutpie stand-in)."""

    def __init__(self, total: int, per_poll: int) -> None:
        self.done, self.total, self.per_poll, self.aborted = 0, total, per_poll, False

    @property
    def is_finished(self) -> bool:
        return self.done >= self.total

    def inspect(self) -> az.InferenceData:
        self.done = min(self.done + self.per_poll, self.total)
        return _trace([self.done, max(self.done - 1, 0)], width=self.total)

    def abort(self) -> az.InferenceData:  # sampling went on since the last inspect
        self.aborted, self.done = True, min(self.done + self.per_poll, self.total)
        return _trace([self.done, max(self.done - 1, 0)], width=self.total)

    def wait(self) -> az.InferenceData:
        return _trace([self.total, self.total], width=self.total)


class _FakeNutpie:
    def __init__(self, sampler: _FakeSampler) -> None:
        self.sampler = sampler
        self.kwargs: dict[str, Any] = {}

    def sample(self, compiled: Any, **kwargs: Any) -> _FakeSampler:
        self.kwargs = kwargs
        return self.sampler


def test_sampling_goes_on_past_draws_until_the_gate_passes() -> None:
    fake = _FakeNutpie(_FakeSampler(total=5000, per_poll=100))
    checked: list[int] = []

    def gate(t: az.InferenceData) -> tuple[bool, str]:
        n = int(t["posterior"].sizes["draw"])
        checked.append(n)
        return n >= 800, f"{n} draws"

    s = SamplerConfig(draws=300, tune=10, max_draws=5000)
    idata, stopped = sample_in_background(fake, None, {"draws": 300}, s, gate, None, every=0,
                                          check_every=0)
    assert fake.kwargs["draws"] == 5000  # asked for the ceiling, stopped early
    assert stopped == "gate passed"
    assert fake.sampler.aborted
    assert checked[0] >= 300 - 1
    assert idata["posterior"].sizes["draw"] >= 800 - 1
    assert idata["posterior"].sizes["draw"] == checked[-1]  # exactly the draws that passed


def test_without_a_ceiling_or_budget_the_run_is_its_draws() -> None:
    fake = _FakeNutpie(_FakeSampler(total=300, per_poll=100))
    s = SamplerConfig(draws=300, tune=10)
    idata, stopped = sample_in_background(fake, None, {"draws": 300}, s,
                                          lambda t: (True, ""), None, every=0)
    assert stopped is None
    assert idata["posterior"].sizes["draw"] == 300


def test_a_budget_that_ends_before_any_kept_draw_says_so() -> None:
    fake = _FakeNutpie(_FakeSampler(total=1000, per_poll=0))  # still tuning
    s = SamplerConfig(draws=100, tune=10, max_draws=1000, max_minutes=1e-6)
    with pytest.raises(BudgetError, match="ran out while tuning"):
        sample_in_background(fake, None, {"draws": 100}, s, lambda t: (False, ""), None,
                             every=0)
    assert fake.sampler.aborted


def test_a_budget_stop_reports_the_gate_on_what_it_keeps() -> None:
    """The last poll can fall before any gate check; the stop itself says how far off it is."""
    fake = _FakeNutpie(_FakeSampler(total=1000, per_poll=20))
    s = SamplerConfig(draws=300, tune=10, max_draws=1000, max_minutes=1e-6)
    phases: list[str] = []
    _, stopped = sample_in_background(
        fake, None, {"draws": 300}, s,
        lambda t: (False, f"R-hat 1.2 on {t['posterior'].sizes['draw']} draws"),
        lambda f, phase: phases.append(phase), every=0)
    assert stopped == "time budget"
    assert phases[-1] == "stopped by the time budget at draw 39: R-hat 1.2 on 39 draws"


@pytest.mark.slow
def test_a_time_budget_stops_sampling_and_says_what_more_is_needed(tmp_path: Any) -> None:
    cohort, _ = simulate_cohort(12, 8, np.random.default_rng(0))
    s = SamplerConfig(draws=50, tune=200, max_draws=100_000, max_minutes=0.1,
                      progress_bar=False)
    phases: list[str] = []
    fitted = fit(cohort, sampler=s, on_progress=lambda f, phase: phases.append(phase))
    d = fitted.diagnostics
    assert d.stopped == "time budget"
    assert 50 <= d.draws < 100_000
    assert not d.passed
    assert any("more draws per chain are needed" in p for p in d.problems), d.problems
    assert any("R-hat" in p and "min ESS" in p for p in phases), phases[-3:]
    assert fitted.idata["posterior"].sizes["draw"] <= 1000  # thinned as usual
    assert np.isfinite(fitted.idata["posterior"]["tau_nat"]).all()


def test_the_fit_command_takes_a_time_budget() -> None:
    result = CliRunner().invoke(app, ["fit", "--help"])
    assert "--max-minutes" in result.output
    assert "--max-draws" in result.output
