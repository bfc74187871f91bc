"""The trajectory kernel: expected pain for given parameters, sessions and time points.

One definition serves NumPy (any leading draw dimensions) and PyTensor (inside the PyMC model):
each function takes the array namespace `xp` (`numpy` or `pytensor.tensor`).

For patient i at time t (days since the first record), with sessions s_k of kind c_k:

    N(t)    = floor + (base - floor) * exp(-t / tau_nat)               natural course
    A(t)    = sum_{s_k < t} w[c_k] * exp(-(t - s_k) / relief_tau)      relief adstock (fades)
    M(t)    = adherence * sum_{s_k < t} v[c_k]                         rehab dose (does not fade)
    core(t) = N(t) * (1 - relief * (1 - exp(-A/kappa))) * (1 - durable * (1 - exp(-M/nu)))
    G(t)    = sum_{s_k < t} phi[c_k] * h_k * g((t - s_k) / tau_flare),  g(u) = u * exp(1 - u)
    mu(t)   = core + (10 - core) * (1 - exp(-flare * G / (10 - core)))

`relief` and `durable` are fractions of the current pain (Farrar 2001: meaningful change is
relative), so mu stays in (0, 10) for any parameters; the flare adds about `flare * G` NRS and
saturates below 10. h_k = floor + (1 - floor) * exp(-k / n_hab) makes first sessions flare more.

Cost: A(t) is a cumulative sum over each patient's sorted sessions (exponentials factored
around a per-patient reference time `tref`), then one gather per time point, so the cost grows
with scores + sessions, not scores x sessions. G and M do not depend on parameters that are
sampled, so they are precomputed once (`build_design`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from recovery.model.config import ModelConfig

__all__ = [
    "LOG_SCALE",
    "EventDesign",
    "Params",
    "build_design",
    "expected_pain",
    "flare_shape",
    "transform",
]

Array = Any  # numpy.ndarray or a PyTensor variable
FLARE_WINDOW = 35.0  # g(u) < 1e-13 beyond u = 35, so even thousands of older sessions add < 1e-9


def flare_shape(u: np.ndarray) -> np.ndarray:
    """g(u) = u * exp(1 - u) for u > 0, else 0: rises, peaks at u = 1 with value 1, decays."""
    u = np.asarray(u, dtype=float)
    return np.where(u > 0, np.maximum(u, 0) * np.exp(1 - np.maximum(u, 0)), 0.0)


@dataclass(frozen=True)
class EventDesign:
    """Parameter-free arrays describing when each patient's sessions and time points are."""

    patient: np.ndarray  # (N,) patient index of each time point
    t: np.ndarray  # (N,) days since the patient's first record
    last: np.ndarray  # (N,) within-patient index of the last session strictly before t, or -1
    counts: np.ndarray  # (N, K) sessions of each kind strictly before t
    flare_basis: np.ndarray  # (N,) G(t): habituated, kind-weighted flare bumps
    session_t: np.ndarray  # (P, S) session times, padded with 0
    session_kind: np.ndarray  # (P, S) kind index, padded with 0
    session_mask: np.ndarray  # (P, S) 1.0 for a real session, 0.0 for padding
    tref: np.ndarray  # (P,) reference time of the adstock's factored exponentials

    @property
    def n_patients(self) -> int:
        return int(self.session_t.shape[0])


@dataclass(frozen=True)
class Params:
    """Kernel parameters. NumPy: theta (..., P, 6), tau_nat (..., 1), weights (..., K)."""

    theta: Array  # unconstrained patient parameters, last axis in config.PARAMS order
    tau_nat: Array
    relief_w: Array
    durable_w: Array


def _sigmoid(x: Array, xp: ModuleType) -> Array:
    return 1.0 / (1.0 + xp.exp(-x))


LOG_SCALE = ("relief_tau", "flare")  # the parameters transform takes through exp


def transform(theta: Array, relief_tau_min: float, xp: ModuleType = np) -> dict[str, Array]:
    """Unconstrained patient parameters -> named natural-scale ones (see priors.py)."""
    base = 10.0 * _sigmoid(theta[..., 0], xp)
    return {
        "base": base,
        "floor": base * _sigmoid(theta[..., 1], xp),
        "relief": _sigmoid(theta[..., 2], xp),
        "relief_tau": relief_tau_min + xp.exp(theta[..., 3]),
        "flare": xp.exp(theta[..., 4]),
        "durable": _sigmoid(theta[..., 5], xp),
    }


def _adstock(
    relief_w: Array, relief_tau: Array, d: EventDesign, xp: ModuleType
) -> Array:
    """A(t) via a per-patient cumulative sum of factored exponentials (see module docstring)."""
    tau_ps = relief_tau[..., :, None]  # (..., P, 1)
    expo = (d.session_t - d.tref[:, None]) / tau_ps  # (..., P, S)
    terms = relief_w[..., d.session_kind] * d.session_mask * xp.exp(expo)
    csum = xp.cumsum(terms, axis=-1)
    csum0 = xp.concatenate([xp.zeros_like(csum[..., :1]), csum], axis=-1)
    at_last = csum0[..., d.patient, d.last + 1]  # (..., N)
    return xp.exp(-(d.t - d.tref[d.patient]) / relief_tau[..., d.patient]) * at_last


def expected_pain(
    p: Params, adherence: Array, d: EventDesign, cfg: ModelConfig, xp: ModuleType = np
) -> Array:
    """mu(t) at every time point of the design: shape (..., N), values in (0, 10)."""
    nat_p = transform(p.theta, cfg.relief_tau_min, xp)
    if xp is np and d.n_patients == 1:  # one patient (forecasts): broadcast, do not gather
        q = {k: v[..., :1] for k, v in nat_p.items()}
    else:
        q = {k: v[..., d.patient] for k, v in nat_p.items()}
    natural = q["floor"] + (q["base"] - q["floor"]) * xp.exp(-d.t / p.tau_nat)
    relief = q["relief"] * -xp.expm1(-_adstock(p.relief_w, nat_p["relief_tau"], d, xp)
                                     / cfg.relief_saturation)
    dose = adherence[d.patient] * (p.durable_w @ d.counts.T)
    durable = q["durable"] * -xp.expm1(-dose / cfg.durable_saturation)
    core = natural * (1.0 - relief) * (1.0 - durable)
    head = 10.0 - core
    return core + head * -xp.expm1(-q["flare"] * d.flare_basis / head)


def build_design(
    sessions: tuple[np.ndarray, np.ndarray, np.ndarray],
    times: tuple[np.ndarray, np.ndarray],
    n_patients: int,
    kind_flare: np.ndarray,
    cfg: ModelConfig,
) -> EventDesign:
    """Precompute the design from flat arrays (vectorised, no loop over patients or times).

    sessions: (patient index, time, kind index); times: (patient index, time). Times are days
    since each patient's first record. Sessions need not be sorted.
    """
    s_pid, s_t, s_kind = (np.asarray(a) for a in sessions)
    o_pid, o_t = np.asarray(times[0]), np.asarray(times[1], dtype=float)
    order = np.lexsort((s_t, s_pid))
    s_pid, s_t, s_kind = s_pid[order].astype(int), s_t[order].astype(float), s_kind[order]
    s_kind = s_kind.astype(int)
    starts = np.searchsorted(s_pid, np.arange(n_patients), side="left")
    n_per = np.bincount(s_pid, minlength=n_patients)
    rank = np.arange(len(s_pid)) - starts[s_pid]
    # "strictly before t": count of the patient's sessions with time < t.
    n_before = _count_before(s_pid, s_t, o_pid, o_t) - starts[o_pid]
    K = len(kind_flare)
    counts = np.zeros((len(o_t), K))
    for k in range(K):  # loop over session kinds (a handful), not over patients or days
        sel = s_kind == k
        counts[:, k] = _count_before(s_pid[sel], s_t[sel], o_pid, o_t) - np.searchsorted(
            s_pid[sel], o_pid, side="left"
        )
    habit = cfg.flare_habituation_floor + (1 - cfg.flare_habituation_floor) * np.exp(
        -rank / cfg.flare_habituation_sessions
    )
    weight = kind_flare[s_kind] * habit
    flare_basis = _flare_basis(s_pid, s_t, weight, o_pid, o_t, cfg.flare_peak_days)
    S = max(int(n_per.max(initial=0)), 1)
    pad_t = np.zeros((n_patients, S))
    pad_k = np.zeros((n_patients, S), dtype=int)
    pad_m = np.zeros((n_patients, S))
    pad_t[s_pid, rank], pad_k[s_pid, rank], pad_m[s_pid, rank] = s_t, s_kind, 1.0
    lo = np.full(n_patients, np.inf)
    hi = np.full(n_patients, -np.inf)
    for pid, t in ((s_pid, s_t), (o_pid, o_t)):
        np.minimum.at(lo, pid, t)
        np.maximum.at(hi, pid, t)
    tref = np.where(np.isfinite(lo), (lo + hi) / 2, 0.0)
    return EventDesign(
        patient=o_pid.astype(int), t=o_t, last=(n_before - 1).astype(int), counts=counts,
        flare_basis=flare_basis, session_t=pad_t, session_kind=pad_k, session_mask=pad_m,
        tref=tref,
    )


def _count_before(s_pid: np.ndarray, s_t: np.ndarray, o_pid: np.ndarray, o_t: np.ndarray
                  ) -> np.ndarray:
    """Global count of sessions ordered before (o_pid, o_t); sessions sorted by (pid, t)."""
    # Sort key: patient first, then time. Times are shifted to be < span, so pid*span+t orders.
    span = float(max(np.max(s_t, initial=0.0), np.max(o_t, initial=0.0))) + 1.0
    return np.searchsorted(s_pid * span + s_t, o_pid * span + o_t, side="left")


def _flare_basis(
    s_pid: np.ndarray, s_t: np.ndarray, weight: np.ndarray,
    o_pid: np.ndarray, o_t: np.ndarray, tau_f: float,
) -> np.ndarray:
    """G(t) = sum of weighted g((t - s)/tau_f) over the sessions in the flare window before t."""
    hi = _count_before(s_pid, s_t, o_pid, o_t)
    # Clipped at -0.5 (times are >= 0) so the key never reaches the previous patient's sessions.
    lo = _count_before(s_pid, s_t, o_pid, np.maximum(o_t - FLARE_WINDOW * tau_f, -0.5))
    n = hi - lo
    if n.sum() == 0:
        return np.zeros(len(o_t))
    obs = np.repeat(np.arange(len(o_t)), n)
    offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    ses = np.repeat(lo, n) + offs
    contrib = weight[ses] * flare_shape((o_t[obs] - s_t[ses]) / tau_f)
    return np.bincount(obs, weights=contrib, minlength=len(o_t))
