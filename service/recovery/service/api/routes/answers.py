"""Answers about a stored patient beyond the forecast: why it looks as it does, when to book
the next session, and the sessions-vs-pain frontier. Each is asked the one way a stored record
is (`api.questions.ask`: today's day rule, the served model, the user's share of the server)."""

from __future__ import annotations

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
)
from recovery.service.api.questions import ask
from recovery.service.schemas import (
    BookingIn,
    BookingOut,
    ExplainIn,
    ExplainOut,
    PatientOptimiseIn,
)

router = APIRouter(prefix="/v1/patients", tags=["answers"], responses=COMMON_RESPONSES)
RESPONSES = {**NOT_YOURS, **BUSY}


@router.post("/{patient_id}/explain", response_model=ExplainOut, responses=RESPONSES)
def explain_patient(patient_id: str, body: ExplainIn, s: DbSession, user: CurrentUser,
                    state: State) -> ExplainOut:
    """Expected pain split into natural course, course relief, short relief, durable gain,
    soreness and the latest scores' pull, with bands, from the record's start to the horizon;
    the parts add up to the forecast's mean."""
    asked = ask(s, user, state, patient_id, ExplainRequest, body, since=True)
    return ExplainOut(**asked.answer(explain).model_dump(), start_date=asked.view.calendar.start)


@router.post("/{patient_id}/booking", response_model=BookingOut, responses=RESPONSES)
def booking_patient(patient_id: str, body: BookingIn, s: DbSession, user: CurrentUser,
                    state: State) -> BookingOut:
    """If sessions stop today: the chance pain is back by each day, and the latest date for the
    next session that keeps P(score <= target) at the level until it and weeks after it."""
    asked = ask(s, user, state, patient_id, BookingRequest, body)
    res, calendar = asked.answer(booking), asked.view.calendar
    return BookingOut(**res.model_dump(), start_date=calendar.start,
                      book_by_date=calendar.date_if(res.book_by_day),
                      median_return_date=calendar.date_if(res.median_return_day))


@router.post("/{patient_id}/frontier", response_model=FrontierResponse, responses=RESPONSES)
def frontier_patient(patient_id: str, body: PatientOptimiseIn, s: DbSession,
                     user: CurrentUser, state: State) -> FrontierResponse:
    """About 60 schedules (frequency, recovery length, maintenance, tapers, steady care) on the
    same draws: sessions and cost against pain at the horizon, non-dominated ones marked; from
    the start day asked, as /optimise."""
    asked = ask(s, user, state, patient_id, OptimiseRequest, body, body.start_day,
                prices=state.settings.prices)
    return asked.answer(frontier)
