"""The residual filter's log-likelihood and its gradient as one fused PyTensor Op (numba).

One compiled loop walks the flat scores (sorted by patient, then day): forward
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

from recovery.model.likelihood.residual import FIRST_GAP, OPEN, ScoreGrid

__all__ = ["FilteredLoglik", "filter_one", "filtered_loglik", "log_ndtr", "loglik_and_grad"]

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


# Cephes' erfc (S. L. Moshier, public domain; the rational approximations scipy's ndtr uses):
# erfc(x) = exp(-x^2) P(x) / Q(x) for 1 <= x < 8, R / S beyond, 1 - x T(x^2) / U(x^2) below 1.
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)
_ERFC_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
           6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_ERFC_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
           1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)
_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)


@_jit
def _poly(x: float, c: tuple[float, ...]) -> float:
    """c[0] x^n + ... + c[n] (Horner)."""
    r = 0.0
    for v in c:
        r = r * x + v
    return r


@_jit
def _erfc_gauss(x: float) -> tuple[float, float]:
    """erfc(x) and exp(-x^2) from a single exp: the bin's mass and its edge density together
    (Cephes' rational approximation, relative error ~1e-14)."""
    ax = abs(x)
    g = math.exp(-x * x)
    if ax < 1.0:
        z = x * x
        return 1.0 - x * _poly(z, _ERF_T) / _poly(z, _ERF_U), g
    if ax < 8.0:
        r = g * _poly(ax, _ERFC_P) / _poly(ax, _ERFC_Q)
    else:
        r = g * _poly(ax, _ERFC_R) / _poly(ax, _ERFC_S)
    return (2.0 - r if x < 0.0 else r), g


@_jit
def _bin(lo: float, hi: float) -> tuple[float, float, float]:
    """log(Phi(hi) - Phi(lo)) and the normal density at each edge divided by that mass,
    taken in the tail where it is accurate (flipped when the bin lies above the mean). Unless
    the bin is far out (its upper edge below -20 after the flip), the mass and both densities
    come from two _erfc_gauss calls; an open end (the 0 and 10 bins) costs nothing."""
    flip = lo > 0.0
    a, b = (-hi, -lo) if flip else (lo, hi)
    if b > -20.0:
        eb, gb = _erfc_gauss(-b * INV_SQRT2)
        ea, ga = (0.0, 0.0) if a <= -OPEN else _erfc_gauss(-a * INV_SQRT2)
        mass = 0.5 * (eb - ea)
        inv = INV_SQRT_2PI / mass
        g_lo, g_hi = (gb, ga) if flip else (ga, gb)
        return math.log(mass), g_lo * inv, g_hi * inv
    la, lb = log_ndtr(b), log_ndtr(a)
    logp = la + math.log1p(-math.exp(lb - la))
    log_norm = HALF_LOG_2PI + logp
    return logp, math.exp(-0.5 * lo * lo - log_norm), math.exp(-0.5 * hi * hi - log_norm)


@_jit
def filter_one(pm: float, pv: float, y: float, mu: float, a: float, sigma: float, share: float
          ) -> tuple[float, float, float, tuple[float, ...]]:
    """residual.filter_step for one score, given a = exp(-gap / ell): the new state, logp,
    and the intermediates the adjoint needs."""
    s2 = sigma * sigma
    q, r = share * s2, (1.0 - share) * s2
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


N_SAVED = 15  # the intermediates filter_one hands to _step_adjoint
N_LAGS = 64  # whole-day gaps whose exp(-gap / ell) loglik_and_grad takes from a table


@_jit
def _step_adjoint(saved: np.ndarray, y: float, gap: float, sigma: float, share: float,
                  ell: float, g_pm2: float, g_pv2: float) -> tuple[float, ...]:
    """Reverse mode through filter_one, from the intermediates it saved: from the adjoints of
    new state (and 1 for logp) to those of the old state, mu and (sigma, share, ell). Lines
    mirror filter_one bottom-up."""
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
    lags = np.exp(-np.arange(N_LAGS) / ell)  # diaries' gaps are mostly whole days
    for j in range(n):
        g = gap[j]
        k = int(g) if g < N_LAGS else -1
        a = lags[k] if k == g else (0.0 if g >= FIRST_GAP else math.exp(-g / ell))
        pm, pv, logp, inter = filter_one(pm, pv, y[j], mu[j], a, sigma, share)
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
        """The node: log-likelihood and its gradients in mu and the noise."""
        mu, noise, y, gap, index, valid = (pt.as_tensor(x) for x in inputs)
        return Apply(self, [pt.cast(mu, "float64"), pt.cast(noise, "float64"), y, gap, index,
                            valid], [pt.dscalar(), pt.dvector(), pt.dvector()])

    def perform(self, node: Apply, inputs: Sequence[Any], outputs: list[list[Any]]) -> None:
        """Run the compiled filter on concrete arrays."""
        mu, noise, y, gap = inputs[:4]
        logp, g_mu, g_noise = loglik_and_grad(mu, y, gap, noise)
        outputs[0][0], outputs[1][0], outputs[2][0] = np.asarray(logp), g_mu, g_noise

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        """Which inputs each output depends on."""
        return [[True] * 3, [True] * 3] + [[False] * 3] * 4

    def grad(self, inputs: Sequence[Any], output_grads: Sequence[Any]) -> list[Any]:
        """The vector-Jacobian product from the gradients computed with the value."""
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
