"""The history's log-likelihood at many particles of one patient, compiled (numba).

The new-patient update (update.py) evaluates one diary under thousands of (theta, population
draw) pairs, a hundred times over for a long diary, and a forecast walks every draw along its
schedules. These walk each particle's kernel (kernel_op.walk) and residual filter
(filter_op._step) in compiled loops, split over threads; the same maths as
kernel.expected_pain and update.log_likelihood (tests/test_particles.py checks they agree).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numba
import numpy as np

from recovery.model.config import ModelConfig
from recovery.model.likelihood.filter_op import filter_one
from recovery.model.likelihood.kernel import EventDesign
from recovery.model.likelihood.kernel_op import CONSTS, walk
from recovery.model.likelihood.residual import FIRST_GAP
from recovery.model.predict.population import Globals

__all__ = ["particle_loglik", "particle_mu"]

THREADS = os.cpu_count() or 1
_pools: dict[int, ThreadPoolExecutor] = {}  # by process id: a forked child makes its own


_jit = numba.njit(cache=True, error_model="numpy", nogil=True)


@_jit
def _mu(theta: np.ndarray, tau_nat: np.ndarray, relief_w: np.ndarray, durable_w: np.ndarray,
        quick_w: np.ndarray, flare_w: np.ndarray, synergy: np.ndarray, onset: np.ndarray,
        adherence: np.ndarray, t: np.ndarray, last: np.ndarray, counts: np.ndarray,
        flare_basis: np.ndarray, paired: np.ndarray, session_t: np.ndarray,
        session_kind: np.ndarray, consts: np.ndarray, out: np.ndarray) -> None:
    """Each particle's kernel mean at the design's times (in time order) into out (M, n)."""
    patient = np.zeros(t.shape[0], dtype=np.int64)
    for m in range(theta.shape[0]):
        out[m], _ = walk(theta[m:m + 1], tau_nat[m], relief_w[m], durable_w[m], quick_w[m],
                         flare_w[m], synergy[m], adherence, onset[m:m + 1], patient, t, last,
                         counts,
                         flare_basis, paired, session_t, session_kind, consts, False)


@_jit
def _loglik(mu: np.ndarray, sigma: np.ndarray, share: np.ndarray, ell: np.ndarray,
            y: np.ndarray, gap: np.ndarray, out: np.ndarray) -> None:
    """Each particle's residual filter along the scores: log p(y | mu_m) into out (M,)."""
    for m in range(mu.shape[0]):
        pm = pv = total = 0.0
        for j in range(y.shape[0]):
            a = 0.0 if gap[j] >= FIRST_GAP else math.exp(-gap[j] / ell[m])
            pm, pv, logp, _ = filter_one(pm, pv, y[j], mu[m, j], a, sigma[m], share[m])
            total += logp
        out[m] = total


def _chunks(n: int) -> list[slice]:
    """Contiguous particle ranges, one per worker thread (one when there are few)."""
    k = min(THREADS, max(1, n // 200))
    edges = np.linspace(0, n, k + 1).astype(int)
    return [slice(a, b) for a, b in pairwise(edges)]


def _threaded(kernel: Callable[..., None], per_particle: list[np.ndarray],
              shared: list[np.ndarray], out: np.ndarray) -> None:
    """kernel(*per_particle[part], *shared, out[part]) over the particle chunks, in threads
    (the kernels release the GIL)."""
    parts = _chunks(len(out))
    pool = _pools.get(os.getpid())
    if pool is None:
        pool = _pools[os.getpid()] = ThreadPoolExecutor(max(THREADS - 1, 1), "particles")
    jobs = [pool.submit(kernel, *(a[c] for a in per_particle), *shared, out[c])
            for c in parts[1:]]
    kernel(*(a[parts[0]] for a in per_particle), *shared, out[parts[0]])
    for job in jobs:
        job.result()


def particle_mu(theta: np.ndarray, glob: Globals, adherence: float, design: EventDesign,
                cfg: ModelConfig) -> np.ndarray:
    """Kernel mean for each particle m at the design's times (one patient; any time order):
    theta (M, 8) -> (M, n), equal to kernel.expected_pain."""
    order = np.argsort(design.t, kind="stable")
    in_order = bool((order == np.arange(len(order))).all())
    d = design if in_order else design.take(order)
    f = np.ascontiguousarray
    out = np.empty((len(theta), len(d.t)))
    _threaded(_mu, [f(theta), f(glob.tau_nat), f(glob.relief_w), f(glob.durable_w),
                    f(glob.quick_w), f(glob.flare_w), f(glob.synergy), f(glob.onset)],
              [np.array([adherence]), d.t, d.last, d.counts, d.flare_basis, d.paired,
               d.session_t, d.session_kind, np.array([getattr(cfg, n) for n in CONSTS])], out)
    if in_order:
        return out
    mu = np.empty_like(out)
    mu[:, order] = out
    return mu


def particle_loglik(theta: np.ndarray, glob: Globals, adherence: float, design: EventDesign,
                    y: np.ndarray, gap: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """log p(scores | theta_m, globals_m) for each particle m: theta (M, 8) -> (M,). The
    design is one patient's (its scores in time order); gap as residual.score_grid gives."""
    mu = particle_mu(theta, glob, adherence, design, cfg)
    out = np.empty(len(theta))
    _threaded(_loglik, [mu, glob.sigma, glob.share, glob.ell], [y, gap], out)
    return out
