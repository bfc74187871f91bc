"""Stateless forecasts: the forecast JSON in, the forecast JSON out; nothing stored."""

from __future__ import annotations

import time

from fastapi import APIRouter

from recovery.model import (
    ForecastRequest,
    ForecastResponse,
    OptimiseRequest,
    OptimiseResponse,
    optimise,
)
from recovery.service.deps import COMMON_RESPONSES, CurrentUser, State, served
from recovery.service.errors import run_model

router = APIRouter(prefix="/v1", tags=["forecasts"], responses=COMMON_RESPONSES)


@router.post("/forecast", response_model=ForecastResponse)
def forecast(req: ForecastRequest, state: State, _: CurrentUser) -> ForecastResponse:
    """Forecast a patient (covariates + history) under candidate schedules, compared."""
    loaded = served(state)
    t0 = time.perf_counter()
    response = run_model(lambda: loaded.forecaster.forecast(req))
    state.metrics.forecast.observe(time.perf_counter() - t0)
    return response


@router.post("/optimise", response_model=OptimiseResponse)
def optimise_schedule(req: OptimiseRequest, state: State, _: CurrentUser) -> OptimiseResponse:
    """The cheapest schedule keeping P(score <= target at the horizon) above `level`."""
    loaded = served(state)
    return run_model(lambda: optimise(loaded.forecaster, req))
