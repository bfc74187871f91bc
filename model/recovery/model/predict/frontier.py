"""The sessions-vs-pain frontier: a family of schedules (frequency, length of the recovery
phase, maintenance interval, tapers, steady care) scored on the same posterior draws, with the
schedules no other beats on both cost and pain at the horizon marked."""

from __future__ import annotations

import numpy as np

from recovery.model.data.schedules import Phase
from recovery.model.predict.forecast import Forecaster
from recovery.model.predict.optimise import candidate_schedules, scored
from recovery.model.requests import (
    FrontierPoint,
    FrontierResponse,
    OptimiseRequest,
    ScheduleSpec,
)

__all__ = ["family", "frontier", "non_dominated"]

TAPERS = ((7.0, 14.0, 28.0), (3.5, 7.0, 14.0), (3.5, 14.0, None), (7.0, 14.0, None))


def family(kind: str, horizon_days: int) -> list[ScheduleSpec]:
    """The optimiser's candidates, tapers, and steady care every 3.5 to 28 days."""
    weeks = horizon_days / 7.0
    out = candidate_schedules(kind, horizon_days)
    for every in (3.5, 10.5, 21.0, 28.0, 42.0):
        out.append(ScheduleSpec(name=f"every {every:g} d", phases=[
            Phase(kind=kind, every_days=every, weeks=weeks)]))
    for a, b, c in TAPERS:
        if weeks <= 8:
            break
        last = "stop" if c is None else f"every {c:g} d"
        out.append(ScheduleSpec(name=f"taper every {a:g} d, {b:g} d, then {last}", phases=[
            Phase(kind=kind, every_days=a, weeks=4), Phase(kind=kind, every_days=b, weeks=4),
            Phase(kind=kind, every_days=c, weeks=weeks - 8)]))
    return out


def non_dominated(cost: np.ndarray, pain: np.ndarray) -> np.ndarray:
    """True where no other point has cost <= and pain <= with one of them strictly lower."""
    le = (cost[None, :] <= cost[:, None]) & (pain[None, :] <= pain[:, None])
    lt = (cost[None, :] < cost[:, None]) | (pain[None, :] < pain[:, None])
    return np.asarray(~(le & lt).any(axis=1))


def frontier(fc: Forecaster, req: OptimiseRequest) -> FrontierResponse:
    """Every schedule of the family on the same draws; the non-dominated ones marked."""
    rows = scored(fc, req, family(req.kind, req.horizon_days))
    by = "cost" if req.minimise == "cost" else "sessions"
    spend = np.array([float(getattr(s, by)) for _, s, _ in rows])
    pain = np.array([float(x.mean()) for _, _, x in rows])
    keep = non_dominated(spend, np.round(pain, 2))
    points = [FrontierPoint(
        schedule=spec, sessions=s.sessions, cost=s.cost, pain_at_horizon=round(float(x.mean()), 3),
        pain_lo=round(float(np.quantile(x, 0.05)), 3),
        pain_hi=round(float(np.quantile(x, 0.95)), 3),
        p_target_at_horizon=s.p_target_at_horizon, on_frontier=bool(k))
        for (spec, s, x), k in zip(rows, keep, strict=True)]
    points.sort(key=lambda q: (getattr(q, by), q.pain_at_horizon))
    return FrontierResponse(points=points, minimise=req.minimise, model_version=fc.model_version)
