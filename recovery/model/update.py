"""Condition a new patient on their own history through the population posterior.

The target is the joint posterior p(theta, phi | history, cohort), where phi are the population
draws (mean, covariance, kind weights, residual) and theta the patient's parameters.
Adaptive importance sampling, vectorised over thousands of proposals:

1. pair each population draw phi_s with thetas from its own prior N(mean_s(x), Sigma_s) and
   weight them by the history's likelihood (exact when the history says little);
2. while the effective sample size is low (a long history pulls theta away from the prior),
   fit a Student-t to the weighted thetas and propose from it instead, each proposal paired
   with a random phi_s, weighted by likelihood x prior / proposal density;
3. resample the best stage to the requested number of draws.

Why not Laplace or a per-patient NUTS: both cost a compile or an optimisation per request;
this costs a few kernel evaluations of the history (about 50 ms for 30 scores) and its error
against refitting the whole hierarchical model is measured in bench/update.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from recovery.model.config import ModelConfig
from recovery.model.errors import RecoveryError
from recovery.model.kernel import build_design, expected_pain
from recovery.model.population import Globals, PopulationDraws
from recovery.model.requests import History
from recovery.model.residual import Filtered, filter_scores, score_grid

__all__ = ["PatientData", "PatientDraws", "PatientError", "condition", "log_likelihood",
           "patient_data", "patient_draws"]

PROPOSALS = 4000  # thetas weighted per stage
T_DF = 7.0  # Student-t proposal: heavier tails than the target keep the weights bounded
INFLATE = 1.2  # proposal scale over the weighted posterior scale
ESS_TARGET = 500.0  # stop adapting once the weights are worth this many independent draws


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


@dataclass(frozen=True)
class PatientDraws:
    """Joint posterior draws of one patient's theta and the population's globals, with the
    latent residual's mean and variance after the last score (`patient_draws` fills it in)."""

    theta: np.ndarray  # (M, 6)
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
                 kinds: list[str], origin: float = 0.0) -> PatientData:
    """Validate covariates and history against the model and turn them into arrays.

    Kernel time starts at the first record (the natural course's day 0), or at `origin` (the
    forecast's start) when that is earlier or there is no history yet: times are never < 0.
    """
    x = np.zeros(len(cfg.effect_pairs()))
    for name, value in covariates.items():
        if name not in cfg.covariates:
            raise PatientError(f"covariates.{name}", f"unknown covariate; this model knows "
                               f"{sorted(cfg.covariates)}")
        c = cfg.covariates[name]
        if value is not None and ((c.low is not None and value < c.low)
                                  or (c.high is not None and value > c.high)):
            raise PatientError(f"covariates.{name}", f"{value:g} is outside [{c.low}, {c.high}]")
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
                       cfg.adherence_default if adherence is None else float(adherence), x)


def history_filter(theta: np.ndarray, glob: Globals, pd: PatientData, cfg: ModelConfig,
                   kinds: list[str]) -> Filtered:
    """The residual filter run along the patient's diary for each draw (theta (S, 6))."""
    n = len(pd.y)
    design = build_design((np.zeros(len(pd.session_t), int), pd.session_t, pd.session_kind),
                          (np.zeros(n, int), pd.pain_t), 1, flare_weights(cfg, kinds), cfg)
    mu = expected_pain(glob.params(theta), np.array([pd.adherence]), design, cfg)  # (S, n)
    grid = score_grid(np.zeros(n, int), pd.pain_t, 1)
    return filter_scores(np.asarray(mu), pd.y, grid, glob.noise())


def log_likelihood(theta: np.ndarray, glob: Globals, pd: PatientData, cfg: ModelConfig,
                   kinds: list[str]) -> np.ndarray:
    """log p(history scores | theta_s, phi_s) for each draw: theta (S, 6) -> (S,)."""
    if not len(pd.y):
        return np.zeros(len(theta))
    return history_filter(theta, glob, pd, cfg, kinds).logp.sum(axis=1)


def patient_draws(theta: np.ndarray, glob: Globals, pd: PatientData, cfg: ModelConfig,
                  kinds: list[str]) -> PatientDraws:
    """Draws with the residual filtered to the last score, so forecasts start from where the
    diary left it (without a diary: the residual's stationary distribution)."""
    sigma, share, _ = glob.noise()
    if not len(pd.y):
        return PatientDraws(theta, glob, (np.zeros_like(sigma), share * sigma * sigma))
    f = history_filter(theta, glob, pd, cfg, kinds)
    return PatientDraws(theta, glob, (f.x_mean, f.x_var))


def flare_weights(cfg: ModelConfig, kinds: list[str]) -> np.ndarray:
    """Fixed flare weight of each session kind."""
    return np.array([cfg.kind_prior(k).flare_weight for k in kinds])


def _ess(logw: np.ndarray) -> float:
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


def condition(pop: PopulationDraws, pd: PatientData, cfg: ModelConfig, kinds: list[str],
              n_draws: int, rng: np.random.Generator, max_stages: int = 4,
              ) -> tuple[PatientDraws, dict[str, float]]:
    """Posterior draws for a new patient; also how: stages, ESS and its share of proposals.

    Proposals live in the whitened space z = L_s^-1 (theta - mean_s) of each population draw
    s, where the prior is N(0, I) whatever s is: directions the history does not inform stay
    at their prior, and the proposal adapts only where the history speaks.
    """
    d = pop.mu_pop.shape[1]

    def weigh(z: np.ndarray, log_q: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.integers(0, len(pop), PROPOSALS)
        sub = pop.take(idx)
        theta = sub.prior_mean(pd.x_effect) + np.einsum("sij,sj->si", sub.chol, z)
        logw = log_likelihood(theta, sub.globals, pd, cfg, kinds)
        if log_q is not None:
            logw = logw - 0.5 * (z * z).sum(axis=1) - 0.5 * d * np.log(2 * np.pi) - log_q
        return idx, logw

    z = rng.standard_normal((PROPOSALS, d))
    idx, logw = weigh(z, None)
    best = (_ess(logw), idx, z, logw)
    stages = 1
    while best[0] < ESS_TARGET and stages < max_stages:
        z, log_q = _t_proposal(z, logw, rng)
        idx, logw = weigh(z, log_q)
        stages += 1
        if _ess(logw) > best[0]:
            best = (_ess(logw), idx, z, logw)
    ess, idx, z, logw = best
    w = np.exp(logw - logw.max())
    pick = _systematic(w / w.sum(), n_draws, rng)
    sub = pop.take(idx[pick])
    theta = sub.prior_mean(pd.x_effect) + np.einsum("sij,sj->si", sub.chol, z[pick])
    draws = patient_draws(theta, sub.globals, pd, cfg, kinds)
    return draws, {"stages": float(stages), "ess": round(ess, 1),
                   "ess_share": round(ess / PROPOSALS, 4)}


def _systematic(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling: n indices with probabilities w, low variance."""
    u = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(w), u), len(w) - 1)
