"""Each request observed: an id, a structured log line, metrics, and a 500 with the id
instead of an unhandled error."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.routing import Match, Route
from starlette.types import Scope

from recovery.service.metrics import Metrics

__all__ = ["observe_requests"]

log = logging.getLogger("recovery.http")


def _methods_for(app: FastAPI, scope: Scope) -> list[str]:
    methods: set[str] = set()
    for r in app.router.routes:
        if isinstance(r, Route) and r.matches(scope)[0] != Match.NONE:
            methods |= r.methods or set()
    return sorted(methods)


def observe_requests(app: FastAPI, metrics: Metrics) -> None:
    """Add the middleware that times, counts and logs every request (no body, no secrets)."""

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                      ) -> Response:
        t0, rid = time.perf_counter(), uuid.uuid4().hex[:12]
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unhandled error", extra={"request_id": rid})
            response = JSONResponse({"detail": "internal error", "request_id": rid}, 500)
        if response.status_code == 405:  # list every method of the path, not of one route
            response.headers["Allow"] = ", ".join(_methods_for(app, request.scope))
        route = getattr(request.scope.get("route"), "path", "unmatched")
        elapsed = time.perf_counter() - t0
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(elapsed)
        log.info("request", extra={"request_id": rid, "method": request.method, "route": route,
                                   "status": response.status_code,
                                   "ms": round(1000 * elapsed, 1),
                                   "user_id": getattr(request.state, "user_id", None),
                                   "patient_id": request.path_params.get("patient_id")})
        response.headers["X-Request-ID"] = rid
        return response
