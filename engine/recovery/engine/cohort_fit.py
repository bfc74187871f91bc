"""A cohort of any size: NUTS on every patient, or, above a size, NUTS on a stratified
subsample for the population, then every patient conditioned on it in chunks on Dask.

The second strategy's cost grows linearly with patients: the NUTS part has a fixed size and
each patient's update is independent of the others. It writes each patient's posterior
parameters, update and forecasts as tidy Parquet (the tables of `forecast-batch`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from recovery.engine.cluster import connect
from recovery.engine.fit_remote import fit_on_engine
from recovery.engine.forecast_batch import run_batch
from recovery.engine.refit_spec import SUBSAMPLE_ABOVE, Strategy
from recovery.model.config import ModelConfig, SamplerConfig
from recovery.model.data.cohort import Cohort
from recovery.model.data.subsample import stratified_subsample
from recovery.model.inference.fit import CohortUpdate, FittedModel, Progress, fit
from recovery.model.predict.batch import BatchSpec
from recovery.model.predict.forecast import Forecaster
from recovery.model.requests import ScheduleSpec

__all__ = ["STRATEGIES", "SUBSAMPLE_ABOVE", "CohortFitPlan", "chosen_strategy", "fit_cohort",
           "subsample_size"]

STRATEGIES: tuple[str, ...] = Strategy.__args__  # type: ignore[attr-defined]
# The subsample's default size: about this many scores' worth of patients, within the bounds.
# NUTS on 300 patients' 17,500 scores (12 weeks) missed the gate in 20 minutes (decision 0007).
SUBSAMPLE_SCORES, SUBSAMPLE_BOUNDS = 8_000, (60, 300)


def _patient_forecasts() -> BatchSpec:
    return BatchSpec((ScheduleSpec(name="none"), ScheduleSpec(name="recovery_then_maintenance")),
                     horizon_days=90, draws=500)


@dataclass(frozen=True)
class CohortFitPlan:
    """How to fit: the strategy, the subsample's size, and where the per-patient work runs."""

    strategy: Strategy = "auto"
    subsample: int | None = None  # patients NUTS samples; None: `subsample_size`
    above: int = SUBSAMPLE_ABOVE  # "auto" samples a subsample above this many patients
    address: str | None = None  # Dask scheduler; None: a local cluster of `workers`
    workers: int | None = None
    chunk_size: int = 25
    spec: BatchSpec = field(default_factory=_patient_forecasts)


def subsample_size(cohort: Cohort, plan: CohortFitPlan) -> int:
    """The plan's subsample, else SUBSAMPLE_SCORES' worth of the cohort's average patient."""
    if plan.subsample is not None:
        return plan.subsample
    per_patient = max(len(cohort.pain) / max(len(cohort.patients), 1), 1.0)
    low, high = SUBSAMPLE_BOUNDS
    return int(np.clip(round(SUBSAMPLE_SCORES / per_patient), low, high))


def chosen_strategy(cohort: Cohort, plan: CohortFitPlan) -> Literal["full", "subsample"]:
    """"auto" samples a subsample above `plan.above` patients (and only if it is smaller)."""
    n = len(cohort.patients)
    if plan.strategy == "auto":
        return "subsample" if n > max(plan.above, subsample_size(cohort, plan)) else "full"
    return plan.strategy


def fit_cohort(cohort: Cohort, sampler: SamplerConfig, plan: CohortFitPlan,
               patients_out: Path, config: ModelConfig | None = None,
               on_progress: Progress | None = None,
               on_patients: Callable[[int], None] = lambda n: None) -> FittedModel:
    """Fit by the plan's strategy. With "subsample", every patient's tables go to
    `patients_out` and the diagnostics say which part NUTS sampled and how the updates went."""
    cfg = config or ModelConfig()

    def nuts(patients: Cohort) -> FittedModel:  # on the cluster when there is one
        if plan.address:
            return fit_on_engine(plan.address, patients, sampler,
                                 on_progress or (lambda f, p: None))
        return fit(patients, cfg, sampler, on_progress=on_progress)

    if chosen_strategy(cohort, plan) == "full":
        return nuts(cohort)
    fitted = nuts(stratified_subsample(cohort, subsample_size(cohort, plan), cfg,
                                       sampler.random_seed))
    with connect(plan.address, plan.workers) as client:
        result = run_batch(Forecaster(fitted), cohort, plan.spec, patients_out, client,
                           plan.chunk_size, on_patients)
    updates = pd.read_parquet(patients_out / "updates.parquet")
    ess = updates["ess"].to_numpy(float) if len(updates) else np.array([np.nan])
    summary = CohortUpdate(
        patients=len(cohort.patients), updated=len(updates), failed=result.failed,
        ess_min=round(float(np.min(ess)), 1), ess_median=round(float(np.median(ess)), 1),
        low_ess=int(updates["low_ess"].sum()), smc=int((updates["method"] == "smc").sum()),
        seconds=result.seconds, workers=result.workers)
    fitted.diagnostics = fitted.diagnostics.model_copy(update={
        "strategy": "subsample", "cohort_update": summary})
    return fitted
