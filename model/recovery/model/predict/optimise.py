"""The cheapest schedule that keeps P(score <= target at the horizon) at or above a level.

Candidates: an intensive phase (every 2, 3.5 or 7 days for 2-8 weeks) followed by maintenance
every 14, 21 or 28 days, or nothing, up to the horizon; plus steady weekly or fortnightly care
and no care. All are scored on the same posterior draws as one forecast.
"""

from __future__ import annotations

import numpy as np

from recovery.model.data.schedules import Phase
from recovery.model.predict.forecast import (
    Forecaster,
    baseline_of,
    forecast_days,
    paths,
    residual_quantiles,
    session_plan,
    summarise,
)
from recovery.model.requests import OptimiseRequest, OptimiseResponse, ScheduleSpec, Summary

__all__ = ["candidate_schedules", "optimise", "scored"]

INTENSIVE_EVERY = (2.0, 3.5, 7.0)
INTENSIVE_WEEKS = (2, 4, 6, 8)
MAINTENANCE_EVERY = (None, 14.0, 21.0, 28.0)
GUIDED_AT = (3.0, 4.0, 5.0)  # symptom-guided candidates: come back when pain reaches these


def candidate_schedules(kind: str, horizon_days: int) -> list[ScheduleSpec]:
    """The search grid over intensive frequency/length and maintenance interval, and
    symptom-guided care at a few thresholds."""
    weeks_total = horizon_days / 7.0
    out = [ScheduleSpec(name="none")]
    for every in (7.0, 14.0):
        out.append(ScheduleSpec(name=f"every {every:g} d", phases=[
            Phase(kind=kind, every_days=every, weeks=weeks_total)]))
    for every in INTENSIVE_EVERY:
        for weeks in INTENSIVE_WEEKS:
            if weeks >= weeks_total:
                continue
            for m in MAINTENANCE_EVERY:
                rest = Phase(kind=kind, every_days=m, weeks=weeks_total - weeks)
                label = "then stop" if m is None else f"then every {m:g} d"
                out.append(ScheduleSpec(name=f"every {every:g} d for {weeks} wk, {label}",
                                        phases=[Phase(kind=kind, every_days=every, weeks=weeks),
                                                rest]))
    out += [ScheduleSpec(name=f"when pain reaches {x:g}", kind=kind, book_above=x)
            for x in GUIDED_AT]
    return out


def scored(fc: Forecaster, req: OptimiseRequest, specs: list[ScheduleSpec]
           ) -> list[tuple[ScheduleSpec, Summary, np.ndarray]]:
    """Each schedule's summary and per-draw expected score on the horizon's last day, all on
    the same posterior draws and residuals."""
    rng = np.random.default_rng(req.seed)
    patient, post, _ = fc.patient(req.patient, req.history, req.start_day, req.draws, rng)
    eps = residual_quantiles(len(post), rng)
    out = []
    baseline = None
    for spec in specs:
        plan = session_plan(spec, post, patient, req.start_day, req.horizon_days, fc.config,
                            fc.kinds)
        days = forecast_days(req.start_day, req.horizon_days, plan)
        p = paths(post, patient, plan, days, req.horizon_days + 1, fc.config, fc.kinds)
        baseline = baseline_of(patient, p.mu[:, 0]) if baseline is None else baseline
        f, _ = summarise(p, eps, req.target_score, baseline, req.prices)
        out.append((spec, f.summary, np.clip(p.m[:, req.horizon_days], 0.0, 10.0)))
    return out


def optimise(fc: Forecaster, req: OptimiseRequest) -> OptimiseResponse:
    """Score every candidate; pick the cheapest (or fewest sessions) that reaches the level."""
    summaries = [(spec, s) for spec, s, _ in scored(
        fc, req, candidate_schedules(req.kind, req.horizon_days))]
    rows: list[dict[str, float | str]] = [
        {"name": spec.name, "sessions": float(s.sessions), "cost": s.cost,
         "p_target_at_horizon": s.p_target_at_horizon, "mean_pain": s.mean_pain}
        for spec, s in summaries]
    key = "cost" if req.minimise == "cost" else "sessions"
    ok = [i for i, r in enumerate(rows) if float(r["p_target_at_horizon"]) >= req.level]
    best = min(ok, key=lambda i: (rows[i][key], rows[i]["mean_pain"])) if ok else None
    return OptimiseResponse(
        best=summaries[best][0] if best is not None else None,
        best_summary=summaries[best][1] if best is not None else None,
        candidates=sorted(rows, key=lambda r: (r[key], r["mean_pain"])),
        model_version=fc.model_version)
