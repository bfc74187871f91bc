"""The observation model: rounded 0-10 scores around the kernel's mean, with a filtered residual.

A score is Y = round(clip(Z, 0, 10)), Z = mu + x + e: x a latent daily AR(1) (stationary
variance q = share * sigma^2, lag-d correlation exp(-d / ell)), e measurement noise (variance
r = (1 - share) * sigma^2). The likelihood runs an assumed-density filter over each patient's
diary in time order: it predicts x at the next score, scores that score's bin under the
Gaussian prediction (interval censoring, 0 and 10 open-ended), then updates x on the bin by
moment matching (the truncated normal's mean and variance within the bin).

Why a filter: conditioning each score on the previous one only (a pairwise conditional) counts
the diary's information wrongly and recovers the noise's parameters badly
(docs/decisions/0008-sampling-the-hierarchy.md).

The same step serves NumPy (a loop over score ranks, vectorised over draws and patients) and
PyTensor/JAX (a scan), so the fit and the forecasts share the maths.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from scipy.special import log_ndtr as _log_ndtr

__all__ = ["FIRST_GAP", "Filtered", "ScoreGrid", "bin_edges", "bin_logp", "bin_moments",
           "filter_scores", "filter_step", "interval_logp", "predictive_moments", "score_grid"]

Array = Any  # numpy.ndarray or a PyTensor / JAX array
FIRST_GAP = 1e4  # a patient's first score: no earlier state (exp(-1e4 / ell) is 0)
OPEN = 1e3  # standardised open end of the 0 and 10 bins (Phi(-1e3) underflows to exactly 0)


@dataclass(frozen=True)
class ScoreGrid:
    """Each patient's scores as one row in time order, padded: the layout the filter walks."""

    index: np.ndarray  # (P, T) index of the score in the flat (patient, day)-sorted arrays
    valid: np.ndarray  # (P, T) True for a real score, False for padding
    gap: np.ndarray  # (P, T) days since the patient's previous score (FIRST_GAP for the first)

    @property
    def flat_gap(self) -> np.ndarray:
        """The gaps in the flat scores' (patient, day) order: the grid's real cells row-major."""
        return self.gap[self.valid]


def score_grid(patient: np.ndarray, t: np.ndarray, n_patients: int) -> ScoreGrid:
    """Lay out flat scores sorted by (patient, time) as rows (vectorised)."""
    patient = np.asarray(patient, dtype=int)
    starts = np.searchsorted(patient, np.arange(n_patients), side="left")
    rank = np.arange(len(patient)) - starts[patient]
    width = max(int(rank.max(initial=-1)) + 1, 1)
    index = np.zeros((n_patients, width), dtype=int)
    valid = np.zeros((n_patients, width), dtype=bool)
    index[patient, rank], valid[patient, rank] = np.arange(len(patient)), True
    gap = np.full((n_patients, width), FIRST_GAP)
    gap[patient, rank] = np.where(rank == 0, FIRST_GAP, np.diff(t, prepend=0.0))
    return ScoreGrid(index, valid, gap)


def bin_edges(y: Array, m: Array, s: Array, xp: ModuleType = np) -> tuple[Array, Array]:
    """Standardised edges (lo, hi) of score y's rounding bin under N(m, s^2). 0 collects
    (-inf, 0.5) and 10 [9.5, inf): their open ends sit at -+OPEN, beyond any reachable edge."""
    lo = xp.where(y < 0.5, -OPEN, (y - 0.5 - m) / s)
    hi = xp.where(y > 9.5, OPEN, (y + 0.5 - m) / s)
    return lo, hi


def bin_logp(lo: Array, hi: Array, log_ndtr: Any = _log_ndtr, xp: ModuleType = np) -> Array:
    """log(Phi(hi) - Phi(lo)), taken in the tail where it is accurate (flipped when the bin lies
    above the mean): two log-CDFs per score, open-ended bins included."""
    upper = lo > 0
    la = log_ndtr(xp.where(upper, -lo, hi))  # the larger log-CDF
    lb = log_ndtr(xp.where(upper, -hi, lo))
    return la + xp.log1p(-xp.exp(lb - la))


def interval_logp(y: Array, m: Array, s: Array, log_ndtr: Any = _log_ndtr,
                  xp: ModuleType = np) -> Array:
    """log P(score = y) for a rounded, 0-10 bounded normal N(m, s): interval censoring."""
    return bin_logp(*bin_edges(y, m, s, xp), log_ndtr, xp)


def bin_moments(lo: Array, hi: Array, s: Array, logp: Array, xp: ModuleType = np
                ) -> tuple[Array, Array]:
    """Mean and variance of Z - m given Z ~ N(m, s^2) fell in the bin with standardised edges
    (lo, hi) and log probability logp: the truncated normal's moments.

    A 0 only says Z < 0.5: plugging in the bare 0 would understate how far below m the score
    lies. Inner bins are not taken as exact either: a 6 when 4.5 was expected most likely lies
    near 5.5.
    """
    log_norm = 0.5 * np.log(2 * np.pi) + logp
    pdf_lo, pdf_hi = xp.exp(-0.5 * lo * lo - log_norm), xp.exp(-0.5 * hi * hi - log_norm)
    shift = pdf_lo - pdf_hi
    var = 1.0 + lo * pdf_lo - hi * pdf_hi - shift * shift
    return s * shift, s * s * xp.maximum(var, 1e-6)  # guard: cancellation far in the tails


def _predict(state: tuple[Array, Array], gap: Array, noise: tuple[Array, Array, Array],
             xp: ModuleType) -> tuple[Array, Array]:
    """Mean and variance of the latent AR(1) x, `gap` days on from `state`."""
    sigma, share, ell = noise
    a = xp.exp(-gap / ell)
    return a * state[0], a * a * state[1] + share * sigma * sigma * (1.0 - a * a)


def filter_step(
    state: tuple[Array, Array], y: Array, mu: Array, gap: Array,
    noise: tuple[Array, Array, Array], log_ndtr: Any = _log_ndtr, xp: ModuleType = np,
) -> tuple[tuple[Array, Array], Array, Array, Array]:
    """One score: predict the latent x over `gap` days, score y, update x on y's bin.

    state = (mean, variance) of x after the previous score; noise = (sigma, share, ell).
    Returns the new state, log P(y), and the predictive mean and SD of Z.
    """
    x_mean, x_var = _predict(state, gap, noise, xp)
    total = x_var + (1.0 - noise[1]) * noise[0] * noise[0]  # + measurement noise
    s = xp.sqrt(total)
    m = mu + x_mean
    lo, hi = bin_edges(y, m, s, xp)
    logp = bin_logp(lo, hi, log_ndtr, xp)
    e, v = bin_moments(lo, hi, s, logp, xp)
    k = x_var / total  # Kalman gain
    return (x_mean + k * e, x_var * (1.0 - k) + k * k * v), logp, m, s


@dataclass(frozen=True)
class Filtered:
    """The filter's output (NumPy): per-score log-likelihood and one-step predictive moments
    (..., N), and the latent state after each patient's last score (..., P)."""

    logp: np.ndarray
    m: np.ndarray
    s: np.ndarray
    x_mean: np.ndarray
    x_var: np.ndarray


def filter_scores(mu: np.ndarray, y: np.ndarray, grid: ScoreGrid,
                  noise: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Filtered:
    """Run the filter over every patient's diary: mu (..., N) -> Filtered.

    A recurrence, so the loop is over score ranks (the longest diary), each step vectorised
    over all draws and patients. noise arrays broadcast against (..., P).
    """
    lead = mu.shape[:-1]
    n_p, width = grid.index.shape
    state = (np.zeros((*lead, n_p)), np.zeros((*lead, n_p)))
    wide = [np.broadcast_to(v, (*lead, n_p)) for v in noise]
    out = {k: np.zeros(mu.shape) for k in ("logp", "m", "s")}
    for j in range(width):
        ok = grid.valid[:, j]
        idx = grid.index[ok, j]
        sub = (wide[0][..., ok], wide[1][..., ok], wide[2][..., ok])
        new, logp, m, s = filter_step((state[0][..., ok], state[1][..., ok]), y[idx],
                                      mu[..., idx], grid.gap[ok, j], sub)
        for x, v in zip(state, new, strict=True):
            x[..., ok] = v
        out["logp"][..., idx], out["m"][..., idx], out["s"][..., idx] = logp, m, s
    return Filtered(out["logp"], out["m"], out["s"], state[0], state[1])


def predictive_moments(mu: Array, x_mean: Array, x_var: Array, gap: Array,
                       noise: tuple[Array, Array, Array], xp: ModuleType = np
                       ) -> tuple[Array, Array]:
    """Mean and SD of Z at `gap` days after the filtered state (x_mean, x_var): forecasts."""
    sigma, share, _ = noise
    x_mean, x_var = _predict((x_mean, x_var), gap, noise, xp)
    return mu + x_mean, xp.sqrt(x_var + (1.0 - share) * sigma * sigma)
