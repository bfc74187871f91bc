"""The distributed engine: Dask runs cohort-wide forecasts and refits (`refit`, the one refit
use case of the service's worker and the CLI).

One code path for a laptop and a cluster: `connect(None)` starts a local cluster, `connect(
"tcp://scheduler:8786")` joins a real one; work is then submitted the same way. The names
below load on first use, so that reading a `RefitSpec` (the API does) does not load Dask.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recovery.engine.cluster import connect
    from recovery.engine.fit_remote import fit_on_engine
    from recovery.engine.forecast_batch import BatchResult, BatchSpec, check_batch, run_batch
    from recovery.engine.refit import RefitResult, refit
    from recovery.engine.refit_spec import RefitPlace, RefitSpec

__all__ = ["BatchResult", "BatchSpec", "RefitPlace", "RefitResult", "RefitSpec", "check_batch",
           "connect", "fit_on_engine", "refit", "run_batch"]

_HOMES = {"connect": "cluster", "fit_on_engine": "fit_remote", "BatchResult": "forecast_batch",
          "BatchSpec": "forecast_batch", "check_batch": "forecast_batch",
          "run_batch": "forecast_batch",
          "RefitResult": "refit", "refit": "refit", "RefitPlace": "refit_spec",
          "RefitSpec": "refit_spec"}


def __getattr__(name: str) -> Any:
    """`recovery.engine.X` imported from its module on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module 'recovery.engine' has no attribute {name!r}")
    return getattr(import_module(f"recovery.engine.{_HOMES[name]}"), name)
