"""The trajectory kernel inside the fit as a PyTensor Op pair (numba): mu, and its vector-Jacobian
product.

As PyTensor graph ops, kernel.expected_pain and its autodiff cost about as much as the filter
per gradient (gathers, padded cumulative sums and their scatter-add adjoints). Here one
compiled loop walks the flat scores (sorted by patient, then day) and carries the relief
adstock from event to event by recurrence,

    S0_c(t + dt) = e S0_c(t),  S1_c(t + dt) = e (S1_c(t) + dt S0_c(t)),  e = exp(-dt / relief_tau)

(S0_c = sum over kind-c sessions of exp(-(t - s) / relief_tau), S1_c the same weighted by
t - s), so A = sum_c w_c S0_c and dA/d relief_tau = sum_c w_c S1_c / relief_tau^2 come in one
pass at cost scores + sessions. The same pass writes each score's partials in its patient's
parameters (forward mode: a score depends on 7 + 2K numbers), so the VJP is a cheap weighted
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
from recovery.model.kernel import EventDesign, Params

__all__ = ["ExpectedPain", "ExpectedPainVJP", "design_inputs", "expected_pain_op", "vjp", "walk"]

_jit = numba.njit(cache=True, fastmath=False, error_model="numpy")


@_jit
def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@_jit
def walk(theta: np.ndarray, tau_nat: float, relief_w: np.ndarray, durable_w: np.ndarray,
         adherence: np.ndarray, patient: np.ndarray, t: np.ndarray, last: np.ndarray,
         counts: np.ndarray, flare_basis: np.ndarray, session_t: np.ndarray,
         session_kind: np.ndarray, consts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mu at every score, and each score's partial derivatives in its patient's theta (6),
    tau_nat, relief_w (K) and durable_w (K), in that column order. consts = (relief_tau_min,
    kappa, nu)."""
    rmin, kappa, nu = consts[0], consts[1], consts[2]
    n, k_kinds = t.shape[0], relief_w.shape[0]
    mu, jac = np.empty(n), np.empty((n, 7 + 2 * k_kinds))
    s0, s1 = np.zeros(k_kinds), np.zeros(k_kinds)
    natural_lags, relief_lags = np.full(N_LAGS, -1.0), np.empty(N_LAGS)
    cur_p, j, cur_t = -1, 0, 0.0
    base = floor = relief = rtau = flare = durable = sg0 = sg1 = f_d = dose = 0.0
    for i in range(n):
        p = patient[i]
        new_dose = p != cur_p
        if new_dose:  # a new patient: their natural-scale parameters, an empty adstock
            cur_p, j, cur_t = p, 0, 0.0
            s0[:] = 0.0
            s1[:] = 0.0
            relief_lags[:] = -1.0
            sg0, sg1 = _sigmoid(theta[p, 0]), _sigmoid(theta[p, 1])
            base = 10.0 * sg0
            floor = base * sg1
            relief = _sigmoid(theta[p, 2])
            rtau = rmin + math.exp(theta[p, 3])
            flare = math.exp(theta[p, 4])
            durable = _sigmoid(theta[p, 5])
        while j <= last[i]:  # sessions strictly before t[i]: decay to each, then add it
            dt = session_t[p, j] - cur_t
            _decay(s0, s1, dt, _lag(relief_lags, dt, rtau))
            s0[session_kind[p, j]] += 1.0
            cur_t = session_t[p, j]
            j += 1
            new_dose = True
        dt = t[i] - cur_t
        _decay(s0, s1, dt, _lag(relief_lags, dt, rtau))
        cur_t = t[i]
        adstock = ds_rtau = 0.0
        for c in range(k_kinds):
            adstock += relief_w[c] * s0[c]
            ds_rtau += relief_w[c] * s1[c]
        if new_dose:  # the durable dose changes only at a session
            dose = 0.0
            for c in range(k_kinds):
                dose += durable_w[c] * counts[i, c]
            dose *= adherence[p]
            f_d = -math.expm1(-dose / nu)
        en = _lag(natural_lags, t[i], tau_nat)
        natural = floor + (base - floor) * en
        f_r = -math.expm1(-adstock / kappa)
        rel, dur = relief * f_r, durable * f_d
        core = natural * (1.0 - rel) * (1.0 - dur)
        head = 10.0 - core
        x = flare * flare_basis[i] / head
        q = x * (1.0 - 0.5 * x * (1.0 - x / 3.0)) if x < 1e-4 else -math.expm1(-x)
        mu[i] = core + head * q
        d_core = (1.0 - q) * (1.0 + x)
        d_nat = d_core * (1.0 - rel) * (1.0 - dur)
        d_rel = -d_core * natural * (1.0 - dur)
        d_dur = -d_core * natural * (1.0 - rel)
        d_a = d_rel * relief * (1.0 - f_r) / kappa
        d_dose = d_dur * durable * (1.0 - f_d) / nu * adherence[p]
        row = jac[i]
        row[0] = d_nat * (en * base + (1.0 - en) * floor) * (1.0 - sg0)
        row[1] = d_nat * (1.0 - en) * floor * (1.0 - sg1)
        row[2] = d_rel * f_r * relief * (1.0 - relief)
        row[3] = d_a * ds_rtau / (rtau * rtau) * (rtau - rmin)
        row[4] = (1.0 - q) * flare_basis[i] * flare
        row[5] = d_dur * f_d * durable * (1.0 - durable)
        row[6] = d_nat * (base - floor) * en * t[i] / (tau_nat * tau_nat)
        for c in range(k_kinds):
            row[7 + c] = d_a * s0[c]
            row[7 + k_kinds + c] = d_dose * counts[i, c]
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
def vjp(jac: np.ndarray, g_mu: np.ndarray, patient: np.ndarray, n_patients: int
        ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """g_mu^T jac, summed into (theta (P, 6), tau_nat, relief_w, durable_w)."""
    k_kinds = (jac.shape[1] - 7) // 2
    g_th, g_rest = np.zeros((n_patients, 6)), np.zeros(1 + 2 * k_kinds)
    for i in range(jac.shape[0]):
        g, p = g_mu[i], patient[i]
        for c in range(6):
            g_th[p, c] += g * jac[i, c]
        for c in range(1 + 2 * k_kinds):
            g_rest[c] += g * jac[i, 6 + c]
    return g_th, g_rest[0], g_rest[1:1 + k_kinds].copy(), g_rest[1 + k_kinds:].copy()


def design_inputs(d: EventDesign) -> list[np.ndarray]:
    """The design's arrays in the order the Ops take them (after the parameters)."""
    return [d.patient, d.t, d.last, d.counts, d.flare_basis, d.session_t, d.session_kind,
            d.session_mask, d.tref]


def _check_sorted(d: EventDesign) -> None:
    """The walk needs scores grouped by patient and in time order within each."""
    same = d.patient[1:] == d.patient[:-1]
    if (np.diff(d.patient) < 0).any() or (np.diff(d.t)[same] < 0).any():
        raise ValueError("scores must be sorted by patient, then day")


class _KernelOpBase(Op):
    """Config constants as props, shared by the value Op and its VJP."""

    __props__ = ("relief_tau_min", "relief_saturation", "durable_saturation")

    def __init__(self, relief_tau_min: float, relief_saturation: float,
                 durable_saturation: float) -> None:
        self.relief_tau_min = float(relief_tau_min)
        self.relief_saturation = float(relief_saturation)
        self.durable_saturation = float(durable_saturation)

    @property
    def consts(self) -> np.ndarray:
        return np.array([self.relief_tau_min, self.relief_saturation, self.durable_saturation])

    def config(self) -> ModelConfig:
        """A ModelConfig carrying these constants (for kernel.expected_pain in other backends)."""
        return ModelConfig(relief_tau_min=self.relief_tau_min,
                           relief_saturation=self.relief_saturation,
                           durable_saturation=self.durable_saturation)


def _as_inputs(inputs: Sequence[Any]) -> list[Any]:
    """Parameters as float64 tensors, then the constant arrays as they are."""
    return [pt.cast(pt.as_tensor(x), "float64") for x in inputs[:4]] + [
        pt.as_tensor(x) for x in inputs[4:]]


class ExpectedPain(_KernelOpBase):
    """(theta, tau_nat, relief_w, durable_w, adherence, *design arrays) -> (mu (N,), jac), jac
    each score's partials in its parameters (walk's columns), which the VJP Op sums up."""

    def make_node(self, *inputs: Any) -> Apply:
        return Apply(self, _as_inputs(inputs), [pt.dvector(), pt.dmatrix()])

    def perform(self, node: Apply, inputs: Sequence[Any], outputs: list[list[Any]]) -> None:
        theta, tau, w, v, adh, patient, t, last, counts, fb, st, sk = inputs[:12]
        outputs[0][0], outputs[1][0] = walk(theta, float(tau), w, v, adh, patient, t, last,
                                            counts, fb, st, sk, self.consts)

    def grad(self, inputs: Sequence[Any], output_grads: Sequence[Any]) -> list[Any]:
        if not isinstance(output_grads[1].type, DisconnectedType):
            return [grad_not_implemented(self, i, x) for i, x in enumerate(inputs)]
        jac = self.make_node(*inputs).outputs[1]
        grads = ExpectedPainVJP(*self.consts).make_node(*inputs, jac, output_grads[0]).outputs
        return list(grads) + [disconnected_type() for _ in inputs[4:]]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True, True]] * 4 + [[False, False]] * (len(node.inputs) - 4)


class ExpectedPainVJP(_KernelOpBase):
    """(ExpectedPain's inputs, jac, g_mu) -> adjoints of (theta, tau_nat, relief_w, durable_w).
    The numba version needs only jac; the JAX one differentiates expected_pain itself."""

    def make_node(self, *inputs: Any) -> Apply:
        ins = _as_inputs(inputs)
        return Apply(self, ins, [p.type() for p in ins[:4]])

    def perform(self, node: Apply, inputs: Sequence[Any], outputs: list[list[Any]]) -> None:
        theta, patient, jac, g_mu = inputs[0], inputs[5], inputs[-2], inputs[-1]
        g_th, g_tau, g_w, g_v = vjp(jac, g_mu, patient, theta.shape[0])
        for out, val in zip(outputs, (g_th, np.asarray(g_tau), g_w, g_v), strict=True):
            out[0] = val


_SOURCE_KEY = int(hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8], 16)


@numba_basic.register_funcify_default_op_cache_key(ExpectedPain)
def _numba_expected_pain(op: ExpectedPain, node: Apply, **kwargs: Any) -> Any:
    consts = op.consts

    @numba_basic.numba_njit
    def expected(theta: Any, tau: Any, w: Any, v: Any, adh: Any, patient: Any, t: Any,
                 last: Any, counts: Any, fb: Any, st: Any, sk: Any, mask: Any, tref: Any
                 ) -> Any:
        return walk(theta, tau.item(), w, v, adh, patient, t, last, counts, fb, st, sk, consts)

    return expected, _SOURCE_KEY


@numba_basic.register_funcify_default_op_cache_key(ExpectedPainVJP)
def _numba_expected_pain_vjp(op: ExpectedPainVJP, node: Apply, **kwargs: Any) -> Any:
    @numba_basic.numba_njit
    def expected_vjp(theta: Any, tau: Any, w: Any, v: Any, adh: Any, patient: Any, t: Any,
                     last: Any, counts: Any, fb: Any, st: Any, sk: Any, mask: Any, tref: Any,
                     jac: Any, g_mu: Any) -> Any:
        g_th, g_tau, g_w, g_v = vjp(jac, g_mu, patient, theta.shape[0])
        return g_th, np.array(g_tau), g_w, g_v

    return expected_vjp, _SOURCE_KEY


def expected_pain_op(p: Params, adherence: np.ndarray, d: EventDesign, cfg: ModelConfig) -> Any:
    """kernel.expected_pain for the fit's PyTensor graph, as the numba Op (same values)."""
    _check_sorted(d)
    op = ExpectedPain(cfg.relief_tau_min, cfg.relief_saturation, cfg.durable_saturation)
    node = op.make_node(p.theta, p.tau_nat, p.relief_w, p.durable_w, adherence,
                        *design_inputs(d))
    return node.outputs[0]
