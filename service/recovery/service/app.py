"""The FastAPI application: `create_app(settings)`, an assembly of the service's parts;
`recovery serve` runs it with uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from recovery.service.api.deps import AppState
from recovery.service.api.handlers import install_handlers
from recovery.service.api.routes import ROUTERS
from recovery.service.db import Database
from recovery.service.fhir.negotiation import FhirFormat
from recovery.service.guard import BodyGuard
from recovery.service.headers import SecurityHeaders
from recovery.service.metrics import Metrics
from recovery.service.observe import observe_requests
from recovery.service.registry import Registry
from recovery.service.settings import Settings
from recovery.service.throttle import ForecastGate

__all__ = ["create_app"]

DESCRIPTION = ("Pain-trajectory forecasts under massage and physiotherapy schedules, patient "
               "records, cohort refits and a model registry.")


def _state(settings: Settings) -> AppState:
    """The service's shared parts: database, model registry, metrics and the model gate."""
    if not settings.secret_key.get_secret_value():
        raise RuntimeError("RECOVERY_SECRET_KEY is not set; refusing to issue tokens")
    db = Database(settings.database_url)
    registry = Registry(db, settings.default_model_dir, settings.model_poll_seconds)
    gate = ForecastGate(settings.forecasts_per_minute, settings.forecast_slots,
                        settings.forecast_queue)
    return AppState(settings, db, registry, Metrics(), gate)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: migrations run and the served model loads at startup."""
    state = _state(settings or Settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.db.migrate()
        state.registry.bootstrap()
        state.registry.start()
        yield
        state.registry.stop()
        state.db.close()

    # Swagger UI and ReDoc assets served by the service itself: /docs works offline
    app = FastAPIOffline(title="Recovery", version="1", lifespan=lifespan,
                         description=DESCRIPTION)
    app.state.recovery = state
    for router in ROUTERS:
        app.include_router(router)
    observe_requests(app, state.metrics)
    install_handlers(app)
    app.add_middleware(BodyGuard, settings=state.settings)
    app.add_middleware(FhirFormat)  # around the guard: its refusals as OperationOutcomes
    app.add_middleware(SecurityHeaders)  # outermost: on the guard's refusals too
    return app
