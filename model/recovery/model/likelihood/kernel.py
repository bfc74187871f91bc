"""The trajectory kernel: expected pain for given parameters, sessions and time points.

One definition serves NumPy (any leading draw dimensions) and PyTensor (inside the PyMC model):
each function takes the array namespace `xp` (`numpy` or `pytensor.tensor`).

For patient i at time t (days since the first record), pain present for `onset` days at the
first record, with sessions s_k of kind c_k:

    N(t)    = floor + (base - floor) * a / (a + t),  a = tau_nat + onset   natural course
    A(t)    = sum_{s_k < t} w[c_k] * exp(-(t - s_k) / relief_tau)      course relief (weeks)
    Q(t)    = sum_{s_k < t} u[c_k] * exp(-(t - s_k) / quick_tau)       short relief (days)
    M(t)    = adherence * (sum_{s_k < t} v[c_k] + synergy * P(t))      rehab dose (lasts)
    core(t) = N * (1 - relief (1 - e^{-A/kappa})) * (1 - quick (1 - e^{-Q/kappa_q}))
                * (1 - durable * (1 - e^{-M/nu}))
    G(t)    = sum_{s_k < t} f[c_k] * h_k * g((t - s_k) / tau_flare),  g(u) = u * exp(1 - u)
    mu(t)   = core + (10 - core) * (1 - exp(-flare * G / (10 - core)))

The natural course runs from pain onset: the excess over the plateau falls as tau / (tau + u)
u days after onset, so a new episode halves its excess in tau_nat days while pain present for
months is near-stable (its remaining excess is small and falls slowly). `floor_shift` gives the
matching shift of the floor's logit: the plateau is a fraction of pain at onset, and base is
what is left of the episode at the first record.
P(t) counts the sessions of the synergy's first kind (physio) that had one of its second kind
(massage) in the week before. `relief`, `quick` and `durable` are fractions of the current
pain (Farrar 2001: meaningful change is relative), so mu stays in (0, 10) for any parameters;
the flare adds about `flare * G` NRS and saturates below 10. h_k = floor + (1 - floor) *
exp(-r_k / n_hab) makes first sessions flare more, r_k counting earlier sessions discounted
by exp(-lag / memory), so that a restart after a break flares again.

Cost: the adstocks are cumulative sums over each patient's sorted sessions, then one gather per
time point, so the cost grows with scores + sessions, not scores x sessions. G, P and the
counts do not depend on sampled parameters, so they are precomputed (`build_design`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import numpy as np

from recovery.model.config import ModelConfig

__all__ = [
    "LOG_SCALE",
    "PARTS",
    "SAME_TIME",
    "EventDesign",
    "Params",
    "build_design",
    "expected_pain",
    "flare_shape",
    "floor_shift",
    "pain_parts",
    "transform",
]

Array = Any  # numpy.ndarray or a PyTensor variable
FLARE_WINDOW = 35.0  # g(u) < 1e-13 beyond u = 35, so even thousands of older sessions add < 1e-9
SAME_TIME = 1e-6  # days (0.09 s): times this close are one time at a window's edge, whatever
# the rounding of day fractions (108.3 - 7 is 101.30000000000001, not 101.3)


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
    flare_basis: np.ndarray  # (N, K) G(t) of each kind's sessions (habituated flare bumps)
    paired: np.ndarray  # (N,) P(t): synergy sessions strictly before t
    session_t: np.ndarray  # (P, S) session times, padded with 0
    session_kind: np.ndarray  # (P, S) kind index, padded with 0
    session_mask: np.ndarray  # (P, S) 1.0 for a real session, 0.0 for padding
    tref: np.ndarray  # (P,) reference time of the adstock's factored exponentials

    @property
    def n_patients(self) -> int:
        """Number of patients in the design."""
        return int(self.session_t.shape[0])

    def take(self, order: np.ndarray) -> EventDesign:
        """The same design with its time points reordered (sessions unchanged)."""
        return replace(self, patient=self.patient[order], t=self.t[order],
                       last=self.last[order], counts=self.counts[order],
                       flare_basis=self.flare_basis[order], paired=self.paired[order])


@dataclass(frozen=True)
class Params:
    """Kernel parameters. NumPy: theta (..., P, 8), tau_nat and synergy (..., 1), weights
    (..., K)."""

    theta: Array  # unconstrained patient parameters, last axis in config.PARAMS order
    tau_nat: Array
    relief_w: Array
    durable_w: Array
    quick_w: Array
    flare_w: Array
    synergy: Array
    onset: Array = 0.0  # days of pain at the first record: scalar, (P,), or (..., 1) per draw


def floor_shift(onset: Array, tau_nat: Array, xp: ModuleType = np) -> Array:
    """The floor's logit shift for pain present `onset` days at the first record:
    logit(floor / base) = logit(plateau / onset pain) + log(1 + onset / tau_nat), which makes
    base the episode's pain `onset` days after onset."""
    return xp.log1p(onset / tau_nat)


def _per_patient(x: Array, d: EventDesign) -> Array:
    """A per-patient array at each time point (a scalar or one patient's column as it is)."""
    if np.ndim(x) == 0 or (d.n_patients == 1 and x.shape[-1] == 1):
        return x
    return x[..., d.patient]


def _sigmoid(x: Array, xp: ModuleType) -> Array:
    return 1.0 / (1.0 + xp.exp(-x))


LOG_SCALE = ("relief_tau", "flare", "quick_tau")  # the parameters transform takes through exp


def transform(theta: Array, cfg: ModelConfig, xp: ModuleType = np) -> dict[str, Array]:
    """Unconstrained patient parameters -> named natural-scale ones (see priors.py)."""
    base = 10.0 * _sigmoid(theta[..., 0], xp)
    return {
        "base": base,
        "floor": base * _sigmoid(theta[..., 1], xp),
        "relief": _sigmoid(theta[..., 2], xp),
        "relief_tau": cfg.relief_tau_min + xp.exp(theta[..., 3]),
        "flare": xp.exp(theta[..., 4]),
        "durable": _sigmoid(theta[..., 5], xp),
        "quick": _sigmoid(theta[..., 6], xp),
        "quick_tau": cfg.quick_tau_min + xp.exp(theta[..., 7]),
    }


def _adstock(weights: Array, tau: Array, d: EventDesign, xp: ModuleType) -> Array:
    """sum over sessions before t of weight * exp(-(t - s) / tau), per time point (..., N).

    NumPy (forecasts, spans up to years, time scales down to half a day) accumulates in log
    space; PyTensor and JAX (fits) factor the exponentials around each patient's mid-time
    `tref`, which stays finite over a cohort's diaries."""
    tau_ps = tau[..., :, None]  # (..., P, 1)
    w = weights[..., d.session_kind] * d.session_mask
    if xp is np:
        with np.errstate(divide="ignore"):
            log_terms = np.log(w) + d.session_t / tau_ps
        lcs = np.logaddexp.accumulate(log_terms, axis=-1)
        lcs0 = np.concatenate([np.full_like(lcs[..., :1], -np.inf), lcs], axis=-1)
        at_last = lcs0[..., d.patient, d.last + 1]
        return np.exp(at_last - d.t / tau[..., d.patient])
    terms = w * xp.exp((d.session_t - d.tref[:, None]) / tau_ps)
    csum = xp.cumsum(terms, axis=-1)
    csum0 = xp.concatenate([xp.zeros_like(csum[..., :1]), csum], axis=-1)
    at_last = csum0[..., d.patient, d.last + 1]  # (..., N)
    return xp.exp(-(d.t - d.tref[d.patient]) / tau[..., d.patient]) * at_last


def _factors(p: Params, adherence: Array, d: EventDesign, cfg: ModelConfig, xp: ModuleType
             ) -> tuple[Array, Array, Array, Array, Array]:
    """At every time point: the natural course N, the relief fractions (course, short,
    durable) and the soreness rate flare * G that expected_pain and pain_parts combine."""
    nat_p = transform(p.theta, cfg, xp)
    if xp is np and d.n_patients == 1:  # one patient (forecasts): broadcast, do not gather
        q = {k: v[..., :1] for k, v in nat_p.items()}
    else:
        q = {k: v[..., d.patient] for k, v in nat_p.items()}
    a = p.tau_nat + _per_patient(p.onset, d)
    natural = q["floor"] + (q["base"] - q["floor"]) * a / (a + d.t)
    relief = q["relief"] * -xp.expm1(-_adstock(p.relief_w, nat_p["relief_tau"], d, xp)
                                     / cfg.relief_saturation)
    quick = q["quick"] * -xp.expm1(-_adstock(p.quick_w, nat_p["quick_tau"], d, xp)
                                   / cfg.quick_saturation)
    dose = adherence[d.patient] * (p.durable_w @ d.counts.T + p.synergy * d.paired)
    durable = q["durable"] * -xp.expm1(-dose / cfg.durable_saturation)
    return natural, relief, quick, durable, q["flare"] * (p.flare_w @ d.flare_basis.T)


def _with_soreness(core: Array, soreness_rate: Array, xp: ModuleType) -> Array:
    """The flare adds about rate NRS and saturates below 10."""
    head = 10.0 - core
    return core + head * -xp.expm1(-soreness_rate / head)


def expected_pain(
    p: Params, adherence: Array, d: EventDesign, cfg: ModelConfig, xp: ModuleType = np
) -> Array:
    """mu(t) at every time point of the design: shape (..., N), values in (0, 10)."""
    natural, relief, quick, durable, sore = _factors(p, adherence, d, cfg, xp)
    return _with_soreness(natural * (1.0 - relief) * (1.0 - quick) * (1.0 - durable), sore, xp)


PARTS = ("natural_course", "course_relief", "short_relief", "durable_gain", "soreness")


def pain_parts(p: Params, adherence: np.ndarray, d: EventDesign, cfg: ModelConfig
               ) -> dict[str, np.ndarray]:
    """Expected pain as additive parts (NumPy), in PARTS order: the natural course; minus what
    course relief, short relief and the durable gain each take off it, split in proportion to
    their log-reductions so that no order of the factors is favoured; plus soreness. The
    parts add up to expected_pain."""
    natural, *fractions, sore = _factors(p, adherence, d, cfg, np)
    logs = [-np.log1p(-np.minimum(f, 1.0 - 1e-12)) for f in fractions]
    total = sum(logs)
    core = natural * np.prod([1.0 - f for f in fractions], axis=0)
    per_log = np.divide(natural - core, total, out=np.zeros_like(core), where=total > 0)
    return {"natural_course": natural,
            **{name: -per_log * lg for name, lg in zip(PARTS[1:4], logs, strict=True)},
            "soreness": _with_soreness(core, sore, np) - core}


def build_design(
    sessions: tuple[np.ndarray, np.ndarray, np.ndarray],
    times: tuple[np.ndarray, np.ndarray],
    n_patients: int,
    kinds: list[str],
    cfg: ModelConfig,
) -> EventDesign:
    """Precompute the design from flat arrays (vectorised, no loop over patients or times).

    sessions: (patient index, time, index into `kinds`); times: (patient index, time). Times
    are days since each patient's first record. Sessions need not be sorted.
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
    K = len(kinds)
    counts = np.zeros((len(o_t), K))
    for k in range(K):  # loop over session kinds (a handful), not over patients or days
        sel = s_kind == k
        counts[:, k] = _count_before(s_pid[sel], s_t[sel], o_pid, o_t) - np.searchsorted(
            s_pid[sel], o_pid, side="left"
        )
    S = max(int(n_per.max(initial=0)), 1)
    pad_t = np.zeros((n_patients, S))
    pad_k = np.zeros((n_patients, S), dtype=int)
    pad_m = np.zeros((n_patients, S))
    pad_t[s_pid, rank], pad_k[s_pid, rank], pad_m[s_pid, rank] = s_t, s_kind, 1.0
    remembered = _remembered(pad_t, pad_m, cfg.flare_habituation_memory_days)[s_pid, rank]
    habit = cfg.flare_habituation_floor + (1 - cfg.flare_habituation_floor) * np.exp(
        -remembered / cfg.flare_habituation_sessions)
    flare_basis = np.zeros((len(o_t), K))
    for k in range(K):
        flare_basis[:, k] = _flare_basis(s_pid, s_t, habit * (s_kind == k), o_pid, o_t,
                                         cfg.flare_peak_days)
    flags = np.r_[0.0, np.cumsum(_synergy_flags(s_pid, s_t, s_kind, kinds, cfg))]
    paired = flags[n_before + starts[o_pid]] - flags[starts[o_pid]]
    lo = np.full(n_patients, np.inf)
    hi = np.full(n_patients, -np.inf)
    for pid, t in ((s_pid, s_t), (o_pid, o_t)):
        np.minimum.at(lo, pid, t)
        np.maximum.at(hi, pid, t)
    with np.errstate(invalid="ignore"):  # a patient with no events: inf - inf
        tref = np.where(np.isfinite(lo), (lo + hi) / 2, 0.0)
    return EventDesign(
        patient=o_pid.astype(int), t=o_t, last=(n_before - 1).astype(int), counts=counts,
        flare_basis=flare_basis, paired=paired, session_t=pad_t, session_kind=pad_k,
        session_mask=pad_m,
        tref=tref,
    )


def _remembered(pad_t: np.ndarray, pad_m: np.ndarray, memory: float) -> np.ndarray:
    """For each padded session (P, S): the patient's earlier sessions, each counted as
    exp(-lag / memory), so that habituation fades over a break (log-space running sums)."""
    with np.errstate(divide="ignore"):
        log_terms = np.where(pad_m > 0, pad_t / memory, -np.inf)
    lcs = np.logaddexp.accumulate(log_terms, axis=1)
    earlier = np.concatenate([np.full((len(pad_t), 1), -np.inf), lcs[:, :-1]], axis=1)
    return np.exp(earlier - pad_t / memory)


def _synergy_flags(s_pid: np.ndarray, s_t: np.ndarray, s_kind: np.ndarray, kinds: list[str],
                   cfg: ModelConfig) -> np.ndarray:
    """1.0 for each session (sorted by patient, time) of the synergy's first kind that had one
    of its second kind within the window before it (the same day included), else 0.0."""
    first, second = cfg.synergy_kinds
    if first not in kinds or second not in kinds:
        return np.zeros(len(s_t))
    sel = s_kind == kinds.index(second)
    p2, t2 = s_pid[sel], s_t[sel]
    n_upto = _count_before(p2, t2, s_pid, s_t + 0.5)
    edge = s_t - cfg.synergy_window_days - SAME_TIME  # a session exactly `window` days back
    n_before_window = _count_before(p2, t2, s_pid, np.maximum(edge, -0.5))  # is inside
    return ((s_kind == kinds.index(first)) & (n_upto > n_before_window)).astype(float)


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
