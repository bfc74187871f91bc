"""A FHIR Bulk Data export (NDJSON: one resource a line, a file per resource type) read as a
cohort's three tables. Patients get pseudonymous ids (an analyst's cohort holds no
identifiers); each diary's day 0 is its patient's first entry."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from recovery.service.fhir.inbound import FhirError, read_bundle

__all__ = ["write_cohort_tables"]


def _resources(files: dict[str, bytes]) -> list[dict[str, Any]]:
    """Every line of every file as a Bundle entry (FhirError naming file and line)."""
    entries, problems = [], []
    for name, data in files.items():
        for n, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError:
                problems.append((f"{name} line {n}", "not a JSON resource"))
                continue
            if not isinstance(r, dict):
                problems.append((f"{name} line {n}", "not a JSON resource"))
                continue
            url = f"{r.get('resourceType')}/{r['id']}" if r.get("id") else f"{name}#{n}"
            entries.append({"fullUrl": url, "resource": r})
    if problems:
        raise FhirError(problems)
    return entries


def pseudonym(identifier: str) -> str:
    """A cohort patient id that stands for one identifier and does not reveal it."""
    return "P" + hashlib.sha256(identifier.encode()).hexdigest()[:12]


def write_cohort_tables(files: dict[str, bytes], folder: Path) -> None:
    """patients.csv (pseudonymous id and age at the first entry), sessions.csv and pain.csv
    in `folder`, from NDJSON files of Patient, Observation and Procedure resources."""
    plan = read_bundle({"resourceType": "Bundle", "type": "batch",
                        "entry": _resources(files)})
    first: dict[str, date] = {}
    for e in plan.entries:
        first[e.patient] = min(first.get(e.patient, e.on), e.on)
    patients = [{"patient_id": pseudonym(p.identifier),
                 "age": round((first[p.identifier] - p.birth_date).days / 365.25, 1)
                 if p.birth_date and p.identifier in first else None}
                for p in plan.patients if p.identifier in first]
    rows = [{"patient_id": pseudonym(e.patient), "day": float((e.on - first[e.patient]).days),
             "kind": e.kind, "score": e.score} for e in plan.entries]
    pd.DataFrame(patients, columns=["patient_id", "age"]).to_csv(folder / "patients.csv",
                                                                 index=False)
    table = pd.DataFrame(rows, columns=["patient_id", "day", "kind", "score"])
    scores = table[table["kind"] == "score"].sort_values(["patient_id", "day"])
    scores[["patient_id", "day", "score"]].astype({"score": int}).to_csv(
        folder / "pain.csv", index=False)
    sessions = table[table["kind"] != "score"].sort_values(["patient_id", "day"])
    sessions[["patient_id", "day", "kind"]].to_csv(folder / "sessions.csv", index=False)
