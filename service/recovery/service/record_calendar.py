"""A record's calendar: day 0 is the record's start date, day n is n days later. Every
day <-> date conversion of the service (outside FHIR) goes through it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recovery.service.tables import Patient

__all__ = ["RecordCalendar", "calendar_of"]


@dataclass(frozen=True)
class RecordCalendar:
    """Days of one record, counted from its start date (whole days; a day's fraction, a time
    of day, stays on its date)."""

    start: date

    def day_of(self, when: date) -> float:
        """The record's day number of a calendar date (negative before the start)."""
        return float((when - self.start).days)

    def date_of(self, day: float) -> date:
        """The calendar date of one of the record's days."""
        return self.start + timedelta(days=int(day))

    def date_if(self, day: float | None) -> date | None:
        """The date of a day that may be unknown (None stays None)."""
        return None if day is None else self.date_of(day)

    def words(self) -> str:
        """The start date as the explanations say it, e.g. '03 March 2026'."""
        return f"{self.start:%d %B %Y}"


def calendar_of(p: Patient) -> RecordCalendar:
    """The calendar of a stored record."""
    return RecordCalendar(p.start)
