"""Forecasts on the bundled default model: shape, pairing, partial pooling, summaries, errors."""

from __future__ import annotations

import numpy as np
import pytest

from recovery.model.checks.phenomena import flat_history, sawtooth_history
from recovery.model.predict import update
from recovery.model.predict.forecast import Forecaster, band_probability, forecast_days, paths
from recovery.model.predict.update import PatientError
from recovery.model.requests import QUANTILES, ForecastRequest
from tests.helpers import history_request


def _forecast(fc: Forecaster, **kw: object) -> object:
    return fc.forecast(ForecastRequest.model_validate(history_request(**kw)))  # type: ignore[arg-type]


def test_quantiles_are_ordered_bounded_and_cover_the_horizon(default_forecaster: Forecaster
                                                              ) -> None:
    r = default_forecaster.forecast(ForecastRequest.model_validate(history_request()))
    for f in r.forecasts:
        assert f.days[0] == 20
        assert f.days[-1] == 110
        assert len(f.days) == 91
        q = np.array([f.quantiles[str(k)] for k in QUANTILES])
        assert q.shape == (5, 91)
        assert np.all(np.diff(q, axis=0) >= 0)
        assert q.min() >= 0
        assert q.max() <= 10
        assert np.all((np.array(f.mean) >= q[0] - 1e-9) & (np.array(f.mean) <= q[-1] + 1e-9))
        assert 0 <= f.summary.p_target_at_horizon <= 1
    assert r.model_version == default_forecaster.model_version


def test_forecast_is_reproducible_with_its_seed(default_forecaster: Forecaster) -> None:
    req = ForecastRequest.model_validate(history_request(seed=3))
    a, b = default_forecaster.forecast(req), default_forecaster.forecast(req)
    assert a == b


def test_comparisons_are_paired_and_ranking_follows_mean_pain(default_forecaster: Forecaster
                                                              ) -> None:
    req = history_request(schedules=[{"name": "recovery_then_maintenance"},
                                     {"name": "recovery_then_stop"}, {"name": "none"}])
    r = default_forecaster.forecast(ForecastRequest.model_validate(req))
    pain = {f.name: f.summary.mean_pain for f in r.forecasts}
    assert r.ranking == sorted(pain, key=pain.__getitem__)
    assert len(r.comparisons) == 3
    for c in r.comparisons:
        assert c.mean_difference == pytest.approx(pain[c.a] - pain[c.b], abs=2e-3)
    # Same draws and residuals: sessions only ever add relief or flare, so on mean pain
    # maintenance cannot lose to the identical schedule that stops, draw by draw, by much.
    vs_none = next(c for c in r.comparisons if c.b == "none" and c.a == "recovery_then_stop")
    assert vs_none.mean_difference < 0


def test_comparisons_weigh_a_clinically_meaningful_margin(default_forecaster: Forecaster
                                                          ) -> None:
    same = history_request(schedules=[{"name": "weekly_taper"}, {"name": "twin",
                           "phases": [{"kind": "massage", "every_days": 7, "weeks": 12},
                                      {"kind": "massage", "every_days": 14, "weeks": 8},
                                      {"kind": "massage", "every_days": 28, "weeks": 136}]}])
    (c,) = default_forecaster.forecast(ForecastRequest.model_validate(same)).comparisons
    assert c.meaningful_difference == 1.0
    assert max(c.p_a_meaningfully_better,
                                                  c.p_b_meaningfully_better) < 0.2
    assert c.verdict.startswith("No meaningful difference")
    tiny = history_request(meaningful_difference=0.01, schedules=[
        {"name": "weekly", "phases": [{"kind": "massage", "every_days": 7, "weeks": 12}]},
        {"name": "none"}])
    (c,) = default_forecaster.forecast(ForecastRequest.model_validate(tiny)).comparisons
    assert c.p_a_meaningfully_better > 0.5
    assert c.p_b_meaningfully_better < 0.2
    assert c.verdict.startswith("weekly is better than none by at least 0.01 points with")
    assert c.p_a_meaningfully_better <= c.p_a_better  # a margin can only lower it


def test_history_moves_the_forecast_and_long_histories_narrow_it(default_forecaster: Forecaster
                                                                ) -> None:
    low = _forecast(default_forecaster, n_scores=40, level=2.0)
    high = _forecast(default_forecaster, n_scores=40, level=8.0)
    first = lambda r: r.forecasts[1].quantiles["50"][1]  # noqa: E731  ("none", next day)
    assert abs(first(low) - 2.0) < 1.0
    assert abs(first(high) - 8.0) < 1.0
    short = _forecast(default_forecaster, n_scores=2, level=6.0)
    # Days of a diary are autocorrelated (ell ~ 8 days), so 40 daily scores are only a handful
    # of independent facts about the patient's course; twelve weeks are a long history.
    long = _forecast(default_forecaster, n_scores=84, level=6.0)
    width = lambda r: r.forecasts[1].quantiles["95"][60] - r.forecasts[1].quantiles["5"][60]  # noqa: E731
    assert width(short) > width(long)  # two scores lean on the population
    # A score's 90 % interval also holds about 4 NRS of diary noise that no history removes
    # (the gap above is 0.1-0.6 NRS, by the history's seed), so the patient's expected pain
    # shows the narrowing: 1.5-1.7x narrower after twelve weeks at seeds 0-3.
    assert _expected_pain_width(default_forecaster, 2) > 1.3 * _expected_pain_width(
        default_forecaster, 84)


def _expected_pain_width(fc: Forecaster, n_scores: int) -> float:
    """Width of the 90 % band of the kernel's expected pain on day 60 of the "none" schedule,
    for a history of n_scores daily scores around 6."""
    req = ForecastRequest.model_validate(history_request(n_scores=n_scores, level=6.0))
    patient, post, _ = fc.patient(req.patient, req.history, req.start_day, req.draws,
                             np.random.default_rng(req.seed))
    plan = req.schedules[1].to_schedule(req.start_day).expand(req.start_day)
    p = paths(post, patient, plan, forecast_days(req.start_day, 60, plan), 61, fc.config, fc.kinds)
    q5, q95 = np.quantile(p.mu[:, 60], [0.05, 0.95])
    return float(q95 - q5)


def test_empty_history_is_the_population_prior(default_forecaster: Forecaster) -> None:
    req = history_request(history={"pain": [], "sessions": []}, start_day=0)
    r = default_forecaster.forecast(ForecastRequest.model_validate(req))
    assert r.update.method == "importance"
    assert r.update.stages == 1
    assert r.update.ess_share == 1.0
    assert not r.update.low_ess


def test_summary_counts_sessions_and_cost(default_forecaster: Forecaster) -> None:
    req = history_request(schedules=[{"name": "twice", "session_days": [25, 30]},
                                     {"name": "physio", "kind": "physio", "phases": [
                                         {"kind": "physio", "every_days": 7, "weeks": 2}]},
                                     {"name": "none"}],
                          prices={"massage": 50, "physio": 80})
    r = default_forecaster.forecast(ForecastRequest.model_validate(req))
    s = {f.name: f.summary for f in r.forecasts}
    assert (s["twice"].sessions, s["twice"].cost) == (2, 100)
    assert (s["physio"].sessions, s["physio"].cost) == (2, 160)
    assert (s["none"].sessions, s["none"].cost, s["none"].p_relapse) == (0, 0, None)
    assert r.forecasts[0].session_days == [25.0, 30.0]


@pytest.mark.parametrize(("covariates", "sessions", "field"), [
    ({"shoe_size": 44}, [], "covariates.shoe_size"),
    ({"adherence": 1.5}, [], "covariates.adherence"),
    ({}, [{"day": 1, "kind": "acupuncture"}], "history.sessions"),
])
def test_patient_the_model_cannot_use_names_the_field(
    default_forecaster: Forecaster, covariates: dict, sessions: list, field: str
) -> None:
    req = history_request(patient={"covariates": covariates},
                          history={"pain": [{"day": 0, "score": 5}], "sessions": sessions})
    with pytest.raises(PatientError) as exc:
        default_forecaster.forecast(ForecastRequest.model_validate(req))
    assert exc.value.field == field
    assert field in str(exc.value)


def test_schedule_kind_the_model_does_not_know_is_refused(default_forecaster: Forecaster
                                                          ) -> None:
    req = history_request(schedules=[{"name": "none"}, {"name": "recovery_then_stop",
                                                        "kind": "reiki"}])
    with pytest.raises(PatientError, match=r"schedules.1.kind.*reiki.*massage"):
        default_forecaster.forecast(ForecastRequest.model_validate(req))


def test_sessions_after_the_start_day_in_history_are_fine(default_forecaster: Forecaster
                                                          ) -> None:
    """Found by fuzzing: a history session later than start_day made kernel times < 0."""
    req = history_request(history={"pain": [], "sessions": [{"day": 5, "kind": "massage"}]},
                          start_day=0)
    r = default_forecaster.forecast(ForecastRequest.model_validate(req))
    assert r.forecasts[0].days[0] == 0


def _diary_forecast(fc: Forecaster, history: dict, schedules: list[dict]) -> object:
    """Eight weeks ahead with 4,000 draws, so that a median's Monte Carlo error is small
    beside the tolerances the diary tests check."""
    start = history["pain"][-1]["day"] + 1
    return fc.forecast(ForecastRequest.model_validate({
        "patient": {"covariates": {"chronic": 1}}, "history": history, "schedules": schedules,
        "start_day": start, "horizon_days": 56, "draws": 4000}))


def test_a_flat_diary_forecasts_flat(default_forecaster: Forecaster) -> None:
    """Eight weeks at 6.5 without care: this patient is not recovering on their own, whatever
    the population does."""
    r = _diary_forecast(default_forecaster, flat_history(weeks=8), [{"name": "none"}])
    median = np.array(r.forecasts[0].quantiles["50"])
    assert np.abs(median - 6.5).max() <= 0.5
    assert not r.update.low_ess


def test_a_sawtooth_diary_keeps_its_weekly_swing_and_returns_when_care_stops(
        default_forecaster: Forecaster) -> None:
    """Relief for three days after each weekly massage, back to 7 in between: the update
    needs SMC for this diary, and the forecast keeps at least half the diary's swing."""
    history = sawtooth_history()
    r = _diary_forecast(default_forecaster, history,
                        [{"name": "none"}, {"name": "weekly", "phases": [
                            {"kind": "massage", "every_days": 7, "weeks": 8}]}])
    assert r.update.method == "smc"
    assert r.update.ess >= 400
    assert not r.update.low_ess
    scores = np.array([p["score"] for p in history["pain"]], dtype=float)[7:].reshape(7, 7)
    diary_swing = np.median(scores.max(axis=1) - scores.min(axis=1))
    weekly = np.array(r.forecasts[1].quantiles["50"])[:49].reshape(7, 7)
    assert np.median(weekly.max(axis=1) - weekly.min(axis=1)) >= 0.5 * diary_swing
    assert min(r.forecasts[0].quantiles["50"][:14]) >= 6.0  # no relief left a week on


def test_a_degenerate_update_says_so(default_forecaster: Forecaster,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(update, "TRUST_ESS", 1e9)  # no update can rest on that many draws
    r = _forecast(default_forecaster)
    assert r.update.low_ess
    assert "effective posterior draws" in r.update.warning


def test_band_probability_is_the_chance_a_whole_point_score_lands_inside() -> None:
    """Checked against simulated scores round(clip(Z, 0, 10)), bands with fractional edges
    and at the scale's ends; a band holding no whole point has probability 0."""
    rng = np.random.default_rng(3)
    m = rng.uniform(-1, 11, (400, 6))
    s = rng.uniform(0.3, 2.0, (400, 6))
    low = np.array([0.0, 2.4, 4.6, 8.2, 3.1, 5.2])
    high = np.array([1.7, 5.6, 4.9, 10.0, 3.9, 7.0])
    p = np.array(band_probability(m, s, low, high))
    z = m[None] + s[None] * rng.standard_normal((2000, *m.shape))
    y = np.round(np.clip(z, 0, 10))
    inside = ((y >= low) & (y <= high)).mean(axis=(0, 1))
    assert np.abs(p - inside).max() < 0.01
    assert p[2] == 0.0  # no whole score between 4.6 and 4.9


def test_forecasts_record_how_often_their_bands_should_hold(default_forecaster: Forecaster
                                                           ) -> None:
    f = default_forecaster.forecast(ForecastRequest.model_validate(history_request()))
    for sf in f.forecasts:
        p50, p90 = np.array(sf.in_band["50"]), np.array(sf.in_band["90"])
        assert len(p50) == len(sf.days)
        assert (p50 >= 0).all()
        assert (p90 >= p50).all()
        assert (p90 <= 1.0).all()
        assert p90.mean() > 0.8  # a narrow band can hold fewer whole scores than its level
        assert p90.mean() > p50.mean() + 0.25
