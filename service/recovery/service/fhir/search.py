"""FHIR read and search over the records a caller may see: Patient by id or identifier;
Observation, Procedure, RiskAssessment and CarePlan by patient, date and _since, paged by
_count (and the _offset of the next link); $everything of one record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from recovery.service.errors import NotFoundError
from recovery.service.fhir.outbound import Row, resource, searchset
from recovery.service.fhir.problems import FhirError
from recovery.service.fhir.refs import canonical, parse_token
from recovery.service.tables import (
    ForecastRow,
    PainRow,
    Patient,
    PatientIdentifier,
    PlanRow,
    SessionRow,
    User,
)

__all__ = ["PARAMS", "Who", "everything", "read", "search"]

TABLES: dict[str, Any] = {"Observation": (PainRow, "score-"),
                          "Procedure": (SessionRow, "session-"),
                          "RiskAssessment": (ForecastRow, "forecast-"),
                          "CarePlan": (PlanRow, "plan-")}
COMMON = ("_count", "_offset", "_format", "_since")
PARAMS = {"Patient": ("identifier", "_id"), **dict.fromkeys(TABLES, ("patient", "subject",
                                                                      "date"))}
MAX_COUNT, DEFAULT_COUNT = 500, 50


@dataclass(frozen=True)
class Who:
    """Whose records a caller sees: a therapist's, or one record (a patient's login)."""

    therapist: int | None = None
    record: str | None = None

    @classmethod
    def of(cls, user: User) -> Who:
        """What a signed-in user sees through FHIR."""
        if user.role == "therapist":
            return cls(therapist=user.id)
        if user.role == "patient" and user.patient_id:
            return cls(record=user.patient_id)
        return cls()

    def records(self) -> Select[Any]:
        """The records this caller sees."""
        q = select(Patient)
        if self.therapist is not None:
            return q.where(Patient.therapist_id == self.therapist)
        return q.where(Patient.id == (self.record or "-"))


def _identifiers(s: Session, p: Patient) -> list[str]:
    return list(s.scalars(select(PatientIdentifier.identifier).where(
        PatientIdentifier.patient_id == p.id).order_by(PatientIdentifier.id)))


def _record(s: Session, who: Who, record_id: str) -> Patient:
    if 0 < len(record_id) <= 32 and record_id.isalnum() and record_id.isascii():
        p = s.scalars(who.records().where(Patient.id == record_id)).first()
        if p is not None:
            return p
    raise FhirError([("id", "no such Patient among your records")], 404, "not-found")


def read(s: Session, who: Who, kind: str, rid: str, base: str) -> tuple[dict[str, Any], str]:
    """One resource by id and the record it belongs to; 404 (as FhirError) if the caller
    cannot see it."""
    if kind == "Patient":
        p = _record(s, who, rid)
        return resource(p, p, base, _identifiers(s, p)), p.id
    table, prefix = TABLES[kind]
    key = rid[len(prefix):] if rid.startswith(prefix) else ""
    wanted: Any = int(key) if kind in ("Observation", "Procedure") and key.isdigit() \
        and len(key) < 18 else key
    if key and (isinstance(wanted, int) or (len(key) <= 32 and key.isalnum())):
        sub = who.records().subquery()
        row = s.scalars(select(table).join(sub, sub.c.id == table.patient_id)
                        .where(table.id == wanted)).first()
        if row is not None:
            owner = s.get(Patient, row.patient_id)
            assert owner is not None
            return resource(owner, row, base), owner.id
    raise FhirError([("id", f"no such {kind} among your records")], 404, "not-found")


def _count(params: dict[str, list[str]]) -> tuple[int, int]:
    try:
        count = int((params.get("_count") or [str(DEFAULT_COUNT)])[-1])
        offset = int((params.get("_offset") or ["0"])[-1])
    except ValueError:
        raise FhirError([("_count", "_count and _offset are whole numbers")]) from None
    if not (0 <= count <= MAX_COUNT and 0 <= offset <= 10**9):
        raise FhirError([("_count", f"_count 0 to {MAX_COUNT}, _offset 0 or more")])
    return count, offset


def _dates(values: list[str]) -> list[tuple[str, date]]:
    """Date tests as (prefix, date): eq, ge, gt, le, lt (a date-time is taken by its day)."""
    out = []
    for v in values:
        prefix = v[:2] if v[:2] in ("eq", "ge", "gt", "le", "lt") else "eq"
        text = v[2:] if v[:2] == prefix else v
        try:
            out.append((prefix, date.fromisoformat(text[:10])))
        except ValueError:
            raise FhirError([("date", "a date: [eq|ge|gt|le|lt]YYYY-MM-DD")]) from None
    return out


def _since(values: list[str]) -> datetime | None:
    if not values:
        return None
    try:
        t = datetime.fromisoformat(values[-1].replace("Z", "+00:00"))
    except ValueError:
        raise FhirError([("_since", "an instant: YYYY-MM-DDThh:mm:ss+zz:zz")]) from None
    offset = t.utcoffset()
    return (t - offset).replace(tzinfo=None) if offset is not None else t


def _on(p: Patient, row: Row) -> date:
    if isinstance(row, PainRow | SessionRow):
        return p.start + timedelta(days=int(row.day))
    return row.created_at.date()


def _passes(on: date, tests: list[tuple[str, date]]) -> bool:
    ops = {"eq": on.__eq__, "ge": on.__ge__, "gt": on.__gt__, "le": on.__le__,
           "lt": on.__lt__}
    return all(ops[p](d) for p, d in tests)


def _check(kind: str, params: dict[str, list[str]]) -> None:
    unknown = sorted(set(params) - set(PARAMS[kind]) - set(COMMON))
    if unknown:
        raise FhirError([(f"{kind}?", f"{len(unknown)} search parameter(s) not supported "
                                      f"here; supported: {', '.join(PARAMS[kind])}")],
                        400, "not-supported")


def _patients(s: Session, who: Who, params: dict[str, list[str]]) -> list[Patient]:
    q = who.records().order_by(Patient.created_at, Patient.id)
    for token in params.get("identifier", []):
        system, value = parse_token(token)
        col = PatientIdentifier.identifier
        test = col == canonical(system, value) if system is not None else \
            col.like("%|" + canonical("", value)[1:].replace("%", r"\%"), escape="\\")
        q = q.where(Patient.id.in_(select(PatientIdentifier.patient_id).where(test)))
    for rid in params.get("_id", []) + [
            v.removeprefix("Patient/") for k in ("patient", "subject") for v in
            params.get(k, [])]:
        q = q.where(Patient.id == rid[:40])
    return list(s.scalars(q))


def search(s: Session, who: Who, kind: str, params: dict[str, list[str]], base: str
           ) -> dict[str, Any]:
    """A searchset Bundle of what matches, a page of _count from _offset, with self and next
    links."""
    _check(kind, params)
    count, offset = _count(params)
    found: list[tuple[Patient, Row]]
    if kind == "Patient":
        found = [(p, p) for p in _patients(s, who, params)]
    else:
        found = _rows(s, who, kind, params)
    page = found[offset:offset + count]
    resources = [resource(p, row, base, _identifiers(s, p) if row is p else None)
                 for p, row in page]
    query = {k: v for k, v in params.items() if k != "_offset"}
    links = {"self": f"{base}/{kind}?{urlencode({**query, '_offset': offset}, doseq=True)}"}
    if offset + count < len(found) and count:
        links["next"] = (f"{base}/{kind}?"
                         f"{urlencode({**query, '_offset': offset + count}, doseq=True)}")
    return searchset(resources, base, total=len(found), links=links)


def _rows(s: Session, who: Who, kind: str, params: dict[str, list[str]]
          ) -> list[tuple[Patient, Row]]:
    table, _ = TABLES[kind]
    records = _patients(s, who, {k: v for k, v in params.items()
                                 if k in ("patient", "subject")})
    by_id = {p.id: p for p in records}
    q = select(table).where(table.patient_id.in_(list(by_id))).order_by(table.patient_id)
    since = _since(params.get("_since", []))
    if since is not None:
        q = q.where(table.created_at >= since)
    tests = _dates(params.get("date", []))
    rows = [(by_id[r.patient_id], r) for r in s.scalars(q.order_by(table.id))]
    rows = [(p, r) for p, r in rows if _passes(_on(p, r), tests)]
    return sorted(rows, key=lambda pr: (pr[0].id, _on(*pr), pr[1].id))


def everything(s: Session, p: Patient, base: str) -> dict[str, Any]:
    """The record with its scores, sessions, forecasts and plans as a searchset Bundle."""
    rows: list[Any] = [p]
    table: Any
    for table in (PainRow, SessionRow):
        rows += s.scalars(select(table).where(table.patient_id == p.id)
                          .order_by(table.day, table.id)).all()
    for table in (ForecastRow, PlanRow):
        rows += s.scalars(select(table).where(table.patient_id == p.id)
                          .order_by(table.created_at)).all()
    return searchset([resource(p, r, base, _identifiers(s, p) if r is p else None)
                      for r in rows], base)


def record_for(s: Session, who: Who, record_id: str) -> Patient:
    """The record if the caller sees it (NotFoundError otherwise)."""
    try:
        return _record(s, who, record_id)
    except FhirError:
        raise NotFoundError("no such Patient among your records") from None
