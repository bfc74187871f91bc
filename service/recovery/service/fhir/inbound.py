"""A transaction Bundle read into what Recovery stores: patients (by identifier), their pain
scores and their sessions, each bad part named by its FHIRPath-like location. Pure: the
route applies the result to the database."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from recovery.service.fhir.codes import LOINC, PAIN_ANSWERS, PAIN_CODE, SESSION_CODES, SNOMED

__all__ = ["FhirError", "ImportPlan", "NewEntry", "NewPatient", "read_bundle"]

Problem = tuple[str, str]  # (where, what)


class FhirError(ValueError):
    """Every problem of a Bundle, each with where it is."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{w}: {m}" for w, m in problems))
        self.problems = problems


@dataclass
class NewPatient:
    """A Patient of the Bundle: its identifier ("system|value"), name and birth date."""

    ref: str  # how the Bundle's other entries point at it (fullUrl or Patient/id)
    identifier: str
    name: str
    birth_date: date | None


@dataclass
class NewEntry:
    """A score or a session of the Bundle, on a calendar date, for the patient it points at."""

    patient: str  # the identifier of its patient
    on: date
    kind: str  # "score", or a session kind
    score: int | None
    client_id: str


@dataclass
class ImportPlan:
    """What a Bundle holds, in Bundle order."""

    patients: list[NewPatient] = field(default_factory=list)
    entries: list[NewEntry] = field(default_factory=list)


def read_bundle(doc: dict[str, Any]) -> ImportPlan:
    """The Bundle's patients, scores and sessions; FhirError naming every bad part."""
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        raise FhirError([("Bundle", "send a Bundle resource (resourceType 'Bundle')")])
    try:
        bundle = Bundle.model_validate(doc)
    except ValidationError as exc:
        raise FhirError([(_path(e["loc"]), e["msg"]) for e in exc.errors()]) from None
    if bundle.type not in ("transaction", "batch"):
        raise FhirError([("Bundle.type", f"'{bundle.type}': send a transaction Bundle")])
    plan = ImportPlan()
    problems = _patients(bundle, plan) + _entries(bundle, plan)
    if problems:
        raise FhirError(problems)
    return plan


def _patients(bundle: Bundle, plan: ImportPlan) -> list[Problem]:
    """The Bundle's Patients into the plan; the problems of those it cannot read."""
    problems: list[Problem] = []
    for i, e in enumerate(bundle.entry or []):
        if e.resource is not None and e.resource.get_resource_type() == "Patient":
            try:
                plan.patients.append(_patient(e, i))
            except FhirError as exc:
                problems += exc.problems
    return problems


def _entries(bundle: Bundle, plan: ImportPlan) -> list[Problem]:
    """The Bundle's scores and sessions into the plan (pointing at its patients), and the
    problems of those it cannot read."""
    refs: dict[str, str] = {}
    for p in plan.patients:
        refs[p.ref] = refs[f"Patient?identifier={p.identifier}"] = p.identifier
    problems: list[Problem] = []
    for i, e in enumerate(bundle.entry or []):
        kind = e.resource.get_resource_type() if e.resource is not None else None
        try:
            if kind == "Observation":
                plan.entries.append(_observation(e, i, refs))
            elif kind == "Procedure":
                plan.entries.append(_procedure(e, i, refs))
            elif kind != "Patient":
                problems.append((f"Bundle.entry[{i}].resource",
                                 f"{kind}: only Patient, Observation and Procedure are read"))
        except FhirError as exc:
            problems += exc.problems
    return problems


def _path(loc: tuple[Any, ...]) -> str:
    out = "Bundle"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _patient(e: Any, i: int) -> NewPatient:
    r, at = e.resource, f"Bundle.entry[{i}].resource"
    ids = [x for x in (r.identifier or []) if x.system and x.value]
    if not ids:
        raise FhirError([(f"{at}.identifier", "a Patient needs an identifier with a system "
                                                 "and a value (records are matched by it)")])
    identifier = f"{ids[0].system}|{ids[0].value}"
    name = next((n.text or " ".join([*(n.given or []), n.family or ""]).strip()
                 for n in (r.name or [])), "") or ids[0].value
    ref = e.fullUrl or (f"Patient/{r.id}" if r.id else identifier)
    return NewPatient(ref=ref, identifier=identifier, name=name[:120], birth_date=r.birthDate)


def _subject(r: Any, at: str, refs: dict[str, str]) -> str:
    ref = r.subject.reference if r.subject is not None else None
    if ref not in refs:
        raise FhirError([(f"{at}.subject", f"{ref!r} is not a Patient of this Bundle (point "
                                              "at its fullUrl or Patient?identifier=...)")])
    return refs[ref]


def _day(value: date | datetime | None, at: str) -> date:
    if value is None:
        raise FhirError([(at, "a date is needed")])
    return value.date() if isinstance(value, datetime) else value


def _client_id(e: Any, r: Any, fallback: str) -> str:
    """A stable id for the entry (its identifier, fullUrl, or content), so a Bundle sent
    twice stores each entry once."""
    ids = [f"{x.system}|{x.value}" for x in (r.identifier or []) if x.value]
    key = ids[0] if ids else e.fullUrl or fallback
    return "fhir-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def _observation(e: Any, i: int, refs: dict[str, str]) -> NewEntry:
    r, at = e.resource, f"Bundle.entry[{i}].resource"
    codes = {(c.system, c.code) for c in (r.code.coding or [])}
    if (LOINC, PAIN_CODE) not in codes:
        raise FhirError([(f"{at}.code", f"only pain scores are read (LOINC {PAIN_CODE})")])
    if r.status not in ("final", "amended", "corrected", "preliminary"):
        raise FhirError([(f"{at}.status", f"'{r.status}': not a recorded score")])
    patient = _subject(r, at, refs)
    on = _day(r.effectiveDateTime, f"{at}.effectiveDateTime")
    score = _score(r, at)
    return NewEntry(patient, on, "score", score,
                    _client_id(e, r, f"{patient}|{PAIN_CODE}|{on}|{score}"))


def _score(r: Any, at: str) -> int:
    value: Any = None
    if r.valueInteger is not None:
        value = r.valueInteger
    elif r.valueQuantity is not None:
        value = r.valueQuantity.value
    elif r.valueCodeableConcept is not None:
        value = next((PAIN_ANSWERS[c.code] for c in r.valueCodeableConcept.coding or []
                      if c.system == LOINC and c.code in PAIN_ANSWERS), None)
    if value is None or float(value) != int(value) or not 0 <= int(value) <= 10:
        raise FhirError([(f"{at}.value[x]", "a whole score 0-10 is needed (valueInteger, "
                                               "valueQuantity, or a LOINC LA answer code)")])
    return int(value)


def _procedure(e: Any, i: int, refs: dict[str, str]) -> NewEntry:
    r, at = e.resource, f"Bundle.entry[{i}].resource"
    kinds = [SESSION_CODES[c.code] for c in ((r.code.coding or []) if r.code else [])
             if c.system == SNOMED and c.code in SESSION_CODES]
    if not kinds:
        raise FhirError([(f"{at}.code", "only massage (SNOMED 387854002) and physiotherapy "
                                           "(SNOMED 91251008) are read")])
    if r.status != "completed":
        raise FhirError([(f"{at}.status", f"'{r.status}': only completed sessions are read")])
    patient = _subject(r, at, refs)
    performed = r.performedDateTime or (r.performedPeriod.start if r.performedPeriod else None)
    on = _day(performed, f"{at}.performedDateTime")
    return NewEntry(patient, on, kinds[0], None,
                    _client_id(e, r, f"{patient}|{kinds[0]}|{on}|{i}"))
