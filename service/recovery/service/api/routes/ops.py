"""Liveness, readiness and Prometheus metrics (no authentication; no patient data)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from recovery.service.api.deps import State
from recovery.service.monitor import drift_report, reference_of
from recovery.service.tables import Job

router = APIRouter(tags=["operations"])
DRIFT_EVERY_S = 300.0


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready"}})
def readyz(state: State) -> JSONResponse:
    """Ready when the model is loaded and the database answers."""
    checks = {"model": state.registry.current is not None, "database": True}
    try:
        with state.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        checks["database"] = False
    ok = all(checks.values())
    loaded = state.registry.current
    return JSONResponse({"ready": ok, **checks,
                         "model_version": loaded.model_id if loaded else None},
                        status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response)
def metrics(state: State) -> Response:
    """Prometheus text format: requests, latencies, forecast time, jobs by status, and the
    drift monitor's recent coverage, quantile score and refit flag (recomputed at most every
    DRIFT_EVERY_S: it reads every forecast of the served model)."""
    m = state.metrics
    with state.db.reading() as s:
        counts = dict(s.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        _drift_gauges(state, s)
    for status in ("queued", "running", "succeeded", "failed"):
        m.jobs.labels(status).set(counts.get(status, 0))
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


def _drift_gauges(state: State, s: Session) -> None:
    m, loaded = state.metrics, state.registry.current
    if loaded is None or (m.drift_of == loaded.model_id
                          and time.monotonic() - m.drift_at < DRIFT_EVERY_S):
        return
    drift = drift_report(s, loaded.model_id, reference_of(loaded.forecaster.calibration),
                         state.settings.today())
    m.drift_of, m.drift_at = loaded.model_id, time.monotonic()
    if drift.recent is not None:
        m.coverage.labels("50").set(drift.recent.coverage_50)
        m.coverage.labels("90").set(drift.recent.coverage_90)
        m.quantile_score.set(drift.recent.crps)
    m.refit.set(int(drift.refit_suggested))
