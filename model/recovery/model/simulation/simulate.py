"""Simulate synthetic cohorts from the generative model (pure, rng-driven, vectorised).

The residual is a latent daily AR(1) (stationary SD sigma*sqrt(share), lag-1 correlation
exp(-1/ell)) plus independent measurement noise (SD sigma*sqrt(1 - share)); the score is the
rounded sum clipped to 0-10. Its defaults give diaries like real ones: the same score as the
day before about half the time, a change of 2 or more rarely (Plan 2012). Diaries are
irregular: some patients score daily (so relief over days shows), the rest on a personal
share of days, and some take a break of one to two weeks. Sessions follow the presets, of
massage, physio or both alternating, starting within the first three weeks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.signal import lfilter

from recovery.model.config import PARAMS, ModelConfig
from recovery.model.data.cohort import Cohort
from recovery.model.data.schedules import SessionPlan, preset
from recovery.model.likelihood.kernel import (
    Params,
    build_design,
    expected_pain,
    floor_shift,
    transform,
)

__all__ = ["SCHEDULE_MIX", "WORLDS", "Truth", "simulate_cohort", "truth_table"]

# Preset -> share of simulated patients (docs/design.md, incl. no care).
SCHEDULE_MIX: dict[str, float] = {
    "recovery_then_stop": 0.25, "recovery_then_maintenance": 0.2, "weekly_taper": 0.2,
    "stop_start": 0.2, "none": 0.15,
}


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


class Truth(BaseModel):
    """Population parameters a cohort is simulated from (the answer a fit should recover)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    mu_pop: dict[str, float] = Field(default_factory=lambda: {
        "base": _logit(0.6), "floor": _logit(0.10), "relief": _logit(0.30),
        "relief_tau": math.log(75.0), "flare": math.log(0.4), "durable": _logit(0.30),
        "quick": _logit(0.45), "quick_tau": math.log(3.8)})
    beta: dict[str, float] = Field(default_factory=lambda: {
        "base~stress": 0.25, "floor~chronic": 1.35, "floor~stress": 0.3, "floor~age": 0.2,
        "relief~structural_cause": -0.8, "relief_tau~chronic": -0.3,
        "relief_tau~stress": -0.2, "quick~structural_cause": -0.5})
    patient_sd: dict[str, float] = Field(default_factory=lambda: {
        "base": 0.6, "floor": 2.0, "relief": 0.7, "relief_tau": 0.35, "flare": 0.6,
        "durable": 0.6, "quick": 0.6, "quick_tau": 0.35})
    corr_base_floor: float = 0.0
    tau_nat: float = 20.0
    # Days of pain at the first record: a new episode (chronic 0) ~ Exponential(mean), a
    # chronic one log-normal (median, log SD) and at least 90 days.
    onset_mean_days: float = 30.0
    onset_chronic_days: tuple[float, float] = (365.0, 0.7)
    relief_w: dict[str, float] = Field(default_factory=lambda: {"massage": 1.0, "physio": 0.6})
    durable_w: dict[str, float] = Field(default_factory=lambda: {"massage": 0.1, "physio": 1.0})
    quick_w: dict[str, float] = Field(default_factory=lambda: {"massage": 1.0, "physio": 0.25})
    flare_w: dict[str, float] = Field(default_factory=lambda: {"massage": 1.0, "physio": 4.0})
    synergy: float = 1.0
    sigma: float = 0.9
    share: float = 0.85
    ell: float = 3.0
    # Session kinds: massage only, physio only, or both alternating session by session.
    kind_mix: dict[str, float] = Field(default_factory=lambda: {
        "massage": 0.4, "physio": 0.3, "mixed": 0.3})
    daily_share: float = 0.3  # patients who score every day


def _covariates(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": [f"P{i:05d}" for i in range(n)],
        "chronic": rng.binomial(1, 0.5, n).astype(float),
        "structural_cause": rng.binomial(1, 0.25, n).astype(float),
        "adherence": np.round(rng.beta(4, 3, n), 2),
        "age": np.clip(np.round(rng.normal(45, 15, n)), 18, 85),
        "stress": np.clip(np.round(rng.normal(5, 2, n)), 0, 10),
    })


def _onset(truth: Truth, chronic: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Whole days of pain at each patient's first record."""
    median, log_sd = truth.onset_chronic_days
    long = np.maximum(median * np.exp(log_sd * rng.standard_normal(len(chronic))), 90.0)
    new = rng.exponential(truth.onset_mean_days, len(chronic))
    return np.round(np.where(chronic == 1, long, new))


def _theta(truth: Truth, pats: pd.DataFrame, cfg: ModelConfig, rng: np.random.Generator,
           onset: np.ndarray) -> np.ndarray:
    n = len(pats)
    mean = np.array([truth.mu_pop[p] for p in PARAMS])
    theta = np.tile(mean, (n, 1))
    for (param, cov), name in zip(cfg.effect_pairs(), _effect_names(cfg), strict=True):
        c = cfg.covariates[cov]
        x = ((pats[cov] - c.center) / c.scale).to_numpy()
        theta[:, PARAMS.index(param)] += truth.beta.get(name, 0.0) * x
    sd = np.array([truth.patient_sd[p] for p in PARAMS])
    corr = np.eye(len(PARAMS))
    corr[0, 1] = corr[1, 0] = truth.corr_base_floor
    chol = np.linalg.cholesky(corr)
    theta[:, PARAMS.index("floor")] += floor_shift(onset, truth.tau_nat)
    return theta + (rng.standard_normal((n, len(PARAMS))) @ chol.T) * sd


def _effect_names(cfg: ModelConfig) -> list[str]:
    return [f"{p}~{c}" for p, c in cfg.effect_pairs()]


def _sessions(pats: pd.DataFrame, weeks: float, truth: Truth, rng: np.random.Generator
              ) -> pd.DataFrame:
    """Each patient follows a preset from SCHEDULE_MIX, of a kind from truth.kind_mix,
    starting within the first three weeks (so most diaries show some weeks without care)."""
    names = list(SCHEDULE_MIX)
    choice = rng.choice(len(names), size=len(pats), p=list(SCHEDULE_MIX.values()))
    mixes = list(truth.kind_mix)
    kinds = rng.choice(len(mixes), size=len(pats), p=list(truth.kind_mix.values()))
    starts = rng.integers(0, 22, len(pats)).astype(float)
    plans = [_with_kinds(preset(names[c]).expand(s).until(weeks * 7), mixes[k])
             for c, k, s in zip(choice, kinds, starts, strict=True)]
    lens = np.array([len(p) for p in plans])
    frame = pd.DataFrame({
        "patient_id": np.repeat(pats["patient_id"].to_numpy(), lens),
        "day": np.concatenate([p.days for p in plans] + [np.empty(0)]),
        "kind": np.concatenate([p.kinds for p in plans] + [np.empty(0, dtype=object)]),
        "schedule": np.repeat(np.array(names)[choice], lens),
    })
    frame["day"] = np.floor(frame["day"])  # sessions happen on whole days
    kept = rng.random(len(frame)) > 0.1  # 10 % of sessions are missed
    return frame[kept].drop_duplicates(["patient_id", "day"]).reset_index(drop=True)


def _with_kinds(plan: SessionPlan, mix: str) -> SessionPlan:
    """The plan's sessions of one kind, or massage and physio alternating ("mixed")."""
    kinds = np.array(["massage", "physio"], dtype=object)[np.arange(len(plan)) % 2] \
        if mix == "mixed" else np.full(len(plan), mix, dtype=object)
    return SessionPlan(plan.days, kinds)


def _diary_mask(n: int, days: int, daily_share: float, rng: np.random.Generator
                ) -> np.ndarray:
    """Which days each patient scores: every day for a share of them, else a personal
    compliance rate; plus some 1-2 week gaps."""
    rate = np.where(rng.random(n) < daily_share, 0.97, rng.beta(3, 2, n))[:, None]
    mask = rng.random((n, days)) < rate
    gap_start = rng.integers(7, max(days - 14, 8), n)[:, None]
    gap_len = rng.integers(7, 15, n)[:, None]
    has_gap = rng.random(n)[:, None] < 0.3
    d = np.arange(days)[None, :]
    mask &= ~(has_gap & (d >= gap_start) & (d < gap_start + gap_len))
    mask[:, 0] = True  # the intake score
    return mask


def simulate_cohort(
    n_patients: int, weeks: float, rng: np.random.Generator,
    truth: Truth | None = None, config: ModelConfig | None = None,
) -> tuple[Cohort, dict[str, Any]]:
    """Draw a cohort and return it with the truth (population and per-patient parameters)."""
    truth = truth or Truth()
    cfg = config or ModelConfig()
    pats = _covariates(n_patients, rng)
    onset = _onset(truth, pats["chronic"].to_numpy(), rng)
    pats["onset_day"] = -onset  # the first record is day 0
    theta = _theta(truth, pats, cfg, rng, onset)
    ses = _sessions(pats, weeks, truth, rng)
    kinds = sorted(truth.relief_w)
    n_days = int(weeks * 7)
    weights = [np.array([getattr(truth, f"{name}_w")[k] for k in kinds])
               for name in KIND_WEIGHT_NAMES]
    pid_of = {p: i for i, p in enumerate(pats["patient_id"])}
    grid_pid = np.repeat(np.arange(n_patients), n_days)
    grid_t = np.tile(np.arange(n_days, dtype=float), n_patients)
    design = build_design(
        (ses["patient_id"].map(pid_of).to_numpy(), ses["day"].to_numpy(),
         ses["kind"].map(kinds.index).to_numpy()),
        (grid_pid, grid_t), n_patients, kinds, cfg)
    w, v, u, f = weights
    params = Params(theta, np.array([truth.tau_nat]), w, v, u, f, np.array([truth.synergy]),
                    onset)
    mu = expected_pain(params, pats["adherence"].to_numpy(), design, cfg).reshape(
        n_patients, n_days)
    a = math.exp(-1.0 / truth.ell)
    sd_ar, sd_obs = truth.sigma * math.sqrt(truth.share), truth.sigma * math.sqrt(1 - truth.share)
    shocks = rng.standard_normal((n_patients, n_days)) * sd_ar * math.sqrt(1 - a * a)
    shocks[:, 0] = rng.standard_normal(n_patients) * sd_ar  # stationary start
    latent = lfilter([1.0], [1.0, -a], shocks, axis=1)
    score = np.clip(np.round(mu + latent + sd_obs * rng.standard_normal(mu.shape)), 0, 10)
    mask = _diary_mask(n_patients, n_days, truth.daily_share, rng)
    pain = pd.DataFrame({
        "patient_id": np.repeat(pats["patient_id"].to_numpy(), mask.sum(1)),
        "day": np.nonzero(mask)[1].astype(float), "score": score[mask].astype(int)})
    cohort = Cohort.from_frames(pats, ses.drop(columns="schedule"), pain, cfg)
    natural = transform(theta, cfg)
    patients_truth = pats[["patient_id"]].assign(
        schedule=ses.groupby("patient_id")["schedule"].first().reindex(pats["patient_id"])
        .fillna("none").to_numpy(),
        **{k: np.round(v, 5) for k, v in natural.items()})
    return cohort, {"population": truth.model_dump(), "patients": patients_truth.to_dict("records"),
                    "weeks": weeks, "n_patients": n_patients}


KIND_WEIGHT_NAMES = ("relief", "durable", "quick", "flare")


def truth_table(truth: dict[str, Any]) -> dict[str, float]:
    """A simulated cohort's population truth under the posterior's names (`name[index]`):
    what a fit should recover."""
    pop = truth["population"]
    out = {f"mu_pop[{p}]": pop["mu_pop"][p] for p in PARAMS}
    out |= {f"beta[{k}]": v for k, v in pop["beta"].items()}
    out |= {"tau_nat": pop["tau_nat"], "synergy": pop["synergy"]}
    for name in KIND_WEIGHT_NAMES:
        out |= {f"log_{name}_w[{k}]": float(np.log(v)) for k, v in pop[f"{name}_w"].items()}
    out |= {f"patient_sd[{p}]": pop["patient_sd"][p] for p in PARAMS}
    out |= {"sigma": pop["sigma"], "share": pop["share"], "ell": pop["ell"]}
    return out


# The two worlds a fit is checked on (`recovery simulate --world`). "evidence": sizes and time
# scales from the published figures (docs/evidence.md). "articles": the practitioners' world of
# the articles: stronger relief that fades within weeks, soreness after physio, exercise gains
# that last, and persistent pain that does not go away by itself.
WORLDS: dict[str, Truth] = {
    "evidence": Truth(),
    "articles": Truth(
        mu_pop={"base": _logit(0.6), "floor": _logit(0.15), "relief": _logit(0.40),
                "relief_tau": math.log(40.0), "flare": math.log(0.6), "durable": _logit(0.35),
                "quick": _logit(0.45), "quick_tau": math.log(3.8)},
        beta={"base~stress": 0.3, "floor~chronic": 1.6, "floor~stress": 0.4, "floor~age": 0.2,
              "relief~structural_cause": -0.8, "relief_tau~chronic": -0.3,
              "relief_tau~stress": -0.2, "quick~structural_cause": -0.5}),
}
