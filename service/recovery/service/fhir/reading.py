"""One Patient, Observation or Procedure read into what Recovery stores, under the API's own
rules for names and identifiers. An entry Recovery cannot use (another code, a planned
session, no value) is `Skipped` with the reason; one it must not store as sent (a
comparator, a unit other than a score's, an unknown modifierExtension, a partial date) is
refused with a FhirError naming the element."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from recovery.model.requests import NO_CONTROL
from recovery.service.fhir.codes import (
    OBSERVATION_STATUS,
    PAIN_ANSWERS,
    PAIN_CODES,
    PROCEDURE_STATUS,
    SCORE_UNITS,
    SESSION_CODES,
    SNOMED,
)
from recovery.service.fhir.problems import FhirError
from recovery.service.fhir.refs import Ref, canonical, parse_url

__all__ = ["EntryIn", "PatientIn", "Skipped", "read_observation", "read_patient",
           "read_procedure", "subject_of"]

NAME_CHARS, IDENTIFIER_CHARS = 120, 300  # the API's name rule; the identifier column
_ONE_LINE = re.compile(NO_CONTROL)


class Skipped(Exception):  # noqa: N818 (not an error: the entry is left out on purpose)
    """An entry Recovery leaves out, with the reason (a warning, not a refusal)."""


@dataclass
class PatientIn:
    """A Patient: its identifiers (canonical), name and birth date."""

    identifiers: list[str]
    name: str
    birth_date: date | None
    record_id: str | None = None  # a PUT to Patient/<id> of a stored record


@dataclass
class EntryIn:
    """A score or session to store (or retract) for the patient `subject` points at."""

    table: str  # "score" or "session"
    subject: Ref | None
    on: date | None = None
    kind: str = "score"
    score: int | None = None
    keys: list[str] = field(default_factory=list)  # client ids, the first used to store
    row_id: int | None = None  # PUT/DELETE of Observation/score-N, Procedure/session-N
    retract: bool = False
    time: datetime | None = None  # the date-time sent, with its offset (None: a date)
    source: dict[str, Any] = field(default_factory=dict)  # kept for the round trip


def _text(value: str, where: str, limit: int) -> str:
    if not value.strip() or len(value) > limit or not _ONE_LINE.match(value):
        raise FhirError([(where, f"1 to {limit} characters of one line of text, without "
                                 "control characters")])
    return value


def _partial(value: str) -> date:
    """A birth date given as a year or a year and month: the middle of that period."""
    parts = [int(p) for p in value.split("-")]
    return date(parts[0], parts[1], 15) if len(parts) == 2 else date(parts[0], 7, 1)


def read_patient(r: Any, at: str) -> PatientIn:
    """The Patient's identifiers (every one with a system and a value), name and birth date."""
    ids: list[str] = []
    for k, x in enumerate(r.identifier or []):
        if x.system and x.value:
            where = f"{at}.identifier[{k}]"
            _text(x.system, f"{where}.system", IDENTIFIER_CHARS)
            _text(x.value, f"{where}.value", IDENTIFIER_CHARS)
            ident = canonical(x.system, x.value)
            if len(ident) > IDENTIFIER_CHARS:
                raise FhirError([(where, f"system|value over {IDENTIFIER_CHARS} characters")])
            ids.append(ident)
    if not ids:
        raise FhirError([(f"{at}.identifier", "a Patient needs an identifier with a system "
                                                 "and a value (records are matched by it)")])
    names = [n.text or " ".join([*(n.given or []), n.family or ""]).strip()
             for n in (r.name or [])]
    name = next((n for n in names if n), "unnamed")
    _text(name, f"{at}.name", NAME_CHARS)
    birth = _partial(r.birthDate) if isinstance(r.birthDate, str) else r.birthDate
    return PatientIn(ids, name, birth)


def subject_of(r: Any, at: str, local: dict[str, Ref], base: str) -> Ref:
    """Whom the resource's subject points at: a Patient of the Bundle (by fullUrl, id or
    identifier), a stored record (Patient/<id>, relative or on this server) or an
    identifier (`Patient?identifier=s|v`, or a logical reference)."""
    s = r.subject
    ref = s.reference if s is not None else None
    if ref is None and s is not None and s.identifier is not None and s.identifier.value:
        ident = canonical(s.identifier.system or "", s.identifier.value)
        return local.get(f"identifier:{ident}", Ref("identifier", ident))
    if not ref:
        raise FhirError([(f"{at}.subject", "a reference to the Patient is needed")])
    if ref in local:
        return local[ref]
    if ref.startswith(base + "/"):
        ref = ref[len(base) + 1:]
    if ref.startswith("Patient?identifier="):
        target = parse_url(ref, base)
        if target is not None and target.identifier is not None:
            return local.get(f"identifier:{target.identifier}",
                             Ref("identifier", target.identifier))
    elif ref.startswith("Patient/") and "/" not in ref[8:] and ref[8:]:
        return local.get(ref, Ref("record", ref[8:]))
    raise FhirError([(f"{at}.subject", "not a Patient of this Bundle nor one on this server "
                                        "(point at a fullUrl, Patient/<id> or "
                                        "Patient?identifier=system|value)")])


def _day(value: date | datetime | str | None, at: str) -> date:
    """The local day of a date or date-time (the date-time's own offset: its local day)."""
    if value is None:
        raise FhirError([(at, "a date is needed")])
    if isinstance(value, str):
        raise FhirError([(at, "a whole day is needed (YYYY-MM-DD or a date-time), not a "
                              "year or a month")])
    return value.date() if isinstance(value, datetime) else value


def _modifiers(r: Any, at: str) -> None:
    if r.modifierExtension:
        raise FhirError([(f"{at}.modifierExtension", "a modifier extension Recovery does not "
                                                     "know changes the meaning: not stored")])


def _identity(r: Any) -> list[str]:
    return [canonical(x.system or "", x.value) for x in (r.identifier or []) if x.value]


def read_observation(r: Any, at: str, local: dict[str, Ref], base: str) -> EntryIn:
    """A pain score (or its retraction); Skipped for other codes, statuses without a
    result, and absent values."""
    _modifiers(r, at)
    codes = {(c.system, c.code) for c in (r.code.coding or [])}
    if not codes & PAIN_CODES:
        raise Skipped("not a pain score (LOINC 72514-3 or 38208-5): not stored")
    action = OBSERVATION_STATUS.get(r.status, "skip")
    if action == "skip":
        raise Skipped(f"status {r.status}: not a result, not stored")
    entry = EntryIn("score", subject_of(r, at, local, base), keys=_identity(r))
    if action == "retract":
        entry.retract = True
        return entry
    if r.dataAbsentReason is not None:
        raise Skipped("no value (dataAbsentReason): not stored")
    when = r.effectiveDateTime or r.effectiveInstant or (
        r.effectivePeriod.start if r.effectivePeriod else None)
    entry.on = _day(when, f"{at}.effective[x]")
    entry.time = when if isinstance(when, datetime) else None
    entry.score = _score(r, at)
    entry.source = _source(r, entry.time)
    return entry


def _score(r: Any, at: str) -> int:
    value: Any = None
    where = f"{at}.value[x]"
    if r.valueInteger is not None:
        value = r.valueInteger
    elif r.valueQuantity is not None:
        q = r.valueQuantity
        if q.comparator is not None:
            raise FhirError([(f"{at}.valueQuantity.comparator",
                              "a score with a comparator (<, >) is not one score")])
        if (q.code or q.unit) and (q.code or q.unit) not in SCORE_UNITS:
            raise FhirError([(f"{at}.valueQuantity.code", "a 0-10 score has the unit "
                                                         "{score} (UCUM) or none")])
        value = q.value
    elif r.valueCodeableConcept is not None:
        value = next((PAIN_ANSWERS[c.code] for c in r.valueCodeableConcept.coding or []
                      if c.code in PAIN_ANSWERS), None)
    if value is None or float(value) != int(value) or not 0 <= int(value) <= 10:
        raise FhirError([(where, "a whole score 0-10 is needed (valueInteger, "
                                 "valueQuantity, or a LOINC LA answer code)")])
    return int(value)


def read_procedure(r: Any, at: str, local: dict[str, Ref], base: str) -> EntryIn:
    """A massage or physiotherapy session (or its retraction); Skipped for other
    procedures and sessions not done."""
    _modifiers(r, at)
    kinds = [SESSION_CODES[c.code] for c in ((r.code.coding or []) if r.code else [])
             if c.system == SNOMED and c.code in SESSION_CODES]
    if not kinds:
        raise Skipped("not massage (SNOMED 387854002) or physiotherapy (91251008): "
                      "not stored")
    action = PROCEDURE_STATUS.get(r.status, "skip")
    if action == "skip":
        raise Skipped(f"status {r.status}: not a completed session, not stored")
    entry = EntryIn("session", subject_of(r, at, local, base), kind=kinds[0],
                    keys=_identity(r))
    if action == "retract":
        entry.retract = True
        return entry
    performed = r.performedDateTime or (r.performedPeriod.start if r.performedPeriod
                                        else None)
    entry.on = _day(performed, f"{at}.performed[x]")
    entry.time = performed if isinstance(performed, datetime) else None
    entry.source = _source(r, entry.time)
    return entry


def _source(r: Any, time: datetime | None) -> dict[str, Any]:
    """What the round trip gives back: identifiers, the date-time as sent, the status."""
    out: dict[str, Any] = {"status": r.status}
    ids = [{k: v for k, v in (("system", x.system), ("value", x.value)) if v}
           for x in (r.identifier or []) if x.value]
    if ids:
        out["identifier"] = ids
    if time is not None:
        out["time"] = time.isoformat()
    return out
