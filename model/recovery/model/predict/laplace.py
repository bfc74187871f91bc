"""A Gaussian approximation of one patient's posterior for each population draw.

The update's importance sampler proposes a patient's theta around a centre and with a shape per
population draw s (`Frame`). The prior frame is the draw's own prior N(mean_s, L_s L_s^T):
exact when the history says little, hopeless when it says a lot. The Laplace frame combines
that prior with a Gaussian approximation of the history's likelihood, found once per request
at the population's average draw (mode by BFGS, curvature by finite differences):

    precision_s = Lambda_s + H,   centre_s = precision_s^-1 (Lambda_s mean_s + H x + g)

where Lambda_s is the draw's prior precision, x the mode, H the likelihood's curvature there
(negative directions dropped) and g its gradient. Importance weights correct what it misses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

__all__ = ["Frame", "laplace_frame", "prior_frame"]

STEP = 1e-4  # finite-difference step for the gradient (theta is on logit/log scales)
CURVE_STEP = 1e-3  # step between the gradients whose difference gives the curvature
GTOL = 1e-3  # the mode need not be exact: importance weights correct the approximation


@dataclass(frozen=True)
class Frame:
    """Per-draw centre and a triangular square root of the covariance: theta = centre_s +
    chol_s u."""

    centre: np.ndarray  # (S, d)
    chol: np.ndarray  # (S, d, d)
    chol_inv: np.ndarray  # (S, d, d)
    fitted: bool  # True for a Laplace frame, False for the prior's own

    def theta(self, idx: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Map standard coordinates `u` to theta in draw `idx`'s frame."""
        return self.centre[idx] + np.einsum("sij,sj->si", self.chol[idx], u)

    def u(self, idx: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Map theta to standard coordinates in draw `idx`'s frame."""
        return np.einsum("sij,sj->si", self.chol_inv[idx], theta - self.centre[idx])

    def log_det(self, idx: np.ndarray) -> np.ndarray:
        """log |chol_s|: the density of theta is that of u divided by it."""
        return np.log(np.diagonal(self.chol[idx], axis1=1, axis2=2)).sum(axis=1)


def prior_frame(mean: np.ndarray, chol: np.ndarray, chol_inv: np.ndarray) -> Frame:
    """The frame of each draw's own prior (no history)."""
    return Frame(mean, chol, chol_inv, fitted=False)


def _gradients(f: Callable[[np.ndarray], np.ndarray], points: np.ndarray) -> np.ndarray:
    """Central-difference gradients of f at each point, in one batched call: (B, d)."""
    b, d = points.shape
    e = STEP * np.eye(d)
    shifted = np.concatenate([points[:, None, :] + e, points[:, None, :] - e], axis=1)
    v = f(shifted.reshape(-1, d)).reshape(b, 2, d)
    return (v[:, 0] - v[:, 1]) / (2 * STEP)


def laplace_frame(loglik: Callable[[np.ndarray], np.ndarray], mean: np.ndarray,
                  chol: np.ndarray, chol_inv: np.ndarray) -> Frame:
    """The Laplace frame for a history whose log-likelihood at the average draw is `loglik`
    (theta (B, d) -> (B,)); the prior frame when the optimisation fails."""
    d = mean.shape[1]
    centre = mean.mean(axis=0)
    cov = np.mean(chol @ chol.transpose(0, 2, 1), axis=0) + np.cov(mean, rowvar=False)
    prec = np.linalg.inv(cov)

    def neg_post(theta: np.ndarray) -> np.ndarray:
        r = theta - centre
        return -loglik(theta) + 0.5 * np.einsum("bi,ij,bj->b", r, prec, r)

    def value_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        return float(neg_post(x[None])[0]), _gradients(neg_post, x[None])[0]

    with np.errstate(all="ignore"):
        fit = minimize(value_grad, centre, jac=True, method="BFGS",
                       options={"gtol": GTOL, "maxiter": 100})
        x = fit.x
        e = CURVE_STEP * np.eye(d)
        g = _gradients(neg_post, np.concatenate([x + e, x - e]))
        hess = (g[:d] - g[d:]) / (2 * CURVE_STEP)
    if not (np.isfinite(fit.fun) and np.isfinite(hess).all()):
        return prior_frame(mean, chol, chol_inv)
    w, v = np.linalg.eigh(0.5 * (hess + hess.T) - prec)  # the likelihood's own curvature
    h_lik = (v * np.clip(w, 0.0, None)) @ v.T
    g_lik = prec @ (x - centre)  # at the mode, the likelihood's gradient balances the prior's
    lam = chol_inv.transpose(0, 2, 1) @ chol_inv
    root = np.linalg.cholesky(lam + h_lik)  # precision = R R^T, so covariance = A A^T
    a_inv = root.transpose(0, 2, 1)  # with A = R^-T (upper triangular) and A^-1 = R^T
    a = np.linalg.inv(a_inv)
    rhs = np.einsum("sij,sj->si", lam, mean) + h_lik @ x + g_lik
    centre = np.einsum("sij,sj->si", a, np.einsum("sji,sj->si", a, rhs))
    return Frame(centre, a, a_inv, fitted=True)
