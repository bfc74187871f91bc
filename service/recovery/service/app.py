"""The FastAPI application: `create_app(settings)`; `recovery serve` runs it with uvicorn."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.routing import Match, Route
from starlette.types import Scope

from recovery.service.api.deps import AppState
from recovery.service.api.errors import refusal
from recovery.service.api.routes import ROUTERS, fhir
from recovery.service.db import Database
from recovery.service.errors import ServiceError
from recovery.service.fhir.negotiation import FhirFormat
from recovery.service.fhir.problems import FhirError
from recovery.service.guard import BodyGuard
from recovery.service.headers import SecurityHeaders
from recovery.service.metrics import Metrics
from recovery.service.registry import Registry
from recovery.service.settings import Settings
from recovery.service.throttle import ForecastGate

__all__ = ["create_app"]

log = logging.getLogger("recovery.http")


def _methods_for(app: FastAPI, scope: Scope) -> list[str]:
    methods: set[str] = set()
    for r in app.router.routes:
        if isinstance(r, Route) and r.matches(scope)[0] != Match.NONE:
            methods |= r.methods or set()
    return sorted(methods)


def _detail(exc: ServiceError) -> tuple[dict[str, object], int]:
    detail, status = refusal(exc)
    return {"detail": detail}, status


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: migrations run and the served model loads at startup."""
    settings = settings or Settings()
    if not settings.secret_key.get_secret_value():
        raise RuntimeError("RECOVERY_SECRET_KEY is not set; refusing to issue tokens")
    db = Database(settings.database_url)
    registry = Registry(db, settings.default_model_dir, settings.model_poll_seconds)
    gate = ForecastGate(settings.forecasts_per_minute, settings.forecast_slots,
                        settings.forecast_queue)
    state = AppState(settings, db, registry, Metrics(), gate)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        db.migrate()
        registry.bootstrap()
        registry.start()
        yield
        registry.stop()
        db.close()

    # Swagger UI and ReDoc assets served by the service itself: /docs works offline
    app = FastAPIOffline(title="Recovery", version="1", lifespan=lifespan,
                  description="Pain-trajectory forecasts under massage and physiotherapy "
                              "schedules, patient records, cohort refits and a model registry.")
    app.state.recovery = state
    for router in ROUTERS:
        app.include_router(router)

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
                                   "ms": round(1000 * elapsed, 1),
                                   "user_id": getattr(request.state, "user_id", None),
                                   "patient_id": request.path_params.get("patient_id")})
        response.headers["X-Request-ID"] = rid
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 naming each field and what is wrong, never echoing the values sent (under
        /fhir, as an OperationOutcome)."""
        items = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        if request.url.path.startswith("/fhir"):
            return fhir.refused(FhirError([(".".join(map(str, i["loc"])), i["msg"])
                                           for i in items]))
        return JSONResponse({"detail": jsonable_encoder(items)}, 422)

    @app.exception_handler(ServiceError)
    async def refused(request: Request, exc: ServiceError) -> JSONResponse:
        """A domain error from the record logic, as its HTTP status and message; a refused
        field in FastAPI's own 422 shape; under /fhir, as an OperationOutcome."""
        return fhir.render(request, exc) or JSONResponse(*_detail(exc))

    app.add_middleware(BodyGuard, settings=settings)
    app.add_middleware(FhirFormat)  # around the guard: its refusals as OperationOutcomes
    app.add_middleware(SecurityHeaders)  # outermost: on the guard's refusals too
    return app

