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
    with (LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                       dashboard_address=None) as cluster, Client(cluster) as client):
        yield client
