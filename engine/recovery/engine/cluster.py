"""Connecting to Dask: a local cluster by default, any scheduler by address."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from distributed import Client, LocalCluster

__all__ = ["connect"]


@contextmanager
def connect(address: str | None = None, workers: int | None = None) -> Iterator[Client]:
    """A Dask client: to `address` when given, else to a local cluster of `workers`
    single-threaded processes (default: one per CPU). Closed on exit."""
    if address:
        with Client(address) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    # a free port for the diagnostics page: None no longer turns it off (distributed 2026.8
    # takes :8787, and warns when two clusters run at once)
    with (LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                       dashboard_address=":0") as cluster, Client(cluster) as client):
        yield client
