"""How long a transaction Bundle of 2,200 pain Observations is read and checked (no lock
held) and then written (SQLite's writer lock held): `python bench/fhir_bundle.py`.
Figures in docs/decisions/0016-fhir-a-clinic-can-rely-on.md."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from recovery.service.accounts import create
from recovery.service.db import Database
from recovery.service.fhir.inbound import read_bundle
from recovery.service.fhir.store import Context, store_plan
from recovery.service.schemas import UserIn

DISPLAY = "Pain severity - 0-10 verbal numeric rating [Score] - Reported"


def bundle(n: int = 2200) -> dict[str, Any]:
    """A Patient and n scores, each with an identifier, a fullUrl and a display."""
    entries: list[dict[str, Any]] = [{"fullUrl": "urn:uuid:p", "resource": {
        "resourceType": "Patient", "identifier": [{"system": "urn:m", "value": "M1"}],
        "name": [{"text": "A B"}]}, "request": {"method": "POST", "url": "Patient"}}]
    entries += [{"fullUrl": f"urn:uuid:o{i}", "resource": {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:obs", "value": f"o{i}"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3",
                             "display": DISPLAY}]},
        "subject": {"reference": "urn:uuid:p"},
        "effectiveDateTime": f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}T09:30:00+01:00",
        "valueInteger": i % 11}, "request": {"method": "POST", "url": "Observation"}}
        for i in range(n)]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def main() -> None:
    """Three runs: the first creates every score, the next two find them stored."""
    doc = bundle()
    print(f"{len(json.dumps(doc)):,} bytes")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.migrate()
        with db.session() as s:
            uid = create(s, UserIn(username="t1", password="correct horse battery",
                                   role="therapist")).id  # type: ignore[arg-type]
        for run in range(3):
            t0 = time.perf_counter()
            plan = read_bundle(doc, "http://localhost:8000/fhir")
            t1 = time.perf_counter()
            with db.session() as s:
                store_plan(s, Context(uid, date(2026, 2, 27), ["massage", "physio"]), plan)
            t2 = time.perf_counter()
            print(f"run {run}: read and check {t1 - t0:.2f} s (no lock), "
                  f"write transaction {t2 - t1:.2f} s")
        db.close()


if __name__ == "__main__":
    main()
