"""Patient records: the stored diary and sessions as a model `History`, entries placed in the
record's calendar, idempotent batch inserts and deletes. Shared by the routes; refusals are
domain errors (errors.py), not HTTP responses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from recovery.model import History, TherapySession
from recovery.model.requests import PainScore
from recovery.service.db import insert_skipping_known
from recovery.service.errors import NotFoundError, Place, refuse_fields
from recovery.service.record_calendar import calendar_of
from recovery.service.schemas import BatchResult, SameDay, ScoreIn, SessionIn
from recovery.service.tables import PainRow, Patient, SessionRow

__all__ = ["delete_entry", "history_of", "insert_new", "next_day", "placed", "same_day",
           "today_of", "usable"]

Entries = type[PainRow] | type[SessionRow]


def history_of(s: Session, patient_id: str) -> History:
    """Stored history; several scores on one day keep the one recorded last."""
    pain = s.execute(select(PainRow.day, PainRow.score).where(PainRow.patient_id == patient_id)
                     .order_by(PainRow.day, PainRow.id)).all()
    by_day = {day: score for day, score in pain}
    sessions = s.execute(select(SessionRow.day, SessionRow.kind)
                         .where(SessionRow.patient_id == patient_id)
                         .order_by(SessionRow.day, SessionRow.id)).all()
    return History(pain=[PainScore(day=d, score=v) for d, v in sorted(by_day.items())],
                   sessions=[TherapySession(day=d, kind=k) for d, k in sessions])


def same_day(s: Session, p: Patient, days: Sequence[float] | None = None) -> list[SameDay]:
    """Dates of the record (or of `days` only) that hold more than one score, each with its
    scores in the order entered and the one forecasts use (history_of keeps the last)."""
    q = select(PainRow.day, PainRow.score).where(PainRow.patient_id == p.id)
    if days is not None:
        q = q.where(PainRow.day.in_(sorted(set(days))))
    by_day: dict[float, list[int]] = {}
    for day, score in s.execute(q.order_by(PainRow.day, PainRow.id)):
        by_day.setdefault(day, []).append(score)
    on = calendar_of(p).date_of
    return [SameDay(date=on(d), day=d, scores=v, used=v[-1])
            for d, v in by_day.items() if len(v) > 1]


def today_of(p: Patient, today: date) -> float:
    """Today as a day of the record (days since its start date)."""
    return calendar_of(p).day_of(today)


def next_day(h: History) -> float:
    """The first day after the history's last entry (day 0 for an empty record)."""
    return float(int(h.last_day) + 1) if (h.pain or h.sessions) else 0.0


def placed(p: Patient, items: Sequence[ScoreIn | SessionIn], field: str, today: date
           ) -> list[float]:
    """Each entry's day in the record's calendar (from its day or its date); refused for entries
    before the record's start or after today (a day's grace for clinics ahead of the server's
    time zone), every bad entry named."""
    last = today_of(p, today) + 1
    days: list[float] = []
    problems: list[tuple[Place, str]] = []
    for i, x in enumerate(items):
        day = x.day if x.day is not None else calendar_of(p).day_of(x.date or p.start)
        where = "day" if x.day is not None else "date"
        when = f"day {day:g}" if x.day is not None else str(x.date)
        if day < 0:
            problems.append(((field, i, where), f"{when} is before this record's start "
                                                f"({p.start})"))
        elif day > last:
            problems.append(((field, i, where), f"{when} is in the future: today is day "
                                                f"{last - 1:g} of this record, which started "
                                                f"on {p.start}"))
        days.append(day)
    refuse_fields(problems)
    return days


def usable(h: History, kinds: list[str]) -> tuple[History, list[str]]:
    """The history without sessions of kinds the served model does not know, and a note per
    kind left out (records from an older model stay forecastable)."""
    unknown = sorted({x.kind for x in h.sessions} - set(kinds))
    if not unknown:
        return h, []
    notes = [f"{sum(x.kind == k for x in h.sessions)} {k!r} session(s) left out: the served "
             f"model does not know that kind (it knows {', '.join(kinds)})" for k in unknown]
    kept = [x for x in h.sessions if x.kind in kinds]
    return History(pain=h.pain, sessions=kept), notes


def insert_new(s: Session, table: Entries, rows: list[dict[str, Any]]) -> BatchResult:
    """Insert rows whose (patient_id, client_id) is new; count the rest as duplicates."""
    unique = {r["client_id"]: r for r in rows}
    created = insert_skipping_known(s, table, list(unique.values()), ["patient_id", "client_id"])
    return BatchResult(created=created, duplicates=len(rows) - created)


def delete_entry(s: Session, table: Entries, patient_id: str, client_id: str) -> None:
    """Delete one entry by the id its client gave it; NotFoundError if the record has none."""
    gone = s.execute(delete(table).where(table.patient_id == patient_id,
                                         table.client_id == client_id).returning(table.id)).all()
    if not gone:
        raise NotFoundError("client_id: no entry with this client id in this record")
