"""The FastAPI application: `create_app(settings)`; `recovery serve` runs it with uvicorn."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recovery.service import api_analyst, api_auth, api_forecast, api_ops, api_patients
from recovery.service.db import Database
from recovery.service.deps import AppState
from recovery.service.metrics import Metrics
from recovery.service.registry import Registry
from recovery.service.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger("recovery.http")


class BodyLimit:
    """413 for bodies over the limit, whether or not the client sent Content-Length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLargeError
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLargeError:
            await _too_large(self.max_bytes)(scope, receive, send)


class _TooLargeError(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body over the limit of {limit} bytes"}, 413)


def _methods_for(app: FastAPI, scope: Scope) -> list[str]:
    methods: set[str] = set()
    for r in app.router.routes:
        if isinstance(r, Route) and r.matches(scope)[0] != Match.NONE:
            methods |= r.methods or set()
    return sorted(methods)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: migrations run and the served model loads at startup."""
    settings = settings or Settings()
    if not settings.secret_key.get_secret_value():
        raise RuntimeError("RECOVERY_SECRET_KEY is not set; refusing to issue tokens")
    db = Database(settings.database_url)
    registry = Registry(db, settings.default_model_dir, settings.model_poll_seconds)
    state = AppState(settings, db, registry, Metrics())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        db.migrate()
        registry.bootstrap()
        registry.start()
        yield
        registry.stop()
        db.close()

    app = FastAPI(title="Recovery", version="1", lifespan=lifespan,
                  description="Pain-trajectory forecasts under massage and physiotherapy "
                              "schedules, patient records, cohort refits and a model registry.")
    app.state.recovery = state
    for module in (api_auth, api_patients, api_forecast, api_analyst, api_ops):
        app.include_router(module.router)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                      ) -> Response:
        t0 = time.perf_counter()
        rid = uuid.uuid4().hex[:12]
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unhandled error", extra={"request_id": rid})
            response = JSONResponse({"detail": "internal error", "request_id": rid}, 500)
        if response.status_code == 405:  # list every method of the path, not of one route
            response.headers["Allow"] = ", ".join(_methods_for(app, request.scope))
        route = getattr(request.scope.get("route"), "path", "unmatched")
        elapsed = time.perf_counter() - t0
        state.metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        state.metrics.latency.labels(route).observe(elapsed)
        log.info("request", extra={"request_id": rid, "method": request.method, "route": route,
                                   "status": response.status_code,
                                   "ms": round(1000 * elapsed, 1)})
        response.headers["X-Request-ID"] = rid
        return response

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app

