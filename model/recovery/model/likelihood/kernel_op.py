"""The trajectory kernel inside the fit as a PyTensor Op pair (numba): mu, and its vector-Jacobian
product.

One compiled loop walks the flat scores (sorted by patient, then day) and carries the relief
and short-relief adstocks from event to event by recurrence,

    S0_c(t + dt) = e S0_c(t),  S1_c(t + dt) = e (S1_c(t) + dt S0_c(t)),  e = exp(-dt / relief_tau)

(S0_c = sum over kind-c sessions of exp(-(t - s) / relief_tau), S1_c the same weighted by
t - s), so A = sum_c w_c S0_c and dA/d relief_tau = sum_c w_c S1_c / relief_tau^2 come in one
pass at cost scores + sessions (the short relief likewise, with quick_tau). The same pass writes
each score's partials in its parameters (forward mode: a score depends on 10 + 4K numbers), so
the VJP is a cheap weighted
sum of them and a logp-and-gradient evaluation walks the scores once.
tests/test_kernel_op.py checks both against kernel.expected_pain and its PyTensor autodiff.
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

from recovery.model.config import ModelConfig
from recovery.model.likelihood.kernel import EventDesign, Params

__all__ = ["ExpectedPain", "ExpectedPainVJP", "design_inputs", "expected_pain_op", "split_shared",
           "vjp", "walk"]

_jit = numba.njit(cache=True, fastmath=False, error_model="numpy")


@_jit
def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


N_PARAMS = 7  # theta, tau_nat, relief_w, durable_w, quick_w, flare_w, synergy


@_jit
def walk(theta: np.ndarray, tau_nat: float, relief_w: np.ndarray, durable_w: np.ndarray,
         quick_w: np.ndarray, flare_w: np.ndarray, synergy: float, adherence: np.ndarray,
         onset: np.ndarray, patient: np.ndarray, t: np.ndarray, last: np.ndarray,
         counts: np.ndarray, flare_basis: np.ndarray, paired: np.ndarray, session_t: np.ndarray,
         session_kind: np.ndarray, consts: np.ndarray, with_jac: bool = True
         ) -> tuple[np.ndarray, np.ndarray]:
    """mu at every score, and (with_jac) each score's partial derivatives in its patient's
    theta (8), tau_nat, relief_w (K), durable_w (K), quick_w (K), flare_w (K) and synergy, in
    that column order; without, the Jacobian has no rows. onset: days of pain at each
    patient's first record (constants, kernel.py's natural course).
    consts = (relief_tau_min, kappa, nu, quick_tau_min, kappa_q)."""
    rmin, kappa, nu, qmin, kappa_q = consts[0], consts[1], consts[2], consts[3], consts[4]
    n, kk = t.shape[0], relief_w.shape[0]
    mu, jac = np.empty(n), np.empty((n if with_jac else 0, 10 + 4 * kk))
    s0, s1, q0, q1 = np.zeros(kk), np.zeros(kk), np.zeros(kk), np.zeros(kk)
    relief_lags, quick_lags = np.empty(N_LAGS), np.empty(N_LAGS)
    cur_p, j, cur_t = -1, 0, 0.0
    base = floor = relief = rtau = flare = durable = quick = qtau = sg0 = sg1 = 0.0
    f_d = dose = a_nat = 0.0
    for i in range(n):
        p = patient[i]
        dose_stale = p != cur_p
        if dose_stale:  # a new patient: their natural-scale parameters, empty adstocks
            cur_p, j, cur_t = p, 0, 0.0
            s0[:] = 0.0
            s1[:] = 0.0
            q0[:] = 0.0
            q1[:] = 0.0
            relief_lags[:] = -1.0
            quick_lags[:] = -1.0
            sg0, sg1 = _sigmoid(theta[p, 0]), _sigmoid(theta[p, 1])
            base = 10.0 * sg0
            floor = base * sg1
            relief = _sigmoid(theta[p, 2])
            rtau = rmin + math.exp(theta[p, 3])
            flare = math.exp(theta[p, 4])
            durable = _sigmoid(theta[p, 5])
            quick = _sigmoid(theta[p, 6])
            qtau = qmin + math.exp(theta[p, 7])
            a_nat = tau_nat + onset[p]
        while j <= last[i]:  # sessions strictly before t[i]: decay to each, then add it
            dt = session_t[p, j] - cur_t
            _decay(s0, s1, dt, _lag(relief_lags, dt, rtau))
            _decay(q0, q1, dt, _lag(quick_lags, dt, qtau))
            s0[session_kind[p, j]] += 1.0
            q0[session_kind[p, j]] += 1.0
            cur_t = session_t[p, j]
            j += 1
            dose_stale = True
        dt = t[i] - cur_t
        _decay(s0, s1, dt, _lag(relief_lags, dt, rtau))
        _decay(q0, q1, dt, _lag(quick_lags, dt, qtau))
        cur_t = t[i]
        adstock = ds_rtau = quick_a = dq_qtau = flare_g = 0.0
        for c in range(kk):
            adstock += relief_w[c] * s0[c]
            ds_rtau += relief_w[c] * s1[c]
            quick_a += quick_w[c] * q0[c]
            dq_qtau += quick_w[c] * q1[c]
            flare_g += flare_w[c] * flare_basis[i, c]
        if dose_stale:  # a new patient or a session since: recompute the durable dose
            dose = synergy * paired[i]
            for c in range(kk):
                dose += durable_w[c] * counts[i, c]
            dose *= adherence[p]
            f_d = -math.expm1(-dose / nu)
        en = a_nat / (a_nat + t[i])
        natural = floor + (base - floor) * en
        f_r = -math.expm1(-adstock / kappa)
        f_q = -math.expm1(-quick_a / kappa_q)
        rel, fst, dur = relief * f_r, quick * f_q, durable * f_d
        core = natural * (1.0 - rel) * (1.0 - fst) * (1.0 - dur)
        head = 10.0 - core
        x = flare * flare_g / head
        q = x * (1.0 - 0.5 * x * (1.0 - x / 3.0)) if x < 1e-4 else -math.expm1(-x)
        mu[i] = core + head * q
        if not with_jac:
            continue
        d_core = (1.0 - q) * (1.0 + x)
        d_nat = d_core * (1.0 - rel) * (1.0 - fst) * (1.0 - dur)
        d_rel = -d_core * natural * (1.0 - fst) * (1.0 - dur)
        d_fst = -d_core * natural * (1.0 - rel) * (1.0 - dur)
        d_dur = -d_core * natural * (1.0 - rel) * (1.0 - fst)
        d_a = d_rel * relief * (1.0 - f_r) / kappa
        d_q = d_fst * quick * (1.0 - f_q) / kappa_q
        d_dose = d_dur * durable * (1.0 - f_d) / nu * adherence[p]
        d_g = (1.0 - q) * flare
        row = jac[i]
        row[0] = d_nat * (en * base + (1.0 - en) * floor) * (1.0 - sg0)
        row[1] = d_nat * (1.0 - en) * floor * (1.0 - sg1)
        row[2] = d_rel * f_r * relief * (1.0 - relief)
        row[3] = d_a * ds_rtau / (rtau * rtau) * (rtau - rmin)
        row[4] = d_g * flare_g
        row[5] = d_dur * f_d * durable * (1.0 - durable)
        row[6] = d_fst * f_q * quick * (1.0 - quick)
        row[7] = d_q * dq_qtau / (qtau * qtau) * (qtau - qmin)
        row[8] = d_nat * (base - floor) * en * t[i] / (a_nat * (a_nat + t[i]))
        for c in range(kk):
            row[9 + c] = d_a * s0[c]
            row[9 + kk + c] = d_dose * counts[i, c]
            row[9 + 2 * kk + c] = d_q * q0[c]
            row[9 + 3 * kk + c] = d_g * flare_basis[i, c]
        row[9 + 4 * kk] = d_dose * paired[i]
    return mu, jac


N_LAGS = 256  # whole-day lags whose exp(-lag / tau) the walk keeps once computed


@_jit
def _lag(table: np.ndarray, dt: float, tau: float) -> float:
    """exp(-dt / tau), remembered in table (-1 = not yet) when dt is a whole day below its
    length: diaries and sessions fall on days, so most lags repeat."""
    k = int(dt) if 0.0 <= dt < table.shape[0] else -1
    if k != dt:
        return math.exp(-dt / tau)
    if table[k] < 0.0:
        table[k] = math.exp(-dt / tau)
    return table[k]


@_jit
def _decay(s0: np.ndarray, s1: np.ndarray, dt: float, e: float) -> None:
    """Carry the adstock sums dt days forward by e = exp(-dt / relief_tau) (the recurrence in
    the module docstring)."""
    for c in range(s0.shape[0]):
        s1[c] = e * (s1[c] + dt * s0[c])
        s0[c] *= e


@_jit
def vjp(jac: np.ndarray, g_mu: np.ndarray, patient: np.ndarray, n_patients: int,
        n_theta: int) -> tuple[np.ndarray, np.ndarray]:
    """g_mu^T jac, summed into theta (P, n_theta) and the shared parameters' columns."""
    g_th, g_rest = np.zeros((n_patients, n_theta)), np.zeros(jac.shape[1] - n_theta)
    for i in range(jac.shape[0]):
        g, p = g_mu[i], patient[i]
        for c in range(n_theta):
            g_th[p, c] += g * jac[i, c]
        for c in range(g_rest.shape[0]):
            g_rest[c] += g * jac[i, n_theta + c]
    return g_th, g_rest


def split_shared(g_rest: np.ndarray, n_kinds: int) -> list[np.ndarray]:
    """vjp's shared column sums as (tau_nat, relief_w, durable_w, quick_w, flare_w, synergy)."""
    k = n_kinds
    return [np.asarray(g_rest[0]), *(g_rest[1 + i * k:1 + (i + 1) * k].copy() for i in range(4)),
            np.asarray(g_rest[1 + 4 * k])]


def design_inputs(d: EventDesign) -> list[np.ndarray]:
    """The design's arrays in the order the Ops take them (after the parameters)."""
    return [d.patient, d.t, d.last, d.counts, d.flare_basis, d.paired, d.session_t,
            d.session_kind, d.session_mask, d.tref]


def _check_sorted(d: EventDesign) -> None:
    """The walk needs scores grouped by patient and in time order within each."""
    same = d.patient[1:] == d.patient[:-1]
    if (np.diff(d.patient) < 0).any() or (np.diff(d.t)[same] < 0).any():
        raise ValueError("scores must be sorted by patient, then day")


CONSTS = ("relief_tau_min", "relief_saturation", "durable_saturation", "quick_tau_min",
          "quick_saturation")  # the ModelConfig constants walk takes, in its order


class _KernelOpBase(Op):
    """Config constants as props, shared by the value Op and its VJP."""

    __props__ = CONSTS

    def __init__(self, *consts: float) -> None:
        for name, value in zip(CONSTS, consts, strict=True):
            setattr(self, name, float(value))

    @property
    def consts(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in CONSTS])

    def config(self) -> ModelConfig:
        """A ModelConfig carrying these constants (for kernel.expected_pain in other backends)."""
        return ModelConfig(**{name: getattr(self, name) for name in CONSTS})


def _as_inputs(inputs: Sequence[Any]) -> list[Any]:
    """Parameters as float64 tensors, then the constant arrays as they are."""
    return [pt.cast(pt.as_tensor(x), "float64") for x in inputs[:N_PARAMS]] + [
        pt.as_tensor(x) for x in inputs[N_PARAMS:]]


class ExpectedPain(_KernelOpBase):
    """(theta, tau_nat, relief_w, durable_w, quick_w, flare_w, synergy, adherence, onset,
    *design arrays) -> (mu (N,), jac), jac each score's partials in its parameters (walk's columns),
    which the VJP Op sums up."""

    def make_node(self, *inputs: Any) -> Apply:
        """The node: expected pain at each score."""
        return Apply(self, _as_inputs(inputs), [pt.dvector(), pt.dmatrix()])

    def perform(self, node: Apply, inputs: Sequence[Any], outputs: list[list[Any]]) -> None:
        """Run the compiled kernel on concrete arrays."""
        th, tau, w, v, u, f, syn, adh, ons, patient, t, last, counts, fb, pr, st, sk = \
            inputs[:17]
        outputs[0][0], outputs[1][0] = walk(th, float(tau), w, v, u, f, float(syn), adh, ons,
                                            patient, t, last, counts, fb, pr, st, sk,
                                            self.consts)

    def grad(self, inputs: Sequence[Any], output_grads: Sequence[Any]) -> list[Any]:
        """The vector-Jacobian product, by the companion Op."""
        if not isinstance(output_grads[1].type, DisconnectedType):
            return [grad_not_implemented(self, i, x) for i, x in enumerate(inputs)]
        jac = self.make_node(*inputs).outputs[1]
        grads = ExpectedPainVJP(*self.consts).make_node(*inputs, jac, output_grads[0]).outputs
        return list(grads) + [disconnected_type() for _ in inputs[N_PARAMS:]]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        """Which inputs each output depends on."""
        return [[True, True]] * N_PARAMS + [[False, False]] * (len(node.inputs) - N_PARAMS)


class ExpectedPainVJP(_KernelOpBase):
    """(ExpectedPain's inputs, jac, g_mu) -> adjoints of its seven parameter inputs.
    The numba version needs only jac; the JAX one differentiates expected_pain itself."""

    def make_node(self, *inputs: Any) -> Apply:
        """The node: the cotangent of each parameter input."""
        ins = _as_inputs(inputs)
        return Apply(self, ins, [p.type() for p in ins[:N_PARAMS]])

    def perform(self, node: Apply, inputs: Sequence[Any], outputs: list[list[Any]]) -> None:
        """Run the compiled forward-mode pass and weight its partials."""
        theta, w, patient, jac, g_mu = inputs[0], inputs[2], inputs[9], inputs[-2], inputs[-1]
        g_th, g_rest = vjp(jac, g_mu, patient, theta.shape[0], theta.shape[1])
        for out, val in zip(outputs, [g_th, *split_shared(g_rest, len(w))], strict=True):
            out[0] = val


_SOURCE_KEY = int(hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8], 16)


@numba_basic.register_funcify_default_op_cache_key(ExpectedPain)
def _numba_expected_pain(op: ExpectedPain, node: Apply, **kwargs: Any) -> Any:
    consts = op.consts

    @numba_basic.numba_njit
    def expected(th: Any, tau: Any, w: Any, v: Any, u: Any, f: Any, syn: Any, adh: Any,
                 ons: Any, patient: Any, t: Any, last: Any, counts: Any, fb: Any, pr: Any,
                 st: Any, sk: Any, mask: Any, tref: Any) -> Any:
        return walk(th, tau.item(), w, v, u, f, syn.item(), adh, ons, patient, t, last, counts,
                    fb, pr, st, sk, consts)

    return expected, _SOURCE_KEY


@numba_basic.register_funcify_default_op_cache_key(ExpectedPainVJP)
def _numba_expected_pain_vjp(op: ExpectedPainVJP, node: Apply, **kwargs: Any) -> Any:
    @numba_basic.numba_njit
    def expected_vjp(th: Any, tau: Any, w: Any, v: Any, u: Any, f: Any, syn: Any, adh: Any,
                     ons: Any, patient: Any, t: Any, last: Any, counts: Any, fb: Any, pr: Any,
                     st: Any, sk: Any, mask: Any, tref: Any, jac: Any, g_mu: Any) -> Any:
        g_th, g = vjp(jac, g_mu, patient, th.shape[0], th.shape[1])
        k = w.shape[0]
        return (g_th, np.array(g[0]), g[1:1 + k].copy(), g[1 + k:1 + 2 * k].copy(),
                g[1 + 2 * k:1 + 3 * k].copy(), g[1 + 3 * k:1 + 4 * k].copy(),
                np.array(g[1 + 4 * k]))

    return expected_vjp, _SOURCE_KEY


def expected_pain_op(p: Params, adherence: np.ndarray, d: EventDesign, cfg: ModelConfig) -> Any:
    """kernel.expected_pain for the fit's PyTensor graph, as the numba Op (same values)."""
    _check_sorted(d)
    op = ExpectedPain(*(getattr(cfg, name) for name in CONSTS))
    onset = np.array(np.broadcast_to(np.asarray(p.onset, dtype=float), (d.n_patients,)))
    node = op.make_node(p.theta, p.tau_nat, p.relief_w, p.durable_w, p.quick_w, p.flare_w,
                        p.synergy, adherence, onset, *design_inputs(d))
    return node.outputs[0]
