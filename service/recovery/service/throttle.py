"""Per-process limits on forecast work: a per-user rate (429) and a bounded queue (503), both
with Retry-After, so a burst waits its turn or is told when to come back instead of stalling
every other request."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, status

__all__ = ["ForecastGate"]


class ForecastGate:
    """At most `per_minute` forecasts per user per minute; `workers` computed at once, and at
    most `queue` admitted (computing or waiting)."""

    def __init__(self, per_minute: int, workers: int, queue: int) -> None:
        self.per_minute, self.queue = per_minute, max(queue, workers)
        self._slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._calls: dict[int, deque[float]] = defaultdict(deque)
        self._admitted = 0

    @contextmanager
    def enter(self, user_id: int) -> Iterator[None]:
        """Hold a forecast slot for a user, or refuse with 429 or 503."""
        self._admit(user_id)
        try:
            with self._slots:
                yield
        finally:
            with self._lock:
                self._admitted -= 1

    def _admit(self, user_id: int) -> None:
        t = time.monotonic()
        with self._lock:
            calls = self._calls[user_id]
            while calls and calls[0] <= t - 60:
                calls.popleft()
            if len(calls) >= self.per_minute:
                wait = math.ceil(calls[0] + 60 - t)
                raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                                    f"at most {self.per_minute} forecasts a minute; try again "
                                    f"in {wait} s", headers={"Retry-After": str(wait)})
            if self._admitted >= self.queue:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                    "the forecast queue is full; try again shortly",
                                    headers={"Retry-After": "2"})
            calls.append(t)
            self._admitted += 1
