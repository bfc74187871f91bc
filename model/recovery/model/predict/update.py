"""Condition a new patient on their own history through the population posterior.

The target is the joint posterior p(theta, phi | history, cohort), where phi are the population
draws (mean, covariance, kind weights, residual) and theta the patient's parameters. Both
methods work on particles (s, theta), vectorised over thousands of them, and start from one
proposal: per population draw s, a Gaussian that combines the draw's prior with a Laplace
approximation of the history's likelihood (laplace.py; the prior itself without a history):

- importance sampling (`condition`'s first try): weigh draws of that proposal by prior x
  likelihood / proposal; while the effective sample size is low, propose from a Student-t
  fitted to the weighted points, pooling the stages. Exact and cheap while the proposal is
  close (a few evaluations of the history's likelihood);
- when that stays below ESS_TARGET (long, telling diaries), tempered sequential Monte Carlo
  from the proposal to the posterior, in steps that keep half the particles' weight,
  resampling at each; every step moves the particles by random-walk Metropolis in theta and
  by redrawing their population draw s, so they never collapse onto a few points.

What `condition` returns says which method ran and how many effective draws it rests on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import gammaln, ndtri

from recovery.model.config import ModelConfig
from recovery.model.errors import RecoveryError
from recovery.model.likelihood.kernel import EventDesign, build_design, expected_pain
from recovery.model.likelihood.residual import Filtered, ScoreGrid, filter_scores, score_grid
from recovery.model.predict.laplace import Frame, laplace_frame, prior_frame
from recovery.model.predict.particles import particle_loglik
from recovery.model.predict.population import Globals, PopulationDraws
from recovery.model.requests import History, UpdateInfo

__all__ = ["PatientData", "PatientDraws", "PatientError", "condition", "covariate_problems",
           "log_likelihood", "onset_draws", "patient_data", "patient_draws"]

PROPOSALS = 4000  # thetas weighted per stage
T_DF = 7.0  # Student-t proposal: heavier tails than the target keep the weights bounded
INFLATE = 1.2  # proposal scale over the weighted posterior scale
ESS_TARGET = 400.0  # stop adapting once the weights are worth this many independent draws
TRUST_ESS = 200.0  # below this many effective draws a forecast says it is not to be trusted
PARTICLES = 2000  # tempered SMC's particles for a diary of up to FULL_SCORES scores; longer
FULL_SCORES = 60  # diaries get proportionally fewer (at least MIN_PARTICLES), bounding a
MIN_PARTICLES = 1000  # request's cost
MOVES = 2  # Metropolis sweeps per tempering step
MAX_TEMPERING = 60  # tempering steps before the last one jumps to the posterior (low ESS then)


def covariate_problems(covariates: dict[str, float | None], cfg: ModelConfig
                       ) -> list[tuple[str, str]]:
    """(field, message) for each covariate this model does not know or that lies outside its
    configured range; empty when all can be used."""
    out = []
    for name, value in covariates.items():
        c = cfg.covariates.get(name)
        if c is None:
            out.append((f"covariates.{name}",
                        f"unknown covariate; this model knows {sorted(cfg.covariates)}"))
        elif value is not None and not math.isfinite(value):
            out.append((f"covariates.{name}", "must be a finite number"))
        elif value is not None and ((c.low is not None and value < c.low)
                                    or (c.high is not None and value > c.high)):
            out.append((f"covariates.{name}", f"{value:g} is outside [{c.low}, {c.high}]"))
    return out


class PatientError(RecoveryError, ValueError):
    """A patient's covariates or history that the model cannot use; `field` says where."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class PatientData:
    """A patient's history as kernel arrays; times are days since the first record (`t0`)."""

    t0: float
    pain_t: np.ndarray
    y: np.ndarray
    session_t: np.ndarray
    session_kind: np.ndarray
    adherence: float
    x_effect: np.ndarray
    onset: float | None = None  # days of pain at t0; None: unknown
    chronic: bool = False


def onset_draws(patient: PatientData, cfg: ModelConfig, n: int) -> np.ndarray:
    """Days of pain at t0 for each of n population draws: the recorded duration, or, when it
    is unknown, stratified quantiles of the prior over durations in a fixed shuffled order
    (so that a forecast is repeatable and every duration is represented)."""
    if patient.onset is not None:
        return np.full(n, patient.onset)
    pr = cfg.priors
    prior = pr.log_onset_unknown_chronic if patient.chronic else pr.log_onset_unknown
    q = ndtri((np.arange(n) + 0.5) / n)
    return np.exp(prior.mu + prior.sigma * np.random.default_rng(0).permutation(q))


@dataclass(frozen=True)
class PatientDraws:
    """Joint posterior draws of one patient's theta and the population's globals, with the
    latent residual's mean and variance after the last score (`patient_draws` fills it in)."""

    theta: np.ndarray  # (M, 8)
    globals: Globals  # M draws
    residual: tuple[np.ndarray, np.ndarray]  # (M, 1) each

    def __len__(self) -> int:
        return len(self.theta)


def kind_indices(kinds: list[str], names: list[str], field: str) -> np.ndarray:
    """Indices of session kinds; a kind the model was not fitted on is refused by name."""
    unknown = sorted(set(names) - set(kinds))
    if unknown:
        raise PatientError(field, f"unknown session kind(s) {unknown}; this model knows {kinds}")
    return np.array([kinds.index(n) for n in names], dtype=int)


def patient_data(covariates: dict[str, float | None], history: History, cfg: ModelConfig,
                 kinds: list[str], origin: float = 0.0, onset_day: float | None = None
                 ) -> PatientData:
    """Validate covariates and history against the model and turn them into arrays.

    Kernel time starts at the first record, or at `origin` (the forecast's start) when that is
    earlier or there is no history yet: times are never < 0. `onset_day` is the day the pain
    began (None: unknown); the natural course runs from it.
    """
    if problems := covariate_problems(covariates, cfg):
        raise PatientError(*problems[0])
    x = np.zeros(len(cfg.effect_pairs()))
    for e, (_, name) in enumerate(cfg.effect_pairs()):
        value = covariates.get(name)
        if value is not None:
            x[e] = (value - cfg.covariates[name].center) / cfg.covariates[name].scale
    adherence = covariates.get("adherence")
    s_kind = kind_indices(kinds, [s.kind for s in history.sessions], "history.sessions")
    s_day = np.array([s.day for s in history.sessions], dtype=float)
    p_day = np.array([p.day for p in history.pain], dtype=float)
    t0 = float(min(np.min(s_day, initial=origin), np.min(p_day, initial=origin), origin))
    return PatientData(t0, p_day - t0, np.array([p.score for p in history.pain], dtype=float),
                       s_day - t0, s_kind,
                       cfg.adherence_default if adherence is None else float(adherence), x,
                       None if onset_day is None else max(t0 - onset_day, 0.0),
                       covariates.get("chronic") == 1)


def history_design(patient: PatientData, cfg: ModelConfig, kinds: list[str]
                   ) -> tuple[EventDesign, ScoreGrid]:
    """The patient's diary as the kernel's design and the residual filter's grid."""
    n = len(patient.y)
    sessions = (np.zeros(len(patient.session_t), int), patient.session_t, patient.session_kind)
    design = build_design(sessions, (np.zeros(n, int), patient.pain_t), 1, kinds, cfg)
    return design, score_grid(np.zeros(n, int), patient.pain_t, 1)


def history_filter(theta: np.ndarray, glob: Globals, patient: PatientData, cfg: ModelConfig,
                   kinds: list[str]) -> Filtered:
    """The residual filter run along the patient's diary for each draw (theta (S, 8))."""
    design, grid = history_design(patient, cfg, kinds)
    mu = expected_pain(glob.params(theta), np.array([patient.adherence]), design, cfg)  # (S, n)
    return filter_scores(np.asarray(mu), patient.y, grid, glob.noise())


def log_likelihood(theta: np.ndarray, glob: Globals, patient: PatientData, cfg: ModelConfig,
                   kinds: list[str]) -> np.ndarray:
    """log p(history scores | theta_s, phi_s) for each draw: theta (S, 8) -> (S,)."""
    if not len(patient.y):
        return np.zeros(len(theta))
    return history_filter(theta, glob, patient, cfg, kinds).logp.sum(axis=1)


def patient_draws(theta: np.ndarray, glob: Globals, patient: PatientData, cfg: ModelConfig,
                  kinds: list[str]) -> PatientDraws:
    """Draws with the residual filtered to the last score, so forecasts start from where the
    diary left it (without a diary: the residual's stationary distribution)."""
    sigma, share, _ = glob.noise()
    if not len(patient.y):
        return PatientDraws(theta, glob, (np.zeros_like(sigma), share * sigma * sigma))
    f = history_filter(theta, glob, patient, cfg, kinds)
    return PatientDraws(theta, glob, (f.x_mean, f.x_var))


def _ess(logw: np.ndarray) -> float:
    if not np.isfinite(logw).any():
        return 0.0
    w = np.exp(logw - logw.max())
    return float(w.sum() ** 2 / (w * w).sum())


def _t_logpdf(x: np.ndarray, loc: np.ndarray, chol: np.ndarray) -> np.ndarray:
    d = x.shape[1]
    z = np.linalg.solve(chol, (x - loc).T).T
    q = (z * z).sum(axis=1)
    return (gammaln((T_DF + d) / 2) - gammaln(T_DF / 2) - 0.5 * d * np.log(T_DF * np.pi)
            - np.log(np.diag(chol)).sum() - 0.5 * (T_DF + d) * np.log1p(q / T_DF))


def _t_proposal(z: np.ndarray, logw: np.ndarray, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """Draw PROPOSALS points from a Student-t fitted to weighted points; return them, log q."""
    w = np.exp(logw - logw.max())
    w /= w.sum()
    loc = w @ z
    cov = (z - loc).T @ ((z - loc) * w[:, None]) + 1e-6 * np.eye(z.shape[1])
    chol = np.linalg.cholesky(cov) * INFLATE
    eps = rng.standard_normal((PROPOSALS, z.shape[1]))
    scale = np.sqrt(T_DF / rng.chisquare(T_DF, PROPOSALS))
    x = loc + (eps @ chol.T) * scale[:, None]
    return x, _t_logpdf(x, loc, chol)


class _Target:
    """The patient's prior and the history's likelihood at particles (population draw index,
    theta); the design and each draw's prior (as a frame) built once."""

    def __init__(self, pop: PopulationDraws, patient: PatientData, cfg: ModelConfig,
                 kinds: list[str]) -> None:
        pop = pop.with_onset(onset_draws(patient, cfg, len(pop)))  # each draw's duration
        self.pop, self.patient, self.cfg = pop, patient, cfg
        self.design, grid = history_design(patient, cfg, kinds)
        self.gap = grid.flat_gap
        self.mean = pop.prior_mean(patient.x_effect)  # (S, 8)
        self.average = pop.globals.average()
        self.prior = prior_frame(self.mean, pop.chol, pop.chol_inv)

    def sample_prior(self, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """theta from the population prior of each particle's draw."""
        return self.prior.theta(idx, rng.standard_normal(self.mean[idx].shape))

    def log_prior(self, idx: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """log N(theta | mean_s, L_s L_s^T) at each particle's draw s."""
        z = self.prior.u(idx, theta)
        return -0.5 * (z * z).sum(axis=1) - self.pop.log_norm[idx]

    def loglik(self, idx: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """log p(history | theta, globals of each particle's draw)."""
        return self._loglik(theta, self.pop.globals.take(idx))

    def log_post(self, idx: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """log prior + log-likelihood at each particle: the unnormalised posterior (-inf where
        it is undefined, so such a particle gets no weight)."""
        lp = self.log_prior(idx, theta) + self.loglik(idx, theta)
        return np.where(np.isnan(lp), -np.inf, lp)

    def average_loglik(self, theta: np.ndarray) -> np.ndarray:
        """log p(history | theta, the draws' average globals)."""
        return self._loglik(theta, self.average.take(np.zeros(len(theta), dtype=int)))

    def _loglik(self, theta: np.ndarray, glob: Globals) -> np.ndarray:
        if not len(self.patient.y):
            return np.zeros(len(theta))
        return particle_loglik(theta, glob, self.patient.adherence, self.design, self.patient.y,
                               self.gap, self.cfg)

    def frame(self) -> Frame:
        """Where importance sampling centres its proposals: the Laplace frame for a history,
        the prior's own without one."""
        if not len(self.patient.y):
            return self.prior
        return laplace_frame(self.average_loglik, self.mean, self.pop.chol, self.pop.chol_inv)


class _Proposal:
    """The first proposal in the target's frame, q(s, theta): s uniform, u = chol_s^-1 (theta -
    centre_s) from N(0, I) in the prior frame (the prior itself) or a Student-t in the Laplace
    frame. Importance sampling starts from it and SMC tempers away from it."""

    def __init__(self, target: _Target) -> None:
        self.frame, self.n_pop = target.frame(), len(target.pop)
        d = target.mean.shape[1]
        self.loc, self.chol = np.zeros(d), INFLATE * np.eye(d)

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n particles (idx, theta)."""
        u = rng.standard_normal((n, len(self.loc)))
        if self.frame.fitted:
            u = (u @ self.chol.T) * np.sqrt(T_DF / rng.chisquare(T_DF, n))[:, None]
        return (idx := rng.integers(0, self.n_pop, n)), self.frame.theta(idx, u)

    def log_q(self, idx: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """log q(s, theta) up to the uniform's constant."""
        u = self.frame.u(idx, theta)
        log_u = (_t_logpdf(u, self.loc, self.chol) if self.frame.fitted else
                 -0.5 * (u * u).sum(axis=1) - 0.5 * u.shape[1] * np.log(2 * np.pi))
        return log_u - self.frame.log_det(idx)


def _importance(target: _Target, first: _Proposal, rng: np.random.Generator, max_stages: int
                ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, int]:
    """Adaptive importance sampling: (ESS, idx, theta, log weights, stages) of all stages
    pooled (each stage's normalised weights times its effective size).

    The first stage draws from `first`; later ones from a Student-t fitted to the last
    stage's weighted u (the frame's coordinates, where the posterior is near N(0, I) whatever
    the population draw). Gives up early when the stages so far are off course for
    ESS_TARGET: long, telling diaries go to SMC.
    """
    frame = first.frame
    idx, theta = first.draw(PROPOSALS, rng)
    logw = target.log_post(idx, theta) - first.log_q(idx, theta)
    stages = [(idx, theta, logw)]
    for done in range(1, max_stages):
        ess = _ess(_pool(stages))
        if ess >= ESS_TARGET or 2 * ess * max_stages / done < ESS_TARGET:
            break  # there, or not on course to get there even at twice the pace so far
        u, log_q = _t_proposal(frame.u(idx, theta), logw, rng)
        idx = rng.integers(0, len(target.pop), PROPOSALS)
        theta = frame.theta(idx, u)
        logw = target.log_post(idx, theta) - log_q + frame.log_det(idx)
        stages.append((idx, theta, logw))
    pooled = _pool(stages)
    return (_ess(pooled), np.concatenate([s[0] for s in stages]),
            np.concatenate([s[1] for s in stages]), pooled, len(stages))


def _pool(stages: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Log weights of the stages' draws together: each stage's self-normalised weights scaled
    by its effective size, so a poor stage counts little."""
    out = []
    for _, _, logw in stages:
        lw = logw - logw.max()
        out.append(lw - np.log(np.exp(lw).sum()) + np.log(_ess(logw)))
    return np.concatenate(out)


def _next_power(logw: np.ndarray, power: float) -> float:
    """The next tempering power: the largest <= 1 whose incremental weights (logw per unit of
    power) keep half the particles' effective size (bisection)."""
    n = len(logw)
    if _ess((1.0 - power) * logw) >= 0.5 * n:
        return 1.0
    lo, hi = power, 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _ess((mid - power) * logw) >= 0.5 * n else (lo, mid)
    return max(lo, power + 1e-6)


@dataclass
class _Particles:
    """SMC's particles: population draw index, theta, and log q (the first proposal) and
    log p (prior x likelihood) at each."""

    idx: np.ndarray
    theta: np.ndarray
    log_q: np.ndarray
    log_p: np.ndarray

    def resample(self, keep: np.ndarray) -> None:
        self.idx, self.theta = self.idx[keep], self.theta[keep]
        self.log_q, self.log_p = self.log_q[keep], self.log_p[keep]

    def tempered(self, power: float) -> np.ndarray:
        return (1.0 - power) * self.log_q + power * self.log_p

    def propose(self, target: _Target, first: _Proposal, idx: np.ndarray, theta: np.ndarray,
                power: float, rng: np.random.Generator) -> np.ndarray:
        """Metropolis step to (idx, theta) at the tempered target; the accepted mask."""
        new = _Particles(idx, theta, first.log_q(idx, theta), target.log_post(idx, theta))
        ok = np.log(rng.random(len(idx))) < new.tempered(power) - self.tempered(power)
        self.idx[ok], self.theta[ok] = idx[ok], theta[ok]
        self.log_q[ok], self.log_p[ok] = new.log_q[ok], new.log_p[ok]
        return ok


def _move(target: _Target, first: _Proposal, p: _Particles, power: float, scale: float,
          rng: np.random.Generator) -> float:
    """One Metropolis sweep at the tempered target q^(1 - power) (prior x likelihood)^power:
    a random walk in theta shaped by the particles' spread, then a redraw of each particle's
    population draw at the same theta. Returns the random walk's acceptance rate."""
    n, d = p.theta.shape
    chol = np.linalg.cholesky(np.cov(p.theta, rowvar=False) + 1e-9 * np.eye(d))
    step = scale * rng.standard_normal((n, d)) @ chol.T
    rate = float(p.propose(target, first, p.idx.copy(), p.theta + step, power, rng).mean())
    other: np.ndarray = rng.integers(0, len(target.pop), size=len(p.idx))
    p.propose(target, first, other, p.theta.copy(), power, rng)
    return rate


def _smc(target: _Target, first: _Proposal, rng: np.random.Generator
         ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Tempered SMC from the first proposal q to the posterior; returns equally weighted
    (idx, theta) and how it went. Its `ess` counts the distinct particles after the last
    moves."""
    n = int(np.clip(PARTICLES * FULL_SCORES / max(len(target.patient.y), 1), MIN_PARTICLES,
                    PARTICLES))
    idx, theta = first.draw(n, rng)
    p = _Particles(idx, theta, first.log_q(idx, theta), target.log_post(idx, theta))
    power, steps, scale, rates = 0.0, 0, 2.38 / np.sqrt(theta.shape[1]), []
    while power < 1.0:
        logw = p.log_p - p.log_q
        new = 1.0 if steps + 1 >= MAX_TEMPERING else _next_power(logw, power)
        w = np.exp((new - power) * (logw - logw.max()))
        p.resample(_systematic(w / w.sum(), n, rng))
        power, steps = new, steps + 1
        for _ in range(MOVES):
            rates.append(_move(target, first, p, power, scale, rng))
            scale *= np.exp(rates[-1] - 0.3)  # aim at 30 % acceptance
    distinct = len(np.unique(np.c_[p.idx, p.theta], axis=0))
    return p.idx, p.theta, {"method": "smc", "stages": steps, "ess": float(distinct),
                            "ess_share": round(distinct / n, 4),
                            "acceptance": round(float(np.mean(rates)), 3)}


def condition(pop: PopulationDraws, patient: PatientData, cfg: ModelConfig, kinds: list[str],
              n_draws: int, rng: np.random.Generator, max_stages: int = 6,
              ) -> tuple[PatientDraws, UpdateInfo]:
    """Posterior draws for a new patient; also how: the method ("importance" or "smc"), its
    stages, the effective sample size and its share of the particles."""
    target = _Target(pop, patient, cfg, kinds)
    first = _Proposal(target)
    ess, idx, theta, logw, stages = _importance(target, first, rng, max_stages)
    if not np.isfinite(logw).any():
        raise PatientError("history", "the model gives this history no probability under "
                                      "any of its draws; check the scores and covariates")
    how: dict[str, Any]
    if ess >= ESS_TARGET:
        w = np.exp(logw - logw.max())
        pick = _systematic(w / w.sum(), n_draws, rng)
        how = {"method": "importance", "stages": stages, "ess": round(ess, 1),
               "ess_share": round(ess / len(logw), 4)}
    else:
        idx, theta, how = _smc(target, first, rng)
        pick = rng.choice(len(idx), n_draws, replace=n_draws > len(idx))
    idx, theta = idx[pick], theta[pick]
    low = how["ess"] < TRUST_ESS
    info = UpdateInfo(**how, low_ess=low, warning=(
        f"this forecast rests on only {how['ess']:.0f} effective posterior draws "
        f"(fewer than {TRUST_ESS:.0f}): its bands are unreliable" if low else None))
    return patient_draws(theta, target.pop.globals.take(idx), patient, cfg, kinds), info


def _systematic(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling: n indices with probabilities w, low variance."""
    u = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(w), u), len(w) - 1)
