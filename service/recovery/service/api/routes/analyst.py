"""Analysts: upload cohorts, start refits, follow jobs, inspect and promote model versions.

No identified patient records here: cohorts are research tables with pseudonymous ids.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import FileResponse
from pyarrow import parquet as pq
from sqlalchemy import select

from recovery.model import CASES, Cohort, Forecaster, PhenomenaReport, write_phenomena_report
from recovery.model.requests import NO_CONTROL, Calibration
from recovery.service.api.deps import COMMON_RESPONSES, DbSession, State, require, served, settle
from recovery.service.api.errors import run_model, unprocessable
from recovery.service.auth import Role
from recovery.service.claims import kept_report, report_dir
from recovery.service.errors import ConflictError, NotFoundError, TooLargeError
from recovery.service.fhir.bulk import write_cohort_tables
from recovery.service.fhir.inbound import FhirError
from recovery.service.monitor import drift_report, reference_of
from recovery.service.schemas import CohortOut, FitIn, JobOut, ModelOut, MonitorOut
from recovery.service.tables import CohortRow, Job, ModelRow, Served, User

router = APIRouter(prefix="/v1", tags=["cohorts, fits and models"], responses=COMMON_RESPONSES)
Analyst = Annotated[User, Depends(require(Role.analyst))]
SUFFIXES = (".csv", ".parquet")
NARROW_BY = 0.05  # bands holding this much less than their level are too narrow to serve


@router.post("/cohorts", response_model=CohortOut, status_code=201,
             responses={422: {"description": "every problem by file, row and column"}})
def upload_cohort(state: State, s: DbSession, user: Analyst,
                  patients: Annotated[UploadFile, File(description="patients.csv|parquet")],
                  sessions: Annotated[UploadFile, File(description="sessions.csv|parquet")],
                  pain: Annotated[UploadFile, File(description="pain.csv|parquet")],
                  name: Annotated[str, Form(min_length=1, max_length=120,
                                            pattern=NO_CONTROL)] = "cohort",
                  ) -> CohortOut:
    """Validate the three tables; store them only when every row is valid."""
    settle(s)  # reading and checking the files holds no transaction
    with tempfile.TemporaryDirectory() as tmp:
        for table, upload in (("patients", patients), ("sessions", sessions), ("pain", pain)):
            suffix = Path(upload.filename or "").suffix.lower() or ".csv"
            if suffix not in SUFFIXES:
                raise unprocessable([{"loc": ["body", table], "msg": f"{upload.filename}: "
                                      "send CSV or Parquet", "type": "value_error"}])
            path = Path(tmp) / f"{table}{suffix}"
            with open(path, "wb") as f:
                shutil.copyfileobj(upload.file, f)
            _check_rows(table, path, state.settings.max_upload_rows)
        cohort = run_model(lambda: Cohort.load(tmp))
    return _stored(state, s, user, name, cohort)


@router.post("/cohorts/fhir", response_model=CohortOut, status_code=201, responses={
    422: {"description": "every problem by file and line, or by table, row and column"}})
def upload_fhir_cohort(state: State, s: DbSession, user: Analyst,
                       files: Annotated[list[UploadFile], File(
                           description="a FHIR Bulk Data export: NDJSON of Patient, "
                                       "Observation and Procedure resources")],
                       name: Annotated[str, Form(min_length=1, max_length=120,
                                                 pattern=NO_CONTROL)] = "fhir cohort",
                       ) -> CohortOut:
    """A Bulk Data export as a cohort: pain Observations and massage or physiotherapy
    Procedures, each patient under a pseudonym, day 0 at their first entry."""
    settle(s)
    data = {Path(f.filename or f"file{i}").name: f.file.read() for i, f in enumerate(files)}
    for fname, content in data.items():
        if content.count(b"\n") > state.settings.max_upload_rows:
            raise TooLargeError(f"{fname}: over the limit of {state.settings.max_upload_rows} "
                                "lines")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            write_cohort_tables(data, Path(tmp))
        except FhirError as exc:
            raise unprocessable([{"loc": ["body", "files"], "msg": f"{where}: {what}",
                                  "type": "value_error"} for where, what in exc.problems]
                                ) from None
        cohort = run_model(lambda: Cohort.load(tmp))
    return _stored(state, s, user, name, cohort)


def _stored(state: State, s: DbSession, user: User, name: str, cohort: Cohort) -> CohortOut:
    """A validated cohort saved under the service's cohorts folder and registered."""
    row = CohortRow(name=name, path="", fingerprint=cohort.fingerprint(),
                    n_patients=len(cohort.patients), n_sessions=len(cohort.sessions),
                    n_scores=len(cohort.pain), created_by=user.id)
    s.add(row)
    s.flush()
    row.path = str(state.settings.cohorts_dir / row.id)
    cohort.save(Path(row.path))
    return CohortOut.model_validate(row)


def _check_rows(table: str, path: Path, limit: int) -> None:
    """413 for a table over the upload row limit, counted before anything is parsed."""
    if path.suffix == ".parquet":
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception:
            return  # not Parquet after all: Cohort.load reports the file as unreadable
    else:
        with open(path, "rb") as f:
            rows = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) - 1
    if rows > limit:
        raise TooLargeError(f"{table}: {rows} rows, over the limit of {limit} per table")


@router.get("/cohorts", response_model=list[CohortOut])
def list_cohorts(s: DbSession, _: Analyst) -> list[CohortOut]:
    """The stored cohorts, oldest first."""
    rows = s.scalars(select(CohortRow).order_by(CohortRow.created_at))
    return [CohortOut.model_validate(c) for c in rows]


@router.post("/fits", response_model=JobOut, status_code=202,
             responses={404: {"description": "no such cohort"}})
def start_fit(body: FitIn, s: DbSession, user: Analyst) -> JobOut:
    """Queue a refit; a `recovery worker` process claims it. Poll GET /v1/jobs/{id}."""
    if s.get(CohortRow, body.cohort_id) is None:
        raise NotFoundError("cohort_id: no such cohort")
    job = Job(cohort_id=body.cohort_id, params=body.model_dump(exclude={"cohort_id"}),
              created_by=user.id, message="queued")
    s.add(job)
    s.flush()
    return job_out(s, job)


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(s: DbSession, _: Analyst) -> list[JobOut]:
    """The latest refit jobs, newest first."""
    return [job_out(s, j) for j in s.scalars(select(Job).order_by(Job.created_at.desc())
                                              .limit(100))]


@router.get("/jobs/{job_id}", response_model=JobOut, responses={404: {"description": "none"}})
def get_job(job_id: str, s: DbSession, _: Analyst) -> JobOut:
    """One refit job, with its model's diagnostics when it has one."""
    job = s.get(Job, job_id)
    if job is None:
        raise NotFoundError("job_id: no such job")
    return job_out(s, job)


@router.get("/models", response_model=list[ModelOut])
def list_models(s: DbSession, state: State, _: Analyst) -> list[ModelOut]:
    """Every model version, newest first, and which one is served."""
    served = state.registry.served_id(s)
    return [_model_out(m, served) for m in s.scalars(select(ModelRow)
                                                     .order_by(ModelRow.created_at.desc()))]


@router.get("/models/{model_id}", response_model=ModelOut,
            responses={404: {"description": "none"}})
def get_model(model_id: str, s: DbSession, state: State, _: Analyst) -> ModelOut:
    """One model version."""
    row = s.get(ModelRow, model_id)
    if row is None:
        raise NotFoundError("model_id: no such model")
    return _model_out(row, state.registry.served_id(s))


PLOTS = {"ppc.png", "population.png", "trace.png"}


def _phenomena_dir(state: State, model_id: str) -> Path:
    """Where the service keeps a model's phenomena report."""
    return report_dir(Path(state.settings.models_dir), model_id)


@router.get("/models/{model_id}/plots/{name}", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}}},
                       404: {"description": "no such model or plot"}})
def model_plot(model_id: str, name: str, s: DbSession, _: Analyst) -> FileResponse:
    """A model's diagnostic plots: ppc.png, population.png, trace.png."""
    row = s.get(ModelRow, model_id)
    path = Path(row.path) / name if row is not None and name in PLOTS else None
    if path is None or not path.is_file():
        raise NotFoundError("name: no such plot for this model (ppc.png, population.png, "
                            "trace.png), or no such model")
    return FileResponse(path, media_type="image/png")


@router.get("/models/{model_id}/phenomena", response_model=PhenomenaReport,
            responses={404: {"description": "no such model"}})
def model_phenomena(model_id: str, s: DbSession, state: State, _: Analyst) -> PhenomenaReport:
    """The phenomena report of a model (does it tell the articles' story?): run once, about
    a minute, then kept beside the service's models."""
    row = s.get(ModelRow, model_id)
    if row is None:
        raise NotFoundError("model_id: no such model")
    kept = kept_report(Path(state.settings.models_dir), model_id, None)  # with its charts
    if kept is not None:
        return kept
    out, path = _phenomena_dir(state, model_id), row.path
    settle(s)  # about a minute of forecasting: no transaction held meanwhile
    return run_model(lambda: write_phenomena_report(Forecaster.from_directory(path), out))


@router.get("/models/{model_id}/phenomena/{key}.png", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}}},
                       404: {"description": "no such model or chart (run the report first)"}})
def phenomena_chart(model_id: str, key: str, state: State, _: Analyst) -> FileResponse:
    """One case's chart from a model's phenomena report."""
    path = _phenomena_dir(state, model_id) / f"{key}.png"
    if key not in {c.key for c in CASES} or not path.is_file():
        raise NotFoundError("key: no such phenomena chart for this model (run the report "
                            "first), or no such model")
    return FileResponse(path, media_type="image/png")


@router.post("/models/{model_id}/promote", response_model=ModelOut, responses={
    404: {"description": "none"},
    409: {"description": "diagnostics failed, or bands too narrow on held-out patients"}})
def promote(model_id: str, s: DbSession, state: State, _: Analyst,
            accept_narrow_bands: Annotated[bool, Query(
                description="serve it although its bands held too few held-out scores")] = False,
            ) -> ModelOut:
    """Serve this version from now on (every process switches within seconds, no restart).
    A model whose bands held too few held-out scores is served only when asked twice."""
    row = s.get(ModelRow, model_id)
    if row is None:
        raise NotFoundError("model_id: no such model")
    if not row.passed:
        problems = "; ".join(row.diagnostics.get("problems", []))
        raise ConflictError(f"model {model_id} failed its diagnostics and cannot be served: "
                            f"{problems}")
    if (narrow := _model_out(row, None).narrow_bands) and not accept_narrow_bands:
        raise ConflictError(f"model {model_id}'s {narrow}: its forecasts would claim more "
                            "certainty than they have. Promote with accept_narrow_bands=true "
                            "to serve it anyway.")
    state.registry.promote(model_id, s)
    return _model_out(row, model_id)


def too_narrow(cal: Calibration) -> str | None:
    """What is wrong when a model's bands held fewer held-out scores than their level less
    NARROW_BY (whole-point scores make honest bands hold more than their level, not less)."""
    short = [f"{level:.0%} bands held {held:.0%} of held-out scores"
             for level, held in ((0.5, cal.coverage_50), (0.9, cal.coverage_90))
             if held < level - NARROW_BY]
    return " and its ".join(short) or None


@router.post("/models/rollback", response_model=ModelOut,
             responses={409: {"description": "no previously served model"}})
def rollback(s: DbSession, state: State, _: Analyst) -> ModelOut:
    """Serve the model served before the last promotion again (a rollback can be undone by
    another rollback)."""
    served = s.get(Served, 1)
    previous = served.previous_model_id if served else None
    row = s.get(ModelRow, previous) if previous else None
    if row is None:
        raise ConflictError("no previously served model to go back to")
    state.registry.promote(row.id, s)
    return _model_out(row, row.id)


def job_out(s: DbSession, job: Job) -> JobOut:
    """A job as the API shows it, with its model's diagnostics."""
    diag = None
    if job.model_id:
        model = s.get(ModelRow, job.model_id)
        diag = model.diagnostics if model else None
    return JobOut.model_validate(job).model_copy(update={"diagnostics": diag})


def _model_out(m: ModelRow, served: str | None) -> ModelOut:
    narrow = too_narrow(Calibration.from_report(m.evaluation)) if m.evaluation else None
    return ModelOut.model_validate(m).model_copy(update={"served": m.id == served,
                                                         "narrow_bands": narrow})


@router.get("/monitor", response_model=MonitorOut)
def monitor(state: State, s: DbSession, _: Analyst,
            weeks: Annotated[int, Query(ge=1, le=104)] = 12) -> MonitorOut:
    """The served model's forecasts scored against the scores entered after them: coverage of
    the 50 % and 90 % bands and the quantile score by week and by therapist, and an alert with
    a refit suggestion when recent coverage leaves what chance allows."""
    loaded = served(state)
    settle(s)
    with state.db.reading() as r:
        return drift_report(r, loaded.model_id, reference_of(loaded.forecaster.calibration),
                            state.settings.today(), weeks)
