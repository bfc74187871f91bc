"""Trial yardsticks: published trial arms re-run as forecasts, each figure set beside the
published one and its range.

A trial population is TRIAL_PATIENTS: 18 chronic patients (pain for a year) who differ in
age, stress and adherence; Costa's cohorts are new episodes (acute) and pain of about two
months (persistent), half of them on a chronic course. Each arm is their schedule. Each
figure is an average over the patients of the forecast means (or, for days in pain, of each
day's probability from the forecast's bands). So a yardstick measures the model's average
patient, not any one diary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from typing import Any, Literal

import numpy as np
from scipy.special import ndtr

from recovery.model.checks.phenomena import (
    CHRONIC_ONSET,
    PublishedFigure,
    Run,
    TrialResult,
    every,
    forecast_patients,
    responder_history,
    week_mean,
)
from recovery.model.predict.forecast import Forecaster

__all__ = ["TRIALS", "TRIAL_PATIENTS", "TrialResult", "run_trials"]

TRIAL_PATIENTS: dict[str, dict[str, Any]] = {
    f"age {a}, stress {s}, adherence {d}": {"covariates": {
        "chronic": 1, "age": a, "stress": s, "adherence": d, "structural_cause": 0},
        "onset_day": CHRONIC_ONSET}
    for a, s, d in product((30, 45, 60), (3, 5, 7), (0.4, 0.8))}


def _cohort(onset_day: float, chronic: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    """Costa's cohorts: TRIAL_PATIENTS' covariates, pain since `onset_day`, each patient once
    per chronic flag."""
    return {f"{label}, chronic {c}": {"covariates": {**p["covariates"], "chronic": c},
                                      "onset_day": onset_day}
            for label, p in TRIAL_PATIENTS.items() for c in chronic}
BOTHERSOME = 4  # a day's score at or above this counts as a day with bothersome pain


@dataclass(frozen=True)
class Yardstick:
    """A published figure and its range; `measure` gives the model's figure from the run."""

    figure: PublishedFigure
    measure: Callable[[Any], float]


def _stick(key: str, trial: tuple[str, str], outcome: str, published: str, low: float,
           high: float, measure: Callable[[Any], float]) -> Yardstick:
    return Yardstick(PublishedFigure(key=key, trial=trial[0], arms=trial[1], outcome=outcome,
                                     published=published, low=round(low, 3),
                                     high=round(high, 3)), measure)


def _mean_over_patients(run: Run, schedule: str) -> np.ndarray:
    return np.mean([run.mean(p, schedule) for p in run.responses], axis=0)


def _bothersome_days(run: Run, schedule: str) -> float:
    """Expected days with a score >= BOTHERSOME over the horizon, averaged over patients.
    Each day's chance is from its band, read as a normal: median, and quartiles over 1.349."""
    days = []
    for label in run.responses:
        f = next(f for f in run.responses[label].forecasts if f.name == schedule)
        q = {k: np.asarray(v) for k, v in f.quantiles.items()}
        sd = np.maximum((q["75"] - q["25"]) / 1.349, 0.05)
        days.append(float((1.0 - ndtr((BOTHERSOME - 0.5 - q["50"]) / sd)).sum()))
    return float(np.mean(days))


def _cherkin(fc: Forecaster) -> Run:
    return forecast_patients(fc, TRIAL_PATIENTS, [
        {"name": "none"},
        {"name": "10 weekly massages", "phases": [every(7, 10)]}], 364, draws=500)


def _gap(day: int) -> Callable[[Run], float]:
    def measure(run: Run) -> float:
        gap = (_mean_over_patients(run, "none")
               - _mean_over_patients(run, "10 weekly massages"))
        return round(week_mean(gap, day), 3)
    return measure


def _costa(onset_day: float, chronic: tuple[int, ...]) -> Callable[[Forecaster], Run]:
    def simulate(fc: Forecaster) -> Run:
        return forecast_patients(fc, _cohort(onset_day, chronic), [{"name": "none"}], 364,
                                 draws=500)
    return simulate


def _left(day: int) -> Callable[[Run], float]:
    def measure(run: Run) -> float:
        x = _mean_over_patients(run, "none")
        return round(week_mean(x, day) / float(x[0]), 3)
    return measure


# Eklund 2018: patients who had responded to a first course; maintenance care booked
# visits ahead (about every 7 weeks here: 8 visits); symptom-guided care came back when pain
# did: here a visit whenever the model's own forecast has lost half the course's gain (the
# responder's diary went from 7 to 3.5; how much return brought Eklund's patients back is not
# published [unverified]).
EKLUND_RETURN = 5.25
EKLUND_ARMS: list[dict[str, Any]] = [
    {"name": "maintenance", "phases": [every(49, 52)]},
    {"name": "symptom-guided", "book_above": EKLUND_RETURN, "min_gap_days": 7.0}]


def _eklund(fc: Forecaster) -> Run:
    patients = {k: {**v, "history": responder_history()} for k, v in TRIAL_PATIENTS.items()}
    return forecast_patients(fc, patients, EKLUND_ARMS, 364, draws=500)


def _fewer_days(run: Run) -> float:
    return round(_bothersome_days(run, "symptom-guided") - _bothersome_days(run, "maintenance"),
                 2)


def _visits(run: Run, schedule: str) -> float:
    return float(np.mean([next(f.summary.sessions for f in r.forecasts if f.name == schedule)
                          for r in run.responses.values()]))


def _days_per_visit(run: Run) -> float:
    extra = _visits(run, "maintenance") - _visits(run, "symptom-guided")
    return round(_fewer_days(run) / extra, 2) if extra > 0 else float("nan")


def _day_to_day(fc: Forecaster) -> np.ndarray:
    """Daily scores simulated from the model's residual around a steady level of 6: 200 days
    for each of 500 population draws (latent AR(1) plus measurement noise, rounded)."""
    g = fc.population.globals.take(np.arange(min(500, len(fc.population))))
    rng = np.random.default_rng(0)
    a = np.exp(-1.0 / g.ell)[:, None]
    sd_ar, sd_obs = (g.sigma * np.sqrt(g.share))[:, None], (g.sigma * np.sqrt(1 - g.share))[:, None]
    latent = np.zeros((len(g), 200))
    latent[:, 0] = rng.standard_normal(len(g)) * sd_ar[:, 0]
    shocks = rng.standard_normal(latent.shape) * sd_ar * np.sqrt(1 - a * a)
    for d in range(1, 200):
        latent[:, d] = a[:, 0] * latent[:, d - 1] + shocks[:, d]
    return np.clip(np.round(6.0 + latent + sd_obs * rng.standard_normal(latent.shape)), 0, 10)


def _share_changed(low: int, high: float) -> Callable[[np.ndarray], float]:
    def measure(scores: np.ndarray) -> float:
        step = np.abs(np.diff(scores, axis=1))
        return round(float(np.mean((step >= low) & (step <= high))), 3)
    return measure


CHERKIN = ("Cherkin 2011", "10 weekly massages against usual care, chronic low back pain")
COSTA_ACUTE = ("Costa 2012", "no care, acute pain (new episodes, pain for 10 days)")
COSTA = ("Costa 2012", "no care, persistent pain (for 2 months; half on a chronic course)")
EKLUND = ("Eklund 2018", "maintenance care against symptom-guided care for a year, after a "
          "first course that helped")
PLAN = ("Plan 2012", "daily 0-10 scores of 231 people over 18 weeks (placebo arms)")
TRIALS: tuple[tuple[Callable[[Forecaster], Any], tuple[Yardstick, ...]], ...] = (
    (_cherkin, (
        _stick("cherkin_10_weeks", CHERKIN, "pain lower than usual care at 10 weeks",
               "1.4 (relaxation) to 1.7 (structural) points", 1.4, 1.7, _gap(70)),
        _stick("cherkin_52_weeks", CHERKIN, "pain lower than usual care at 52 weeks",
               "no difference left (within 0.3)", -0.3, 0.3, _gap(364)))),
    (_costa(-10.0, (0,)), (
        _stick("costa_acute_6_weeks", COSTA_ACUTE, "pain at 6 weeks over the start",
               "23 of 52 (21-25)", 21 / 52, 25 / 52, _left(42)),
        _stick("costa_acute_26_weeks", COSTA_ACUTE, "pain at 26 weeks over the start",
               "12 of 52 (9-15)", 9 / 52, 15 / 52, _left(182)),
        _stick("costa_acute_52_weeks", COSTA_ACUTE, "pain at 52 weeks over the start",
               "6 of 52 (3-10)", 3 / 52, 10 / 52, _left(364)))),
    (_costa(-60.0, (0, 1)), (
        _stick("costa_6_weeks", COSTA, "pain at 6 weeks over the start",
               "33 of 51 (29-38)", 29 / 51, 38 / 51, _left(42)),
        _stick("costa_26_weeks", COSTA, "pain at 26 weeks over the start",
               "26 of 51 (20-33)", 20 / 51, 33 / 51, _left(182)),
        _stick("costa_52_weeks", COSTA, "pain at 52 weeks over the start",
               "23 of 51 (16-30)", 16 / 51, 30 / 51, _left(364)))),
    (_eklund, (
        _stick("eklund_bothersome_days", EKLUND,
               f"fewer days with bothersome pain (score >= {BOTHERSOME}) over 52 weeks",
               "12.8 (10.1-15.5), with 1.7 more visits", 10.1, 15.5, _fewer_days),
        _stick("eklund_days_per_visit", EKLUND, "fewer bothersome days per extra visit",
               "about 7.5 (10.1-15.5 days over 1.7 visits) [derived]", 10.1 / 1.7,
               15.5 / 1.7, _days_per_visit))),
    (_day_to_day, (
        _stick("plan_same_score", PLAN, "share of days with the same score as the day before",
               "0.44 (after a 10) to 0.55 (after a 0)", 0.44, 0.55, _share_changed(0, 0)),
        _stick("plan_change_of_2", PLAN, "share of days 2 or more points from the day before",
               "about 0.005 for a change of 2 (up to 0.01 here)", 0.0, 0.01,
               _share_changed(2, 10)))),
)


def _verdict(x: float, low: float, high: float) -> Literal["within", "below", "above"]:
    return "below" if x < low else "above" if x > high else "within"


def run_trials(fc: Forecaster, progress: Callable[[str], None] | None = None
               ) -> list[TrialResult]:
    """Every yardstick of TRIALS on the model."""
    out = []
    for simulate, sticks in TRIALS:
        if progress:
            progress(sticks[0].figure.trial)
        run = simulate(fc)
        for y in sticks:
            x, f = y.measure(run), y.figure
            out.append(TrialResult(**f.model_dump(), measured=x,
                                   verdict=_verdict(x, f.low, f.high)))
    return out
