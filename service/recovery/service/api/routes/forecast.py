"""Stateless forecasts: the forecast JSON in, the forecast JSON out; nothing stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter

from recovery.model import (
    PRESETS,
    ForecastRequest,
    ForecastResponse,
    OptimiseRequest,
    OptimiseResponse,
    describe,
    optimise,
)
from recovery.service.api.deps import (
    BUSY,
    COMMON_RESPONSES,
    CurrentUser,
    DbSession,
    State,
    gated,
    served,
    settle,
)
from recovery.service.claims import claims_of, kept_report
from recovery.service.tables import ModelRow

router = APIRouter(prefix="/v1", tags=["forecasts"], responses=COMMON_RESPONSES)


@router.post("/forecast", response_model=ForecastResponse, responses=BUSY)
def forecast(req: ForecastRequest, state: State, user: CurrentUser, s: DbSession
             ) -> ForecastResponse:
    """Forecast a patient (covariates + history) under candidate schedules, compared."""
    loaded = served(state)
    settle(s)
    response = gated(state, user.id, lambda: loaded.forecaster.forecast(req), timed=True)
    return response


@router.post("/optimise", response_model=OptimiseResponse, responses=BUSY)
def optimise_schedule(req: OptimiseRequest, state: State, user: CurrentUser, s: DbSession
                      ) -> OptimiseResponse:
    """The cheapest schedule keeping P(score <= target at the horizon) above `level`."""
    loaded = served(state)
    settle(s)
    return gated(state, user.id, lambda: optimise(loaded.forecaster, req))


@router.get("/catalogue")
def catalogue(state: State, _: CurrentUser, s: DbSession) -> dict[str, Any]:
    """What the served model offers: session kinds, presets in words, covariates with their
    ranges, session prices and the currency (forms are built from this); and `claims`, the
    articles' claims it does not reproduce (null until its phenomena report has been run)."""
    loaded = served(state)
    row = s.get(ModelRow, loaded.model_id)
    report = kept_report(Path(state.settings.models_dir), loaded.model_id,
                         row.path if row else None)
    f = loaded.forecaster
    return {"kinds": list(f.kinds),
            "presets": [{"name": n, "words": describe(p)} for n, p in PRESETS.items()],
            "covariates": {n: c.model_dump() for n, c in f.config.covariates.items()},
            "prices": state.settings.prices, "currency": state.settings.currency,
            "claims": None if (c := claims_of(report)) is None else c.model_dump()}
