"""Fits handed to the Dask cluster: the service's refit worker stays light and keeps its
job's heartbeat and progress, while the sampling runs on a cluster worker.

Progress travels back through a Dask Variable the task updates and the caller polls.
Dask moves the fitted model between its own processes by pickle, so the cluster must be
trusted infrastructure; nothing a user uploads is ever unpickled (cohorts arrive as CSV).
"""

from __future__ import annotations

import uuid

from distributed import Variable, wait

from recovery.engine.cluster import connect
from recovery.model.config import SamplerConfig
from recovery.model.data.cohort import Cohort
from recovery.model.inference.fit import FittedModel, Progress, fit

__all__ = ["fit_on_engine"]


def fit_on_engine(address: str | None, cohort: Cohort, sampler: SamplerConfig,
                  on_progress: Progress = lambda f, phase: None, poll: float = 2.0
                  ) -> FittedModel:
    """Run `fit` on a Dask worker (the cluster at `address`, or a local one when None)."""
    with connect(address, workers=1) as client:
        progress = Variable(f"fit-progress-{uuid.uuid4().hex}", client=client)
        future = client.submit(_fit_task, cohort, sampler, progress.name, pure=False)
        while True:
            try:
                wait(future, timeout=poll)
                break
            except TimeoutError:
                try:
                    done, phase = progress.get(timeout=0.5)
                    on_progress(float(done), str(phase))
                except TimeoutError:
                    pass
        fitted: FittedModel = future.result()
        progress.delete()
        return fitted


def _fit_task(cohort: Cohort, sampler: SamplerConfig, name: str) -> FittedModel:
    progress = Variable(name)
    return fit(cohort, sampler=sampler.model_copy(update={"progress_bar": False}),
               on_progress=lambda f, phase: progress.set([f, phase]))
