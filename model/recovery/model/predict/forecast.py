"""Forecasts of one patient under candidate schedules, on shared (paired) posterior draws.

For each draw j and day d the score is Y = round(clip(Z, 0, 10)) with
Z ~ N(m_jd, s_jd): m is the kernel's expected pain plus the AR(1) residual filtered along the
patient's diary (residual.py), so near-term forecasts start from where the latest scores are.
Quantiles are of clip(Z, 0, 10); rounding them gives the quantiles of the integer score.
Every schedule uses the same draws and the same residual noise, so "A beats B" is paired.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy.special import ndtr, ndtri

from recovery.model.config import ModelConfig
from recovery.model.data.schedules import SessionPlan
from recovery.model.inference.fit import FittedModel
from recovery.model.inference.io import evaluation_of, load
from recovery.model.likelihood.kernel import EventDesign, build_design
from recovery.model.likelihood.residual import predictive_moments
from recovery.model.predict.particles import particle_mu
from recovery.model.predict.population import PopulationDraws
from recovery.model.predict.update import (
    PatientData,
    PatientDraws,
    condition,
    kind_indices,
    patient_data,
)
from recovery.model.requests import (
    MAX_GUIDED_SESSIONS,
    QUANTILES,
    Calibration,
    Comparison,
    ForecastRequest,
    ForecastResponse,
    History,
    PatientInfo,
    ScheduleForecast,
    ScheduleSpec,
    Summary,
    UpdateInfo,
)

__all__ = [
    "Forecaster",
    "Paths",
    "column_quantiles",
    "compare",
    "forecast_days",
    "paths",
    "plan_design",
    "residual_quantiles",
    "session_plan",
    "summarise",
]

RELAPSE_WINDOW_DAYS = 56.0  # "within 8 weeks after the last session"


@dataclass(frozen=True)
class Paths:
    """Per-draw forecast of one schedule: expected pain mu and predictive moments m, s."""

    days: np.ndarray  # (D,) absolute days: the horizon, then relapse points (see below)
    mu: np.ndarray  # (M, D) kernel expectation
    m: np.ndarray  # (M, D) predictive mean given the last score
    s: np.ndarray  # (M, D) predictive SD
    plan: SessionPlan  # sessions within the horizon
    horizon: int  # number of days that belong to the horizon


def forecast_days(start_day: float, horizon_days: int, plan: SessionPlan) -> np.ndarray:
    """Daily grid from start_day over the horizon; with sessions, two more points for the
    relapse summary: the last session's day and 8 weeks after it."""
    grid = start_day + np.arange(0.0, horizon_days + 1.0)
    if not len(plan):
        return grid
    last = float(plan.days[-1])
    return np.r_[grid, last, last + RELAPSE_WINDOW_DAYS]


def paths(draws: PatientDraws, patient: PatientData, plan: SessionPlan, days: np.ndarray,
          horizon: int, cfg: ModelConfig, kinds: list[str]) -> Paths:
    """Kernel trajectories for every draw at absolute `days` (vectorised over draws and days);
    the first `horizon` days are the forecast, the rest only serve the relapse summary."""
    g = draws.globals
    design = plan_design(patient, plan, days, cfg, kinds)
    mu = particle_mu(draws.theta, g, patient.adherence, design, cfg)
    t_last = patient.pain_t[-1] if len(patient.y) else 0.0
    m, s = predictive_moments(mu, *draws.residual, days - patient.t0 - t_last, g.noise())
    return Paths(days, mu, np.asarray(m), np.asarray(s), plan, horizon)


def plan_design(patient: PatientData, plan: SessionPlan, days: np.ndarray, cfg: ModelConfig,
                kinds: list[str]) -> EventDesign:
    """The kernel's design for the patient's past sessions plus a plan, at absolute `days`."""
    times = days - patient.t0
    s_kind = np.r_[patient.session_kind, kind_indices(kinds, list(plan.kinds), "schedules.kind")]
    s_t = np.r_[patient.session_t, plan.days - patient.t0]
    return build_design((np.zeros(len(s_t), int), s_t, s_kind.astype(int)),
                        (np.zeros(len(times), int), times), 1, kinds, cfg)


GUIDED_DRAWS = 400  # draws whose mean decides a symptom-guided booking


def session_plan(spec: ScheduleSpec, draws: PatientDraws, patient: PatientData, start: float,
                 horizon_days: int, cfg: ModelConfig, kinds: list[str]) -> SessionPlan:
    """The sessions of a schedule within the horizon. Symptom-guided care books one on the
    first day the expected pain (the mean over draws, given the sessions booked so far)
    reaches `book_above`, then looks again min_gap_days later: the model's own return of
    pain decides when the patient comes back."""
    end = start + horizon_days + 1e-9
    if spec.book_above is None:
        return spec.to_schedule(start).expand(start).until(end)
    days = start + np.arange(0.0, horizon_days + 1.0)
    sub = np.arange(min(GUIDED_DRAWS, len(draws)))
    booked: list[float] = []
    due_from = start
    while len(booked) < MAX_GUIDED_SESSIONS:
        plan = SessionPlan(np.array(booked), np.full(len(booked), spec.kind, dtype=object))
        mu = particle_mu(draws.theta[sub], draws.globals.take(sub), patient.adherence,
                         plan_design(patient, plan, days, cfg, kinds), cfg).mean(axis=0)
        due = np.flatnonzero((days >= due_from) & (mu >= spec.book_above))
        if not len(due):
            break
        booked.append(float(days[due[0]]))
        due_from = booked[-1] + spec.min_gap_days
    return SessionPlan(np.array(booked), np.full(len(booked), spec.kind, dtype=object))


def residual_quantiles(n: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified N(0, 1) residuals, one per draw and shared by all days and schedules.

    Each day's marginal stays exact (m + s * eps with eps ~ N(0, 1)); sharing across days makes
    the quantile curves smooth, and stratification lowers their Monte Carlo error.
    """
    return ndtri((rng.permutation(n) + 0.5) / n)[:, None]


def column_quantiles(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """np.quantile(x, probs, axis=0) (linear interpolation), by one sort: several times
    faster than numpy's multi-kth partition on (draws, days) arrays."""
    xs = np.sort(x, axis=0)
    pos = np.asarray(probs) * (len(xs) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(xs) - 1)
    frac = (pos - lo)[:, None]
    return xs[lo] + frac * (xs[hi] - xs[lo])


def baseline_of(patient: PatientData, mu_start: np.ndarray) -> float:
    """Mean of the scores in the first week of the diary; without scores, the expected pain."""
    if len(patient.y):
        return float(patient.y[patient.pain_t <= patient.pain_t[0] + 7.0].mean())
    return float(mu_start.mean())


def summarise(p: Paths, eps: np.ndarray, target: float, baseline: float,
              prices: dict[str, float]) -> tuple[ScheduleForecast, np.ndarray]:
    """Quantiles, mean and summary of one schedule; also per-draw mean pain (for pairing)."""
    h = p.horizon
    m, s, mu, days = p.m[:, :h], p.s[:, :h], p.mu[:, :h], p.days[:h]
    x = np.clip(m + s * eps, 0.0, 10.0)
    q = np.round(column_quantiles(x, np.array(QUANTILES) / 100), 3)
    p_target = float(ndtr((np.floor(target) + 0.5 - m[:, -1]) / s[:, -1]).mean())
    reached = mu <= baseline - min(2.0, 0.3 * baseline)
    now = mu[:, :1]  # each draw's expected pain on the forecast's first day
    further = mu <= now - np.minimum(2.0, 0.3 * now)
    pain = np.clip(m, 0.0, 10.0).mean(axis=1)
    summary = Summary(
        p_target_at_horizon=round(p_target, 4),
        p_improvement=round(float(reached.any(axis=1).mean()), 4),
        improvement_day=_median_first_day(reached, days),
        improvement_from_now_day=_median_first_day(further, days),
        p_relapse=_relapse(p, baseline), mean_pain=round(float(pain.mean()), 3),
        sessions=len(p.plan),
        cost=round(float(sum(prices.get(str(k), 0.0) for k in p.plan.kinds)), 2),
    )
    plan = p.plan
    forecast = ScheduleForecast(
        name="", session_days=[float(d) for d in plan.days],
        session_kinds=[str(k) for k in plan.kinds], days=[float(d) for d in days],
        quantiles={str(k): v.tolist() for k, v in zip(QUANTILES, q, strict=True)},
        mean=np.round(x.mean(axis=0), 3).tolist(), summary=summary,
        in_band={"50": band_probability(m, s, q[1], q[3]),
                 "90": band_probability(m, s, q[0], q[4])})
    return forecast, pain


def band_probability(m: np.ndarray, s: np.ndarray, low: np.ndarray, high: np.ndarray
                     ) -> list[float]:
    """Per day, the model's probability that the integer score round(clip(Z, 0, 10)) falls
    within [low, high]: above the band's nominal level because the score is whole points,
    and the reference the drift monitor holds recorded scores to."""
    a, b = np.ceil(low), np.floor(high)  # the whole scores inside the band
    lo = np.where(a <= 0, -np.inf, a - 0.5)
    hi = np.where(b >= 10, np.inf, b + 0.5)
    p = (ndtr((hi - m) / s) - ndtr((lo - m) / s)).mean(axis=0)
    return np.round(np.where(a <= b, p, 0.0), 4).tolist()


def _median_first_day(reached: np.ndarray, days: np.ndarray) -> float | None:
    """Median over draws of the first day `reached` holds (None when under half reach it)."""
    first = np.where(reached.any(axis=1), reached.argmax(axis=1), np.iinfo(np.int64).max)
    med = np.median(first)
    return float(days[int(med)]) if med < len(days) else None


def _relapse(p: Paths, baseline: float) -> float | None:
    """P(pain 8 weeks after the last session has lost half the gain held at that session).

    The plan is already cut at the horizon: care stops after its last session there.
    """
    if not len(p.plan):
        return None
    at_last, later = p.mu[:, -2], p.mu[:, -1]  # the two points forecast_days appends
    gain = baseline - at_last
    lost = (gain > 0) & (later - at_last >= 0.5 * gain)
    return round(float(lost.mean()), 4)


# Below this probability either way, a gap of the meaningful size is called unlikely.
UNLIKELY = 0.2


def compare(names: list[str], pain: list[np.ndarray], margin: float
            ) -> tuple[list[Comparison], list[str]]:
    """Every pair on the same draws, against a clinically meaningful margin, and the ranking
    by expected mean pain."""
    out = []
    for i, j in combinations(range(len(names)), 2):
        diff = pain[i] - pain[j]
        p_a, p_b = float((diff <= -margin).mean()), float((diff >= margin).mean())
        if max(p_a, p_b) < UNLIKELY:
            verdict = (f"No meaningful difference between {names[i]} and {names[j]}: a gap of "
                       f"{margin:g} point{'s' * (margin != 1)} or more is unlikely either way "
                       f"({max(p_a, p_b):.0%}).")
        else:
            better, worse, p = ((names[i], names[j], p_a) if p_a >= p_b
                                else (names[j], names[i], p_b))
            verdict = (f"{better} is better than {worse} by at least {margin:g} "
                       f"point{'s' * (margin != 1)} with {p:.0%} probability.")
        out.append(Comparison(a=names[i], b=names[j],
                              p_a_better=round(float((diff < 0).mean()), 4),
                              mean_difference=round(float(diff.mean()), 3),
                              meaningful_difference=margin,
                              p_a_meaningfully_better=round(p_a, 4),
                              p_b_meaningfully_better=round(p_b, 4), verdict=verdict))
    ranking = [names[i] for i in np.argsort([float(p.mean()) for p in pain], kind="stable")]
    return out, ranking


class Forecaster:
    """A fitted model ready to forecast: population arrays are extracted once."""

    def __init__(self, fitted: FittedModel, max_population_draws: int = 2000,
                 calibration: Calibration | None = None) -> None:
        self.fitted = fitted
        self.config = fitted.config
        self.kinds = fitted.kinds
        self.population = PopulationDraws.from_fitted(fitted, max_population_draws)
        self.model_version = fitted.model_id
        self.calibration = calibration

    @classmethod
    def from_directory(cls, directory: Path | str) -> Forecaster:
        """A saved model, with its held-out calibration when the directory keeps an
        evaluation of this very model (evaluation.json)."""
        fitted = load(directory)
        report = evaluation_of(directory)
        if report is None or report.get("model_version") != fitted.model_id:
            return cls(fitted)
        return cls(fitted, calibration=Calibration.from_report(report))

    def patient(self, info: PatientInfo, history: History, origin: float, draws: int,
                rng: np.random.Generator) -> tuple[PatientData, PatientDraws, UpdateInfo]:
        """Validate and condition a patient on their history (see update.py)."""
        patient = patient_data(info.covariates, history, self.config, self.kinds, origin,
                               info.onset_day)
        post, info_ = condition(self.population, patient, self.config, self.kinds, draws, rng)
        return patient, post, info_

    def forecast(self, req: ForecastRequest) -> ForecastResponse:
        """The forecast JSON for every schedule of the request."""
        return self.forecast_with_draws(req)[0]

    def forecast_with_draws(self, req: ForecastRequest) -> tuple[ForecastResponse, PatientDraws]:
        """The forecast, and the patient's posterior draws it rests on."""
        rng = np.random.default_rng(req.seed)
        patient, post, how = self.patient(req.patient, req.history, req.start_day, req.draws, rng)
        for i, spec in enumerate(req.schedules):
            kind_indices(self.kinds, [spec.kind, *(p.kind for p in spec.phases or [])],
                         f"schedules.{i}.kind")
        plans = [session_plan(s, post, patient, req.start_day, req.horizon_days, self.config,
                              self.kinds) for s in req.schedules]
        all_paths = [paths(post, patient, plan,
                           forecast_days(req.start_day, req.horizon_days, plan),
                           req.horizon_days + 1, self.config, self.kinds) for plan in plans]
        eps = residual_quantiles(len(post), rng)
        baseline = baseline_of(patient, all_paths[0].mu[:, 0])
        results, pains = [], []
        for spec, p in zip(req.schedules, all_paths, strict=True):
            f, pain = summarise(p, eps, req.target_score, baseline, req.prices)
            results.append(f.model_copy(update={"name": spec.name}))
            pains.append(pain)
        comparisons, ranking = compare([s.name for s in req.schedules], pains,
                                       req.meaningful_difference)
        return ForecastResponse(forecasts=results, comparisons=comparisons, ranking=ranking,
                                baseline=round(baseline, 3), model_version=self.model_version,
                                update=how, calibration=self.calibration), post
