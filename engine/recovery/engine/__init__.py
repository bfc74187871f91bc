"""The distributed engine: Dask runs cohort-wide forecasts and, for the service, refits.

One code path for a laptop and a cluster: `connect(None)` starts a local cluster, `connect(
"tcp://scheduler:8786")` joins a real one; work is then submitted the same way.
"""

from recovery.engine.cluster import connect
from recovery.engine.fit_remote import fit_on_engine
from recovery.engine.forecast_batch import BatchResult, run_batch

__all__ = ["BatchResult", "connect", "fit_on_engine", "run_batch"]
