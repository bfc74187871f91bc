"""The residual filter's log-likelihood and its gradient as one fused PyTensor Op (numba).

As a pytensor.scan (one step per score rank, vectorised over patients) the filter and its
autodiff were about 80 % of each gradient's cost, and the scan's numba compile most of a fit's
start-up. Here one compiled loop walks the flat scores (sorted by patient, then day): forward
it runs residual.filter_step's maths per score, saving each step's intermediates; backward it
applies each step's hand-written adjoint to them.
tests/test_filter_op.py checks value and gradient against the NumPy filter and JAX autodiff.

The Op returns (log-likelihood, d/d mu, d/d noise) together and its grad() reuses those outputs,
so a logp-and-gradient evaluation runs the loops once. C-mode graphs call the same kernel from
perform(); JAX backends get a lax.scan version (jax_ops.py).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch import basic as numba_basic

from recovery.model.residual import FIRST_GAP, OPEN, ScoreGrid

__all__ = ["FilteredLoglik", "filtered_loglik", "log_ndtr", "loglik_and_grad"]

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
INV_SQRT2, INV_SQRT_2PI = 1.0 / math.sqrt(2.0), 1.0 / math.sqrt(2.0 * math.pi)
VAR_FLOOR = 1e-6  # residual.bin_moments' guard against cancellation far in the tails
_jit = numba.njit(cache=True, fastmath=False, error_model="numpy")


@_jit
def log_ndtr(x: float) -> float:
    """log Phi(x), accurate in both tails (scipy.special.log_ndtr's job, callable in numba)."""
    if x > -1.0:
        return math.log1p(-0.5 * math.erfc(x / math.sqrt(2.0)))
    if x > -35.0:
        return math.log(0.5 * math.erfc(-x / math.sqrt(2.0)))
    inv = 1.0 / (x * x)  # asymptotic series; its next term is below 4e-13 here
    series = 1.0 - inv * (1.0 - inv * (3.0 - inv * (15.0 - 105.0 * inv)))
    return -0.5 * x * x - math.log(-x) - HALF_LOG_2PI + math.log(series)


@_jit
def _bin(lo: float, hi: float) -> tuple[float, float, float]:
    """log(Phi(hi) - Phi(lo)) and the normal density at each edge divided by that mass,
    taken in the tail where it is accurate (flipped when the bin lies above the mean). Unless
    the bin is far out (its upper edge below -20 after the flip), the mass comes straight from
    two erfc calls: three fewer transcendental calls than the log-CDF route, same values."""
    a, b = (-hi, -lo) if lo > 0.0 else (lo, hi)
    if b > -20.0:
        mass = 0.5 * (math.erfc(-b * INV_SQRT2) - math.erfc(-a * INV_SQRT2))
        logp, inv = math.log(mass), INV_SQRT_2PI / mass
        return logp, math.exp(-0.5 * lo * lo) * inv, math.exp(-0.5 * hi * hi) * inv
    la, lb = log_ndtr(b), log_ndtr(a)
    logp = la + math.log1p(-math.exp(lb - la))
    log_norm = HALF_LOG_2PI + logp
    return logp, math.exp(-0.5 * lo * lo - log_norm), math.exp(-0.5 * hi * hi - log_norm)


@_jit
def _step(pm: float, pv: float, y: float, mu: float, gap: float, sigma: float, share: float,
          ell: float) -> tuple[float, float, float, tuple[float, ...]]:
    """residual.filter_step for one score: the new state, logp, and the intermediates the
    adjoint needs."""
    s2 = sigma * sigma
    q, r = share * s2, (1.0 - share) * s2
    a = 0.0 if gap >= FIRST_GAP else math.exp(-gap / ell)
    xm, xv = a * pm, a * a * pv + q * (1.0 - a * a)
    tot = xv + r
    s = math.sqrt(tot)
    m = mu + xm
    lo = -OPEN if y < 0.5 else (y - 0.5 - m) / s
    hi = OPEN if y > 9.5 else (y + 0.5 - m) / s
    logp, p_lo, p_hi = _bin(lo, hi)
    shift = p_lo - p_hi
    var = 1.0 + lo * p_lo - hi * p_hi - shift * shift
    v = tot * max(var, VAR_FLOOR)
    k, e = xv / tot, s * shift
    return xm + k * e, xv * (1.0 - k) + k * k * v, logp, (
        pm, pv, a, xv, tot, s, lo, hi, p_lo, p_hi, shift, var, v, k, e)


N_SAVED = 15  # the intermediates _step hands to _step_adjoint


@_jit
def _step_adjoint(saved: np.ndarray, y: float, gap: float, sigma: float, share: float,
                  ell: float, g_pm2: float, g_pv2: float) -> tuple[float, ...]:
    """Reverse mode through _step, from the intermediates it saved: from the adjoints of the
    new state (and 1 for logp) to those of the old state, mu and (sigma, share, ell). Lines
    mirror _step bottom-up."""
    pm, pv, a, xv, tot, s, lo = saved[0], saved[1], saved[2], saved[3], saved[4], saved[5], \
        saved[6]
    hi, p_lo, p_hi, shift, var, v, k, e = saved[7], saved[8], saved[9], saved[10], saved[11], \
        saved[12], saved[13], saved[14]
    var_c = max(var, VAR_FLOOR)
    # new mean xm + k e, new variance xv (1 - k) + k^2 v
    g_xm, g_k, g_e = g_pm2, g_pm2 * e + g_pv2 * (2.0 * k * v - xv), g_pm2 * k
    g_xv, g_v = g_pv2 * (1.0 - k) + g_k / tot, g_pv2 * k * k
    g_tot = g_v * var_c - g_k * k / tot
    g_s, g_shift = g_e * shift, g_e * s
    g_var = g_v * tot if var > VAR_FLOOR else 0.0
    # var = 1 + lo p_lo - hi p_hi - shift^2, shift = p_lo - p_hi
    g_shift -= 2.0 * shift * g_var
    g_plo, g_phi = g_var * lo + g_shift, -g_var * hi - g_shift
    g_lo, g_hi = g_var * p_lo - g_plo * p_lo * lo, -g_var * p_hi - g_phi * p_hi * hi
    # p = exp(-edge^2 / 2 - log_norm), log_norm = const + logp; d logp = p_hi dhi - p_lo dlo
    g_logp = 1.0 - g_plo * p_lo - g_phi * p_hi
    g_lo, g_hi = g_lo - g_logp * p_lo, g_hi + g_logp * p_hi
    g_m = 0.0
    if y >= 0.5:
        g_m -= g_lo / s
        g_s -= g_lo * lo / s
    if y <= 9.5:
        g_m -= g_hi / s
        g_s -= g_hi * hi / s
    g_xm += g_m
    g_tot += g_s / (2.0 * s)
    g_xv += g_tot  # tot = xv + r: g_r = g_tot
    s2 = sigma * sigma
    q = share * s2
    g_a = g_xv * 2.0 * a * (pv - q) + g_xm * pm
    g_q = g_xv * (1.0 - a * a)
    g_sigma = 2.0 * sigma * (share * g_q + (1.0 - share) * g_tot)
    g_share = (g_q - g_tot) * s2
    g_ell = g_a * a * gap / (ell * ell)
    return g_xm * a, g_xv * a * a, g_m, g_sigma, g_share, g_ell


@_jit
def loglik_and_grad(mu: np.ndarray, y: np.ndarray, gap: np.ndarray, noise: np.ndarray
                    ) -> tuple[float, np.ndarray, np.ndarray]:
    """Summed log-likelihood of flat scores (sorted by patient, then day; gap >= FIRST_GAP
    starts a patient), with its gradient in mu and in noise = (sigma, share, ell)."""
    n = mu.shape[0]
    sigma, share, ell = noise[0], noise[1], noise[2]
    saved = np.empty((n, N_SAVED))
    pm = pv = total = 0.0
    for j in range(n):
        pm, pv, logp, inter = _step(pm, pv, y[j], mu[j], gap[j], sigma, share, ell)
        for i in range(N_SAVED):
            saved[j, i] = inter[i]
        total += logp
    g_mu, g_noise = np.empty(n), np.zeros(3)
    g_pm = g_pv = 0.0
    for j in range(n - 1, -1, -1):
        g_pm, g_pv, g_mu[j], g_sigma, g_share, g_ell = _step_adjoint(
            saved[j], y[j], gap[j], sigma, share, ell, g_pm, g_pv)
        g_noise[0] += g_sigma
        g_noise[1] += g_share
        g_noise[2] += g_ell
    return total, g_mu, g_noise


_SOURCE_KEY = int(hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8], 16)


class FilteredLoglik(Op):
    """(mu, noise, y, gap, index, valid) -> (loglik, d loglik / d mu, d loglik / d noise).

    mu, y, gap are flat (N,) in (patient, day) order; noise = (sigma, share, ell). index and
    valid (P, T) lay the flat scores out per patient for the JAX version's scan.
    """

    __props__ = ()

    def make_node(self, *inputs: Any) -> Apply:
        mu, noise, y, gap, index, valid = (pt.as_tensor(x) for x in inputs)
        return Apply(self, [pt.cast(mu, "float64"), pt.cast(noise, "float64"), y, gap, index,
                            valid], [pt.dscalar(), pt.dvector(), pt.dvector()])

    def perform(self, node: Apply, inputs: Sequence[Any], outputs: list[list[Any]]) -> None:
        mu, noise, y, gap = inputs[:4]
        logp, g_mu, g_noise = loglik_and_grad(mu, y, gap, noise)
        outputs[0][0], outputs[1][0], outputs[2][0] = np.asarray(logp), g_mu, g_noise

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True] * 3, [True] * 3] + [[False] * 3] * 4

    def grad(self, inputs: Sequence[Any], output_grads: Sequence[Any]) -> list[Any]:
        if not all(isinstance(g.type, DisconnectedType) for g in output_grads[1:]):
            return [grad_not_implemented(self, i, x) for i, x in enumerate(inputs)]
        _, g_mu, g_noise = self.make_node(*inputs).outputs
        g = output_grads[0]
        return [g * g_mu, g * g_noise] + [disconnected_type() for _ in inputs[2:]]


@numba_basic.register_funcify_default_op_cache_key(FilteredLoglik)
def _numba_filtered_loglik(op: FilteredLoglik, node: Apply, **kwargs: Any) -> Any:
    @numba_basic.numba_njit
    def filtered(mu: Any, noise: Any, y: Any, gap: Any, index: Any, valid: Any) -> Any:
        logp, g_mu, g_noise = loglik_and_grad(mu, y, gap, noise)
        return np.array(logp), g_mu, g_noise

    return filtered, _SOURCE_KEY  # a new kernel source invalidates PyTensor's cache


_filtered = FilteredLoglik()


def filtered_loglik(mu: Any, y: np.ndarray, grid: ScoreGrid, noise: tuple[Any, Any, Any]
                    ) -> Any:
    """The summed filtered log-likelihood of flat scores y (PyTensor)."""
    node = _filtered.make_node(mu, pt.stack(list(noise)), y, grid.flat_gap, grid.index,
                               grid.valid)
    return node.outputs[0]
