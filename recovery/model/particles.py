"""The history's log-likelihood at many particles of one patient, compiled (numba).

The new-patient update (update.py) evaluates one diary under thousands of (theta, population
draw) pairs, a hundred times over for a long diary. This walks each particle's kernel
(kernel_op.walk) and residual filter (filter_op._step) in one compiled loop, the same maths
as update.log_likelihood (tests/test_particles.py checks they agree).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from recovery.model.config import ModelConfig
from recovery.model.filter_op import _step
from recovery.model.kernel import EventDesign
from recovery.model.kernel_op import CONSTS, walk
from recovery.model.population import Globals
from recovery.model.residual import FIRST_GAP

__all__ = ["particle_loglik"]


@numba.njit(cache=True, error_model="numpy")
def _loglik(theta: np.ndarray, tau_nat: np.ndarray, relief_w: np.ndarray,
            durable_w: np.ndarray, quick_w: np.ndarray, flare_w: np.ndarray,
            synergy: np.ndarray, sigma: np.ndarray, share: np.ndarray, ell: np.ndarray,
            adherence: np.ndarray, t: np.ndarray, last: np.ndarray, counts: np.ndarray,
            flare_basis: np.ndarray, paired: np.ndarray, session_t: np.ndarray,
            session_kind: np.ndarray, y: np.ndarray, gap: np.ndarray, consts: np.ndarray
            ) -> np.ndarray:
    n_particles, n = theta.shape[0], t.shape[0]
    patient = np.zeros(n, dtype=np.int64)
    out = np.empty(n_particles)
    for m in range(n_particles):
        mu, _ = walk(theta[m:m + 1], tau_nat[m], relief_w[m], durable_w[m], quick_w[m],
                     flare_w[m], synergy[m], adherence, patient, t, last, counts,
                     flare_basis, paired, session_t, session_kind, consts, False)
        pm = pv = total = 0.0
        for j in range(n):
            a = 0.0 if gap[j] >= FIRST_GAP else math.exp(-gap[j] / ell[m])
            pm, pv, logp, _ = _step(pm, pv, y[j], mu[j], a, sigma[m], share[m])
            total += logp
        out[m] = total
    return out


def particle_loglik(theta: np.ndarray, glob: Globals, adherence: float, design: EventDesign,
                    y: np.ndarray, gap: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """log p(scores | theta_m, globals_m) for each particle m: theta (M, 8) -> (M,). The
    design is one patient's (its scores in time order); gap as residual.score_grid gives."""
    f = np.ascontiguousarray
    return _loglik(f(theta), f(glob.tau_nat), f(glob.relief_w), f(glob.durable_w),
                   f(glob.quick_w), f(glob.flare_w), f(glob.synergy), f(glob.sigma),
                   f(glob.share), f(glob.ell), np.array([adherence]), design.t, design.last,
                   design.counts, design.flare_basis, design.paired, design.session_t,
                   design.session_kind, y, gap,
                   np.array([getattr(cfg, name) for name in CONSTS]))
