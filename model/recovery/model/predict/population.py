"""Population posterior draws as arrays: what a new patient's prior and likelihood need.

`PopulationDraws.from_fitted` reads one set of arrays per posterior draw (population mean,
covariate effects, the between-patient Cholesky factor, the session-kind weights and the
residual parameters); `Globals` are the per-draw quantities shared by every patient.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cached_property

import numpy as np

from recovery.model.config import PARAMS
from recovery.model.inference.fit import FittedModel, stacked_draws
from recovery.model.likelihood.build import KIND_WEIGHTS
from recovery.model.likelihood.kernel import Params, floor_shift

__all__ = ["Globals", "PopulationDraws"]


@dataclass(frozen=True)
class Globals:
    """Per-draw parameters every patient shares: kernel time scale, kind weights, residual."""

    tau_nat: np.ndarray  # (S,)
    relief_w: np.ndarray  # (S, K)
    durable_w: np.ndarray  # (S, K)
    quick_w: np.ndarray  # (S, K)
    flare_w: np.ndarray  # (S, K)
    synergy: np.ndarray  # (S,)
    sigma: np.ndarray  # (S,)
    share: np.ndarray  # (S,)
    ell: np.ndarray  # (S,)
    onset: np.ndarray  # (S,) days of the patient's pain at t = 0 (update.with_onset sets it)

    def take(self, idx: np.ndarray) -> Globals:
        """The draws at `idx` (resampling, thinning)."""
        return Globals(*(getattr(self, f.name)[idx] for f in fields(self)))

    def average(self) -> Globals:
        """The draws' average as one draw (a central draw for approximations)."""
        return Globals(*(getattr(self, f.name).mean(axis=0, keepdims=True)
                         for f in fields(self)))

    def params(self, theta: np.ndarray) -> Params:
        """Kernel parameters for one patient per draw: theta (S, 8) -> Params with P = 1."""
        return Params(theta[:, None, :], self.tau_nat[:, None], self.relief_w, self.durable_w,
                      self.quick_w, self.flare_w, self.synergy[:, None], self.onset[:, None])

    def noise(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sigma, share, ell) per draw as (S, 1) columns: the residual filter's noise for one
        patient."""
        return self.sigma[:, None], self.share[:, None], self.ell[:, None]

    def __len__(self) -> int:
        return len(self.tau_nat)


@dataclass(frozen=True)
class PopulationDraws:
    """Per-draw population prior of a patient's theta, plus the shared `Globals`."""

    mu_pop: np.ndarray  # (S, 8) mean of the reference patient (all covariates at centre)
    beta: np.ndarray  # (S, E) covariate effects
    effect_param: np.ndarray  # (E, 8) which parameter each effect moves
    chol: np.ndarray  # (S, 8, 8) lower Cholesky factor of the between-patient covariance
    globals: Globals

    @classmethod
    def from_fitted(cls, fitted: FittedModel, max_draws: int | None = None) -> PopulationDraws:
        """Read the arrays from a fitted model's posterior (evenly thinned to `max_draws`)."""
        g = lambda n: stacked_draws(fitted.idata, n, max_draws)  # noqa: E731
        cfg = fitted.config
        mu = g("mu_pop")
        chol = np.zeros((len(mu), len(PARAMS), len(PARAMS)))
        block, rest = cfg.param_split()
        if block:  # PyMC packs the LKJ Cholesky factor in numpy's tril_indices order
            small = np.zeros((len(mu), len(block), len(block)))
            rows, cols = np.tril_indices(len(block))
            small[:, rows, cols] = g("chol")
            chol[:, np.array(block)[:, None], np.array(block)[None, :]] = small
        if rest:
            chol[:, rest, rest] = g("patient_sd_other")
        w, v, u, f = (np.exp(g(f"log_{name}_w")) for name, _ in KIND_WEIGHTS)
        tau = g("tau_nat")
        glob = Globals(tau, w, v, u, f, g("synergy"), g("sigma"), g("share"), g("ell"),
                       np.zeros_like(tau))
        return cls(mu, g("beta"), cfg.effect_map(), chol, glob)

    def take(self, idx: np.ndarray) -> PopulationDraws:
        """The draws at `idx`."""
        return PopulationDraws(self.mu_pop[idx], self.beta[idx], self.effect_param,
                               self.chol[idx], self.globals.take(idx))

    @cached_property
    def chol_inv(self) -> np.ndarray:
        """L_s^-1 per draw (S, 8, 8), computed once per served model."""
        return np.linalg.inv(self.chol)

    @cached_property
    def log_norm(self) -> np.ndarray:
        """log |L_s| + (d/2) log(2 pi) per draw: the normal density's normaliser."""
        return (np.log(np.abs(np.diagonal(self.chol, axis1=1, axis2=2))).sum(axis=1)
                + 0.5 * self.chol.shape[1] * np.log(2 * np.pi))

    def prior_mean(self, x_effect: np.ndarray) -> np.ndarray:
        """Mean of theta (S, 8) for a patient with standardised covariates x_effect (E,) whose
        pain has lasted globals.onset days at t = 0 (the floor's shift, kernel.floor_shift)."""
        mean = self.mu_pop + (self.beta * x_effect[None, :]) @ self.effect_param
        mean[:, PARAMS.index("floor")] += floor_shift(self.globals.onset, self.globals.tau_nat)
        return mean

    def with_onset(self, onset: np.ndarray) -> PopulationDraws:
        """The same draws for a patient whose pain has lasted `onset` (S,) days at t = 0."""
        return replace(self, globals=replace(self.globals, onset=onset))

    def log_prior(self, theta: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """log N(theta_s | mean_s, L_s L_s^T) for each draw s: theta, mean (S, 8) -> (S,)."""
        z = np.linalg.solve(self.chol, (theta - mean)[..., None])[..., 0]
        log_det = np.log(np.abs(np.diagonal(self.chol, axis1=1, axis2=2))).sum(axis=1)
        return -0.5 * (z * z).sum(axis=1) - log_det - 0.5 * len(PARAMS) * np.log(2 * np.pi)

    def sample_prior(self, mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One theta per draw from its population prior: (S, 8)."""
        eps = rng.standard_normal(mean.shape)
        return mean + np.einsum("sij,sj->si", self.chol, eps)

    def __len__(self) -> int:
        return len(self.mu_pop)
