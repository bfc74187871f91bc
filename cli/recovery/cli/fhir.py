"""`recovery fhir`: a clinic's FHIR transaction Bundle into a therapist's records, and a
record out as a FHIR Bundle, on the service's database (RECOVERY_DATABASE_URL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from recovery.cli.common import ModelDir, fail, forecaster_at, out, settings_of, write_out

app = typer.Typer(help="FHIR R4 in and out.", no_args_is_help=True)


@app.command("import")
def fhir_import(
    bundle: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                           help="a transaction or batch Bundle (JSON)")],
    therapist: Annotated[str, typer.Option(help="the username whose records take it")],
    model_dir: ModelDir,
) -> None:
    """Store a Bundle in a therapist's records (a transaction all or nothing, a batch entry
    by entry); each problem is named by where it is in the Bundle."""
    from recovery.service.accounts import by_name
    from recovery.service.db import Database
    from recovery.service.errors import ServiceError
    from recovery.service.fhir.inbound import read_bundle
    from recovery.service.fhir.problems import FhirError
    from recovery.service.fhir.store import Context, store_plan
    from recovery.service.settings import Settings

    try:
        doc = json.loads(bundle.read_bytes())
    except (ValueError, UnicodeDecodeError, RecursionError):
        fail(f"{bundle} is not JSON")
    settings = settings_of(Settings)
    fc = forecaster_at(model_dir)
    db = Database(settings.database_url)
    db.migrate()
    try:
        plan = read_bundle(doc, f"{settings.public_url}/fhir")
        with db.session() as s:
            user = by_name(s, therapist)
            if user.role != "therapist":
                fail(f"{therapist!r} is a {user.role}; records belong to therapists")
            ctx = Context(user.id, settings.today(), fc.kinds, fc.config.covariates.get("age"))
            answer, records = store_plan(s, ctx, plan)
    except FhirError as exc:
        fail("the Bundle was not stored:\n" + "\n".join(f"  {w}: {m}" for w, m in exc.problems))
    except ServiceError as exc:
        fail(str(exc))
    finally:
        db.close()
    statuses = [e["response"]["status"] for e in answer["entry"]]
    made = sum(x.startswith("201") for x in statuses)
    refused = sum(x[0] in "45" for x in statuses)
    out.print(f"[green]stored[/] {made} new of {len(statuses)} entries ({refused} refused) in "
              f"{len(records)} record(s): {', '.join(records)}")


@app.command("export")
def fhir_export(
    patient: Annotated[str, typer.Option(help="the record's id")],
    out_json: Annotated[Path | None, typer.Option("--out", help="write the Bundle here")] = None,
) -> None:
    """A record with its scores, sessions, forecasts and plans as a FHIR Bundle."""
    from recovery.service.db import Database
    from recovery.service.fhir.search import everything
    from recovery.service.settings import Settings
    from recovery.service.tables import Patient

    settings = settings_of(Settings)
    db = Database(settings.database_url)
    db.migrate()
    try:
        with db.session() as s:
            record = s.get(Patient, patient) if "\x00" not in patient else None
            if record is None:
                fail(f"no record {patient!r}")
            doc = everything(s, record, f"{settings.public_url}/fhir")
    finally:
        db.close()
    if out_json is None:
        print(json.dumps(doc, indent=1))
    else:
        write_out(out_json, json.dumps(doc, indent=1))
