"""Plans a therapist proposes to a patient, and past forecasts set against what happened."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from fastapi import APIRouter, Response
from sqlalchemy import select

from recovery.model import QUANTILE_KEYS, band_scores
from recovery.service.api.deps import (
    COMMON_RESPONSES,
    CurrentUser,
    DbSession,
    State,
    Therapist,
    patient_for,
    refuse_unknown_kinds,
)
from recovery.service.errors import NotFoundError
from recovery.service.schemas import PlanIn, PlanOut
from recovery.service.stored_forecast import StoredForecast, StoredSchedule
from recovery.service.tables import ForecastRow, PainRow, PlanRow

router = APIRouter(prefix="/v1/patients", tags=["plans"], responses=COMMON_RESPONSES)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such record or item"}}


@router.post("/{patient_id}/plans", response_model=PlanOut, status_code=201,
             responses=NOT_FOUND)
def propose_plan(patient_id: str, body: PlanIn, s: DbSession, user: Therapist, state: State
                 ) -> PlanOut:
    """Save a schedule to the record; the patient sees it beside the presets."""
    patient_for(s, user, patient_id, write=True)
    spec = body.schedule
    refuse_unknown_kinds(state, [(("schedule", "kind"), spec.kind)] + [
        (("schedule", "phases", i, "kind"), p.kind) for i, p in enumerate(spec.phases or [])])
    row = PlanRow(patient_id=patient_id, name=spec.name, created_by=user.id,
                  spec={"schedule": spec.model_dump(exclude_none=True), "note": body.note})
    s.add(row)
    s.flush()
    return _plan_out(row)


@router.get("/{patient_id}/plans", response_model=list[PlanOut], responses=NOT_FOUND)
def plans(patient_id: str, s: DbSession, user: CurrentUser) -> list[PlanOut]:
    """The plans proposed for this patient, newest first."""
    patient_for(s, user, patient_id)
    rows = s.scalars(select(PlanRow).where(PlanRow.patient_id == patient_id)
                     .order_by(PlanRow.created_at.desc()))
    return [_plan_out(r) for r in rows]


@router.delete("/{patient_id}/plans/{plan_id}", status_code=204, responses=NOT_FOUND)
def withdraw_plan(patient_id: str, plan_id: str, s: DbSession, user: Therapist) -> Response:
    """Withdraw a proposed plan."""
    patient_for(s, user, patient_id, write=True)
    row = s.get(PlanRow, plan_id)
    if row is None or row.patient_id != patient_id:
        raise NotFoundError("plan_id: no such plan in this record")
    s.delete(row)
    return Response(status_code=204)


@router.get("/{patient_id}/forecasts/{forecast_id}/outcome", responses=NOT_FOUND)
def outcome(patient_id: str, forecast_id: str, s: DbSession, user: CurrentUser
            ) -> dict[str, Any]:
    """A past forecast beside the scores recorded since: per schedule its median and bands,
    the actual scores in its window, and how many fell inside the 50 % and 90 % bands."""
    patient_for(s, user, patient_id)
    row = s.get(ForecastRow, forecast_id)
    if row is None or row.patient_id != patient_id:
        raise NotFoundError("forecast_id: no such forecast in this record")
    stored = StoredForecast.of(row.response)
    first, last = stored.days[0], stored.days[-1]
    actual = s.execute(select(PainRow.day, PainRow.score).where(
        PainRow.patient_id == patient_id, PainRow.day >= first, PainRow.day <= last)
        .order_by(PainRow.day)).all()
    return {"forecast_id": row.id, "created_at": row.created_at.isoformat() + "Z",
            "model_version": row.model_version,
            "actual": [{"day": d, "score": v} for d, v in actual],
            "schedules": [_against(f, actual) for f in stored.forecasts]}


def _against(f: StoredSchedule, actual: Sequence[Any]) -> dict[str, Any]:
    """One schedule's bands on the days scores were recorded, and the share inside them."""
    q = np.array([f.quantiles_on(d) for d, _ in actual]).reshape(len(actual), len(QUANTILE_KEYS))
    scored = band_scores(q, np.asarray([v for _, v in actual], dtype=float))
    share = {b: float(scored[f"in_{b}"].mean()) if len(actual) else None for b in ("50", "90")}
    return {"name": f.name, "days": f.days, "quantiles": f.quantiles,
            "inside_50": share["50"], "inside_90": share["90"]}


def _plan_out(r: PlanRow) -> PlanOut:
    return PlanOut(id=r.id, name=r.name, schedule=r.spec["schedule"], note=r.spec["note"],
                   created_at=r.created_at)
