"""Answers about a stored patient beyond the forecast: why it looks as it does, when to book
the next session, and the sessions-vs-pain frontier. Each starts today in the record's
calendar and runs on the served model, like forecasts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

from fastapi import APIRouter

from recovery.model import (
    BookingRequest,
    ExplainRequest,
    FrontierResponse,
    OptimiseRequest,
    booking,
    explain,
    frontier,
)
from recovery.service.api.deps import (
    BUSY,
    COMMON_RESPONSES,
    NOT_YOURS,
    CurrentUser,
    DbSession,
    State,
    gated,
    patient_for,
    served,
    settle,
)
from recovery.service.api.errors import run_model
from recovery.service.records import history_of, today_of, usable
from recovery.service.schemas import (
    BookingIn,
    BookingOut,
    ExplainIn,
    ExplainOut,
    PatientOptimiseIn,
)

router = APIRouter(prefix="/v1/patients", tags=["answers"], responses=COMMON_RESPONSES)
R = TypeVar("R")
RESPONSES = {**NOT_YOURS, **BUSY}


def _ask(s: DbSession, user: CurrentUser, state: State, patient_id: str, body: dict[str, Any],
         build: Callable[[dict[str, Any]], Any], answer: Callable[[Any, Any], R],
         since: bool = False) -> tuple[R, date]:
    """Validate the model request for this patient from today (`since`: naming the record's
    start date in words), and answer it on the served model within the user's share of the
    server; also the record's start date."""
    patient = patient_for(s, user, patient_id)
    loaded = served(state)
    h, _ = usable(history_of(s, patient_id), loaded.forecaster.kinds)
    start = max(today_of(patient, state.settings.today()),
                max((p.day for p in h.pain), default=0.0))
    settle(s)  # the request is checked and answered outside any transaction
    req = run_model(lambda: build({"patient": {"covariates": patient.covariates},
                                   "history": h.model_dump(), "start_day": start, **body,
                                   **({"since": f"{patient.start:%d %B %Y}"} if since else {})}))
    return gated(state, user.id, lambda: answer(loaded.forecaster, req)), patient.start


@router.post("/{patient_id}/explain", response_model=ExplainOut, responses=RESPONSES)
def explain_patient(patient_id: str, body: ExplainIn, s: DbSession, user: CurrentUser,
                    state: State) -> ExplainOut:
    """Expected pain split into natural course, course relief, short relief, durable gain,
    soreness and the latest scores' pull, with bands, from the record's start to the horizon;
    the parts add up to the forecast's mean."""
    res, start_date = _ask(s, user, state, patient_id, body.model_dump(),
                           ExplainRequest.model_validate, explain, since=True)
    return ExplainOut(**res.model_dump(), start_date=start_date)


@router.post("/{patient_id}/booking", response_model=BookingOut, responses=RESPONSES)
def booking_patient(patient_id: str, body: BookingIn, s: DbSession, user: CurrentUser,
                    state: State) -> BookingOut:
    """If sessions stop today: the chance pain is back by each day, and the latest date for the
    next session that keeps P(score <= target) at the level until it and weeks after it."""
    res, start_date = _ask(s, user, state, patient_id, body.model_dump(),
                              BookingRequest.model_validate, booking)

    def on(day: float | None) -> date | None:
        return None if day is None else start_date + timedelta(days=int(day))

    return BookingOut(**res.model_dump(), start_date=start_date,
                      book_by_date=on(res.book_by_day), median_return_date=on(
                          res.median_return_day))


@router.post("/{patient_id}/frontier", response_model=FrontierResponse, responses=RESPONSES)
def frontier_patient(patient_id: str, body: PatientOptimiseIn, s: DbSession,
                     user: CurrentUser, state: State) -> FrontierResponse:
    """About 60 schedules (frequency, recovery length, maintenance, tapers, steady care) on the
    same draws: sessions and cost against pain at the horizon, non-dominated ones marked."""
    fields = body.model_dump(exclude={"start_day"})
    res, _ = _ask(s, user, state, patient_id, {**fields, "prices": state.settings.prices},
                     OptimiseRequest.model_validate, frontier)
    return res
