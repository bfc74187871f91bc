"""One road from a stored record to a model question: the record as the served model sees it
(`RecordView`, built once per request) and one request builder with one start-day rule, used by
the forecast, optimise, explain, booking and frontier routes alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from recovery.model import History
from recovery.service.record_calendar import RecordCalendar, calendar_of
from recovery.service.records import history_of, next_day, usable
from recovery.service.tables import Patient

__all__ = ["RecordView", "question", "record_view"]

Q = TypeVar("Q", bound=BaseModel)


@dataclass(frozen=True)
class RecordView:
    """A stored record as the served model sees it: the patient, the history it can use, a
    note per entry it leaves out, and today in the record's calendar."""

    patient: Patient
    calendar: RecordCalendar
    history: History
    left_out: list[str]
    today: float

    def start_day(self, asked: float | None = None) -> float:
        """The one start-day rule: the day asked for, else the first day after the record's
        last entry (day 0 for an empty record): an entry made today is history, so no
        schedule adds a second session to its day."""
        return asked if asked is not None else next_day(self.history)


def record_view(s: Session, patient: Patient, kinds: list[str], today: date) -> RecordView:
    """The record's view for a model that knows session `kinds`, on the service's `today`."""
    calendar = calendar_of(patient)
    history, left_out = usable(history_of(s, patient.id), kinds)
    return RecordView(patient, calendar, history, left_out, calendar.day_of(today))


def question(view: RecordView, request: type[Q], options: dict[str, Any],
             start_day: float | None = None) -> Q:
    """The model request `request` about this record: its covariates and usable history, from
    the start day the rule gives, with the route's `options`; refused as the model's
    validators say."""
    since = view.patient.pain_since
    return request.model_validate({
        "patient": {"covariates": view.patient.covariates,
                    "onset_day": None if since is None else view.calendar.day_of(since)},
        "history": view.history,
        "start_day": view.start_day(start_day), **options})
