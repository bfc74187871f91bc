"""A read Bundle applied to a therapist's records in the caller's (short) transaction: Patients
matched by any identifier or made, scores and sessions stored, replaced (same identity:
identifier, id or conditional URL) or retracted; a transaction all or nothing, a batch entry
by entry; the response Bundle in request order. Concurrent identical Bundles are idempotent
on both databases (every insert is ON CONFLICT DO NOTHING)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from recovery.model.config import Covariate
from recovery.service.db import insert_skipping_known
from recovery.service.fhir.inbound import EntryIn, ImportPlan, Item, PatientIn
from recovery.service.fhir.outbound import outcome
from recovery.service.fhir.problems import FhirError
from recovery.service.fhir.refs import Ref, client_id
from recovery.service.tables import (
    AssertionSeen,
    PainRow,
    Patient,
    PatientIdentifier,
    SessionRow,
    now,
)

__all__ = ["Context", "first_use", "owned", "store_plan"]

TYPES: dict[str, tuple[str, str, Any]] = {"score": ("Observation", "score-", PainRow),
                                          "session": ("Procedure", "session-", SessionRow)}


@dataclass
class Context:
    """Whose records take the Bundle, today's date and what the served model knows."""

    therapist: int
    today: date
    kinds: list[str]
    age: Covariate | None = None


def owned(s: Session, therapist: int, record_id: str) -> Patient | None:
    """The therapist's record with this id (ids that cannot be one are not looked up)."""
    if not (0 < len(record_id) <= 32 and record_id.isalnum() and record_id.isascii()):
        return None
    p = s.get(Patient, record_id)
    return p if p is not None and p.therapist_id == therapist else None


def store_plan(s: Session, ctx: Context, plan: ImportPlan) -> tuple[dict[str, Any], list[str]]:
    """Apply the plan; the response Bundle and the records written. A transaction with any
    problem raises FhirError naming them all (the caller rolls back)."""
    if plan.kind == "transaction" and (problems := plan.problems()):
        raise FhirError(problems, next(i.status for i in plan.items if i.problems))
    records: dict[int, tuple[Patient, bool]] = {}
    for n, item in enumerate(plan.items):
        if isinstance(item.action, PatientIn) and not item.problems:
            records[n] = _patient(s, ctx, item.action, _first_day(plan, n, ctx.today))
    answers = _entries(s, ctx, plan, records)
    if plan.kind == "transaction" and (problems := plan.problems()):
        raise FhirError(problems, next(i.status for i in plan.items if i.problems))
    entries = [_response(item, records.get(n), answers.get(n))
               for n, item in enumerate(plan.items)]
    touched = {p.id for p, _ in records.values()} | {a[2] for a in answers.values() if a}
    kind = "transaction-response" if plan.kind == "transaction" else "batch-response"
    return {"resourceType": "Bundle", "type": kind, "entry": entries}, sorted(touched)


def _first_day(plan: ImportPlan, n: int, today: date) -> date:
    """A new record's day 0: the first entry pointing at its Patient entry (or today)."""
    days = [e.on for e in plan.entries if e.subject == Ref("entry", str(n)) and e.on]
    return min([*days, today])


def _patient(s: Session, ctx: Context, p: PatientIn, first: date) -> tuple[Patient, bool]:
    """The record a Patient names (by id, or by any of its identifiers), or a new one; with
    every identifier kept; whether it was made now."""
    found = owned(s, ctx.therapist, p.record_id) if p.record_id else None
    if found is None:
        found = s.scalars(select(Patient).join(
            PatientIdentifier, PatientIdentifier.patient_id == Patient.id).where(
            PatientIdentifier.therapist_id == ctx.therapist,
            PatientIdentifier.identifier.in_(p.identifiers))).first()
    made = found is None
    if found is None:
        row = {"id": uuid.uuid4().hex, "name": p.name,
               "covariates": _covariates(ctx, p), "therapist_id": ctx.therapist,
               "start_date": first, "fhir_identifier": p.identifiers[0],
               "created_at": now()}
        made = insert_skipping_known(s, Patient, [row], ["therapist_id", "fhir_identifier"]) == 1
        found = s.scalars(select(Patient).where(Patient.therapist_id == ctx.therapist,
                                                Patient.fhir_identifier == p.identifiers[0])
                          ).one()
    elif p.record_id and p.name != "unnamed":
        found.name = p.name  # a PUT to the record updates its name
    insert_skipping_known(s, PatientIdentifier, [
        {"therapist_id": ctx.therapist, "patient_id": found.id, "identifier": i}
        for i in p.identifiers], ["therapist_id", "identifier"])
    return found, made


def _covariates(ctx: Context, p: PatientIn) -> dict[str, float]:
    if ctx.age is None or p.birth_date is None:
        return {}
    years = (ctx.today - p.birth_date).days / 365.25
    low, high = ctx.age.low, ctx.age.high
    return {"age": round(years, 1)} if (low is None or years >= low) and (
        high is None or years <= high) else {}


def _subject(s: Session, ctx: Context, ref: Ref, records: dict[int, tuple[Patient, bool]]
             ) -> Patient | None:
    if ref.kind == "entry":
        return records.get(int(ref.value), (None, False))[0]
    if ref.kind == "record":
        return owned(s, ctx.therapist, ref.value)
    return s.scalars(select(Patient).join(
        PatientIdentifier, PatientIdentifier.patient_id == Patient.id).where(
        PatientIdentifier.therapist_id == ctx.therapist,
        PatientIdentifier.identifier == ref.value)).first()


def _stored(s: Session, ctx: Context, e: EntryIn, record: Patient | None) -> Any:
    """The stored row this entry names: by row id, or by any of its keys (in its record, or
    in any of the therapist's records for a DELETE)."""
    table = TYPES[e.table][2]
    query = select(table).join(Patient, Patient.id == table.patient_id).where(
        Patient.therapist_id == ctx.therapist)
    if e.row_id is not None:
        return s.scalars(query.where(table.id == e.row_id)).first()
    ids = [client_id(k) for k in e.keys]
    if record is not None:
        query = query.where(table.patient_id == record.id)
    rows = {r.client_id: r for r in s.scalars(query.where(table.client_id.in_(ids)))}
    return next((rows[i] for i in ids if i in rows), None)


def _entry(s: Session, ctx: Context, item: Item, records: dict[int, tuple[Patient, bool]]
           ) -> tuple[str, str | None, str] | None:
    """Store, replace or retract one entry: (status, location, record id); None with the
    item's problems set when it is refused."""
    e = item.action
    assert isinstance(e, EntryIn)
    record = _subject(s, ctx, e.subject, records) if e.subject is not None else None
    if e.subject is not None and record is None:
        item.problems = [(f"{item.at}.resource.subject", "not a Patient of this Bundle nor "
                                                         "one of your records")]
        return None
    row = _stored(s, ctx, e, record)
    type_, prefix, table = TYPES[e.table]
    if e.retract:
        if row is not None:
            s.execute(delete(table).where(table.id == row.id))
        return ("204 No Content" if item.method == "DELETE" else "200 OK", None,
                row.patient_id if row is not None else "")
    assert record is not None
    assert e.on is not None
    if (problem := _refused(ctx, e, record)) is not None:
        item.problems = [(f"{item.at}.resource", problem)]
        return None
    if e.row_id is not None and row is None:
        item.problems, item.status = [(f"{item.at}.request.url", f"no {type_} with this id "
                                       "among your records")], 404
        return None
    values = _values(e, record)
    if row is not None:
        s.execute(update(table).where(table.id == row.id).values(**values))
        return "200 OK", f"{type_}/{prefix}{row.id}", record.id
    key = client_id(e.keys[0])
    made = insert_skipping_known(s, table, [{**values, "client_id": key}],
                                 ["patient_id", "client_id"])
    new = s.scalars(select(table.id).where(table.patient_id == record.id,
                                           table.client_id == key)).one()
    return ("201 Created" if made else "200 OK"), f"{type_}/{prefix}{new}", record.id


Key = tuple[str, str, str]  # (table, record id, client id)
Answer = tuple[str, str | None, str]  # (status, location, record id)


def _entries(s: Session, ctx: Context, plan: ImportPlan,
             records: dict[int, tuple[Patient, bool]]) -> dict[int, Answer | None]:
    """Every score and session entry stored, replaced or retracted with a few statements
    (one read of what is stored, one insert per 500 new rows), so the write transaction stays
    short however long the Bundle; entries by row id or without a record one at a time."""
    answers, subjects = _one_by_one(s, ctx, plan, records)
    stored = _prefetch(s, plan, subjects)
    pending: dict[Key, dict[str, Any]] = {}
    waiting: dict[Key, list[int]] = {}
    for n, record in subjects.items():
        item = plan.items[n]
        e = item.action
        assert isinstance(e, EntryIn)
        keys = [(e.table, record.id, client_id(k)) for k in e.keys]
        row = next((stored[k] for k in keys if k in stored), None)
        if e.retract:
            stored = _retract(s, plan, e.table, row, keys, (stored, pending, waiting))
            answers[n] = ("200 OK", None, record.id)
            continue
        if (problem := _refused(ctx, e, record)) is not None:
            item.problems = [(f"{item.at}.resource", problem)]
            continue
        values = _values(e, record)
        type_, prefix, table = TYPES[e.table]
        if row is not None:
            if any(getattr(row, k) != v for k, v in values.items()):
                s.execute(update(table).where(table.id == row.id).values(**values))
            answers[n] = ("200 OK", f"{type_}/{prefix}{row.id}", record.id)
            continue
        key = next((k for k in keys if k in pending), keys[0])
        pending[key] = values
        waiting.setdefault(key, []).append(n)
    answers |= _insert(s, pending, waiting)
    return answers


def _one_by_one(s: Session, ctx: Context, plan: ImportPlan,
                records: dict[int, tuple[Patient, bool]]
                ) -> tuple[dict[int, Answer | None], dict[int, Patient]]:
    """Entries by row id or without a record, done one at a time; the others' records."""
    answers: dict[int, Answer | None] = {}
    subjects: dict[int, Patient] = {}
    for n, item in enumerate(plan.items):
        e = item.action
        if not isinstance(e, EntryIn) or item.problems:
            continue
        record = _subject(s, ctx, e.subject, records) if e.subject is not None else None
        if e.row_id is not None or record is None:
            answers[n] = _entry(s, ctx, item, records)
        else:
            subjects[n] = record
    return answers, subjects


def _retract(s: Session, plan: ImportPlan, kind: str, row: Any, keys: list[Key],
             state: tuple[dict[Key, Any], dict[Key, dict[str, Any]], dict[Key, list[int]]]
             ) -> dict[Key, Any]:
    """Delete the stored row, or drop a row made earlier in this Bundle (its entries then
    answer with a warning); what is stored afterwards."""
    stored, pending, waiting = state
    if row is not None:
        s.execute(delete(TYPES[kind][2]).where(TYPES[kind][2].id == row.id))
        stored = {k: v for k, v in stored.items() if v is not row}
    for k in [k for k in keys if k in pending]:
        del pending[k]
        for m in waiting.pop(k):
            plan.items[m].warning = "retracted by a later entry of this Bundle"
    return stored


def _values(e: EntryIn, record: Patient) -> dict[str, Any]:
    assert e.on is not None
    values: dict[str, Any] = {"patient_id": record.id,
                              "day": float((e.on - record.start).days)}
    values |= {"source": e.source or None}
    return values | ({"score": e.score} if e.table == "score" else {"kind": e.kind})


def _chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _prefetch(s: Session, plan: ImportPlan, subjects: dict[int, Patient]) -> dict[Key, Any]:
    """The stored rows any of these entries' keys name, by (table, record, client id)."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for n, record in subjects.items():
        e = plan.items[n].action
        assert isinstance(e, EntryIn)
        wanted.setdefault((e.table, record.id), set()).update(client_id(k) for k in e.keys)
    out: dict[Key, Any] = {}
    for (kind, record_id), ids in wanted.items():
        table = TYPES[kind][2]
        for chunk in _chunks(sorted(ids)):
            for row in s.scalars(select(table).where(table.patient_id == record_id,
                                                     table.client_id.in_(chunk))):
                out[(kind, record_id, row.client_id)] = row
    return out


def _insert(s: Session, pending: dict[Key, dict[str, Any]], waiting: dict[Key, list[int]]
            ) -> dict[int, Answer | None]:
    """Insert the new rows (ON CONFLICT DO NOTHING: a racing request's row is kept and
    answered 200); the first entry of each row is 201 Created, later ones 200 OK."""
    answers: dict[int, Answer | None] = {}
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    for kind in ("score", "session"):
        type_, prefix, table = TYPES[kind]
        rows = [{**v, "client_id": k[2]} for k, v in pending.items() if k[0] == kind]
        made: set[tuple[str, str]] = set()
        ids: dict[tuple[str, str], int] = {}
        for chunk in _chunks(rows):
            stmt = insert(table).values(chunk).on_conflict_do_nothing(
                index_elements=["patient_id", "client_id"]).returning(
                table.patient_id, table.client_id, table.id)
            for pid, cid, rid in s.execute(stmt):
                made.add((pid, cid))
                ids[(pid, cid)] = rid
            missing = [r for r in chunk if (r["patient_id"], r["client_id"]) not in ids]
            for r in missing:  # inserted meanwhile by a racing request
                ids[(r["patient_id"], r["client_id"])] = s.scalars(select(table.id).where(
                    table.patient_id == r["patient_id"],
                    table.client_id == r["client_id"])).one()
        for key, items in waiting.items():
            if key[0] != kind:
                continue
            rid = ids[(key[1], key[2])]
            for i, n in enumerate(items):
                status = "201 Created" if i == 0 and (key[1], key[2]) in made else "200 OK"
                answers[n] = (status, f"{type_}/{prefix}{rid}", key[1])
    return answers


def _refused(ctx: Context, e: EntryIn, record: Patient) -> str | None:
    """Why the served model or the record's calendar cannot take this entry (the API's
    rules: a known kind, not before the record's start, not past tomorrow)."""
    assert e.on is not None
    if e.table == "session" and e.kind not in ctx.kinds:
        return f"the served model does not know {e.kind!r} sessions (it knows {ctx.kinds})"
    if e.on > ctx.today + timedelta(days=1):
        return f"{e.on} is in the future: today is {ctx.today}"
    if e.on < record.start:
        return f"{e.on} is before the record's start ({record.start})"
    return None


def _response(item: Item, record: tuple[Patient, bool] | None,
              answer: tuple[str, str | None, str] | None) -> dict[str, Any]:
    """The entry's response: its status and location, and an OperationOutcome for a
    warning or a refusal."""
    if item.problems:
        status = {404: "404 Not Found", 405: "405 Method Not Allowed",
                  403: "403 Forbidden"}.get(item.status, "422 Unprocessable Entity")
        return {"response": {"status": status, "outcome": outcome(item.problems)}}
    if record is not None:
        return {"response": {"status": "201 Created" if record[1] else "200 OK",
                             "location": f"Patient/{record[0].id}"}}
    if answer is not None:
        out: dict[str, Any] = {"status": answer[0]}
        if answer[1]:
            out["location"] = answer[1]
        return {"response": out}
    warning = item.warning or "not stored"
    return {"response": {"status": "200 OK", "outcome": outcome(
        [(item.at, warning)], code="informational", severity="warning")}}


def first_use(s: Session, jti: str, client_id_: str, expires: datetime, now: datetime
              ) -> bool:
    """Record a client assertion's id; False when it was seen before (a replay). Ids of
    expired assertions are forgotten."""
    naive = now.replace(tzinfo=None)  # the tables store naive UTC
    s.execute(delete(AssertionSeen).where(AssertionSeen.expires_at < naive))
    row = {"jti": jti, "client_id": client_id_, "expires_at": expires.replace(tzinfo=None)}
    return insert_skipping_known(s, AssertionSeen, [row], ["jti"]) == 1
