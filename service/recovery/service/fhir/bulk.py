"""A FHIR Bulk Data export (NDJSON: one resource a line, a file per resource type) read as a
cohort's three tables. Patients get pseudonymous ids (an analyst's cohort holds no
identifiers); each diary's day 0 is its patient's first entry. Every problem is named by
file and line; lines nested too deep are refused before they are parsed."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from recovery.service.fhir.inbound import EntryIn, PatientIn, read_bundle
from recovery.service.fhir.problems import MAX_ISSUES, FhirError, Problem
from recovery.service.guard import MAX_DEPTH, shape

__all__ = ["pseudonym", "write_cohort_tables"]


def _line(raw: bytes, at: str, problems: list[Problem]) -> dict[str, Any] | None:
    """One NDJSON line as a resource, or None with its problem noted."""
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and shape(raw)[0] > MAX_DEPTH:
        problems.append((at, f"nested deeper than {MAX_DEPTH} levels"))
        return None
    try:
        r = json.loads(raw)
    except (ValueError, RecursionError):
        r = None
    if not isinstance(r, dict):
        problems.append((at, "not a JSON resource"))
        return None
    return r


def _resources(files: dict[str, bytes]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every line of every file as a Bundle entry, and where each came from (FhirError
    naming file and line, the first MAX_ISSUES of them and how many more)."""
    entries, places = [], []
    problems: list[Problem] = []
    for name, data in files.items():
        for n, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            r = _line(line, f"{name} line {n}", problems)
            if r is None:
                continue
            url = f"{r.get('resourceType')}/{r['id']}" if isinstance(r.get("id"), str) \
                else f"{name}#{n}"
            entries.append({"fullUrl": url, "resource": r})
            places.append(f"{name} line {n}")
    if problems:
        raise FhirError(problems)
    return entries, places


def pseudonym(identifier: str) -> str:
    """A cohort patient id that stands for one identifier and does not reveal it."""
    return "P" + hashlib.sha256(identifier.encode()).hexdigest()[:12]


def _read(files: dict[str, bytes]) -> tuple[list[tuple[str, PatientIn]],
                                             list[tuple[str, EntryIn]]]:
    """The export's patients (by their first identifier) and the entries pointing at them."""
    entries, places = _resources(files)
    plan = read_bundle({"resourceType": "Bundle", "type": "batch", "entry": entries})
    problems = [(places[int(w.split("[")[1].split("]")[0])] + w.split("]", 1)[1], m)
                for w, m in plan.problems()[:MAX_ISSUES + 1]]
    if len(plan.problems()) > MAX_ISSUES:
        problems[-1] = ("Bundle", f"and {len(plan.problems()) - MAX_ISSUES} more problems")
    patients = {str(n): p for n, i in enumerate(plan.items) if isinstance(p := i.action,
                                                                          PatientIn)}
    kept = [e for e in plan.entries if not e.retract]
    for e in kept:
        if e.subject is None or e.subject.kind != "entry" or e.subject.value not in patients:
            problems.append(("Observation/Procedure subject", "points at no Patient of the "
                                                              "export"))
            break
    if problems:
        raise FhirError(problems)
    ids = {n: p.identifiers[0] for n, p in patients.items()}
    return ([(ids[n], p) for n, p in patients.items()],
            [(ids[str(e.subject.value)], e) for e in kept if e.subject is not None])


def write_cohort_tables(files: dict[str, bytes], folder: Path) -> None:
    """patients.csv (pseudonymous id and age at the first entry), sessions.csv and pain.csv
    in `folder`, from NDJSON files of Patient, Observation and Procedure resources."""
    patients, entries = _read(files)
    first: dict[str, date] = {}
    for who, e in entries:
        assert e.on is not None
        first[who] = min(first.get(who, e.on), e.on)
    rows_p = [{"patient_id": pseudonym(who),
               "age": round((first[who] - p.birth_date).days / 365.25, 1)
               if p.birth_date else None} for who, p in patients if who in first]
    rows = [{"patient_id": pseudonym(who), "day": float((e.on - first[who]).days),
             "kind": e.kind, "score": e.score} for who, e in entries if e.on is not None]
    pd.DataFrame(rows_p, columns=["patient_id", "age"]).to_csv(folder / "patients.csv",
                                                               index=False)
    table = pd.DataFrame(rows, columns=["patient_id", "day", "kind", "score"])
    scores = table[table["kind"] == "score"].sort_values(["patient_id", "day"])
    scores[["patient_id", "day", "score"]].astype({"score": int}).to_csv(
        folder / "pain.csv", index=False)
    sessions = table[table["kind"] != "score"].sort_values(["patient_id", "day"])
    sessions[["patient_id", "day", "kind"]].to_csv(folder / "sessions.csv", index=False)
