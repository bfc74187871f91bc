"""Quick look: a mean-field ADVI approximation of the posterior, in a small fraction of the
time of the NUTS fit.

It is not the posterior: mean-field ADVI ignores correlations and shrinks intervals. So a
quick-look model never passes its diagnostics (it cannot be promoted or served as final), and
its error against NUTS, measured by bench/quick_look.py and shipped as quick_look_error.json,
travels in its diagnostics so it is read next to its results.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from recovery.model.config import ModelConfig
from recovery.model.data.cohort import Cohort
from recovery.model.inference.fit import Diagnostics, FittedModel, Progress, stored_names
from recovery.model.likelihood.build import build_model, prepare

__all__ = ["ERROR_FILE", "quick_fit", "quick_look_warning"]

ERROR_FILE = Path(__file__).with_name("quick_look_error.json")
LEARNING_RATE = 0.01
ELBO_TOLERANCE = 0.01  # relative change of the mean loss over the last two tenths of the run


def quick_look_warning() -> str:
    """The plain warning every quick look carries, with its measured error when known."""
    head = ("QUICK LOOK (mean-field ADVI), not the posterior: use it to explore, refit with "
            "NUTS before serving.")
    if not ERROR_FILE.exists():
        return head + " Its error against NUTS has not been measured (run bench/quick_look.py)."
    e = json.loads(ERROR_FILE.read_text())
    return (f"{head} Measured against NUTS on {e['patients']} simulated patients: population "
            f"means off by {e['mean_error_sd_median']:.2f} posterior SDs (median; worst "
            f"{e['mean_error_sd_max']:.1f}), 90 % intervals {e['width_ratio_median']:.0%} of "
            f"NUTS's width, held-out 90 % coverage {e['coverage_90_quick']:.1%} "
            f"(NUTS {e['coverage_90_nuts']:.1%}), in {e['time_ratio']:.0%} of NUTS's time.")


def quick_fit(cohort: Cohort, config: ModelConfig | None = None, iterations: int = 6000,
              draws: int = 1000, seed: int = 1, progress_bar: bool = True,
              on_progress: Progress | None = None) -> FittedModel:
    """Fit the same model by ADVI and draw from the approximation."""
    cfg = config or ModelConfig()
    data = prepare(cohort, cfg)
    model = build_model(data, cfg)
    t0 = time.perf_counter()
    callbacks = [_reporter(on_progress, iterations)] if on_progress else []
    with model:
        # A larger step than PyMC's default: it settles within the iterations given
        # (docs/decisions/0008-sampling-the-hierarchy.md).
        approx = pm.fit(n=iterations, method="advi", random_seed=seed,
                        obj_optimizer=pm.adagrad_window(learning_rate=LEARNING_RATE),
                        progressbar=progress_bar, callbacks=callbacks,
                        compile_kwargs={"mode": "NUMBA"})
        idata = approx.sample(draws, random_seed=seed)
    wall = time.perf_counter() - t0
    problems = [quick_look_warning()]
    drift = _elbo_drift(np.asarray(approx.hist))
    if drift > ELBO_TOLERANCE:
        problems.append(f"ADVI had not settled: the mean loss changed {drift:.1%} between the "
                        f"last two tenths of {iterations} iterations; give it more iterations")
    diag = Diagnostics(
        method="advi", max_rhat=None, min_ess_bulk=None, min_ess_tail=None, divergences=0,
        worst_rhat_var="", worst_ess_var="", sampler="advi", chains=1, draws=draws,
        tune=iterations, wall_seconds=round(wall, 2), compile_seconds=0.0,
        n_patients=len(data.patient_ids), n_scores=len(data.y),
        n_sessions=len(cohort.sessions), passed=False, problems=problems)
    post = idata["posterior"][stored_names(model)]
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((1, draws), bool))},
                       coords={"chain": post["chain"], "draw": post["draw"]})
    return FittedModel(az.InferenceData(posterior=post, sample_stats=stats), cohort, cfg,
                       data.kinds, diag, uuid.uuid4().hex[:12])


def _elbo_drift(loss: np.ndarray) -> float:
    """Relative change of the mean loss between the last two tenths of the run."""
    tenth = max(len(loss) // 10, 1)
    a, b = loss[-2 * tenth : -tenth].mean(), loss[-tenth:].mean()
    return float(abs(a - b) / max(abs(b), 1.0))


def _reporter(on_progress: Progress, total: int) -> Callable[..., None]:
    def report(approx: Any, losses: Any, i: int) -> None:
        if i % 500 == 0:
            on_progress(i / total, "optimising")
    return report
