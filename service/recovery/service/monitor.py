"""The drift monitor: every score recorded after a forecast of the served model is scored
against that forecast (the latest one made before the score was entered, for the schedule
whose planned sessions match the sessions since best), then summarised by week and by
therapist, with an alert when recent coverage leaves the range chance allows."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from recovery.model import QUANTILE_KEYS, band_scores, coverage_check
from recovery.model.requests import Calibration
from recovery.service.schemas import MonitorOut, MonitorWindow
from recovery.service.tables import (
    ForecastRow,
    ModelRow,
    PainRow,
    Patient,
    Served,
    SessionRow,
    User,
)

__all__ = ["RECENT_WEEKS", "drift_report", "reference_of", "scored_entries", "served_report"]

RECENT_WEEKS = 4
MIN_SCORES = 30  # fewer recent scores than this raise no alert
MIN_PATIENTS = 5


def scored_entries(s: Session, model_version: str) -> pd.DataFrame:
    """One row per score entered after a forecast of this model that covers its day."""
    rows = s.execute(select(ForecastRow, Patient, User.username)
                     .join(Patient, Patient.id == ForecastRow.patient_id)
                     .join(User, User.id == Patient.therapist_id)
                     .where(ForecastRow.model_version == model_version)
                     .order_by(ForecastRow.created_at)).all()
    forecasts: dict[str, list[ForecastRow]] = defaultdict(list)
    who: dict[str, tuple[str, date]] = {}
    for f, p, therapist in rows:
        forecasts[p.id].append(f)
        who[p.id] = (therapist, p.start)
    if not forecasts:
        return pd.DataFrame()
    ids = list(forecasts)
    sessions: dict[str, list[float]] = defaultdict(list)
    for pid, day in s.execute(select(SessionRow.patient_id, SessionRow.day)
                              .where(SessionRow.patient_id.in_(ids))):
        sessions[pid].append(day)
    made_at = {pid: [f.created_at for f in made] for pid, made in forecasts.items()}
    out = []
    for pid, day, score, entered in s.execute(
            select(PainRow.patient_id, PainRow.day, PainRow.score, PainRow.created_at)
            .where(PainRow.patient_id.in_(ids))):
        made = forecasts[pid]
        i = bisect_left(made_at[pid], entered) - 1
        if i < 0 or (q := _bands_on(made[i].response, day, sessions[pid])) is None:
            continue
        therapist, start = who[pid]
        out.append({"patient": pid, "therapist": therapist, "date": start + timedelta(
            days=int(day)), "score": score, **dict(zip(QUANTILE_KEYS, q, strict=True))})
    return pd.DataFrame(out)


def _bands_on(response: dict[str, Any], day: float, sessions: list[float]
              ) -> list[float] | None:
    """The five quantiles on `day` of the schedule whose planned session count up to it is
    closest to the sessions given (None when the forecast does not cover the day)."""
    days = response["forecasts"][0]["days"]
    if not days or not days[0] <= day <= days[-1]:
        return None
    given = sum(days[0] <= d < day for d in sessions)
    f = min(response["forecasts"], key=lambda f: abs(
        sum(days[0] <= d < day for d in f["session_days"]) - given))
    at = int(np.clip(np.searchsorted(days, day), 0, len(days) - 1))
    return [f["quantiles"][k][at] for k in QUANTILE_KEYS]


def reference_of(cal: Calibration | None) -> tuple[float, float]:
    """The 50 % and 90 % bands' coverage on held-out patients, when the model was evaluated;
    else their nominal levels."""
    return (0.5, 0.9) if cal is None else (cal.coverage_50, cal.coverage_90)


def served_report(s: Session, today: date, weeks: int = 12) -> MonitorOut | None:
    """The drift report of the model the database says is served (None before any is), with
    the held-out coverage its evaluation recorded as the reference (for the CLI)."""
    model_id = s.scalars(select(Served.model_id).limit(1)).first()
    if model_id is None:
        return None
    ev = s.get(ModelRow, model_id)
    cal = None if ev is None or not ev.evaluation else Calibration.from_report(ev.evaluation)
    return drift_report(s, model_id, reference_of(cal), today, weeks)


def _window(label: str, frame: pd.DataFrame) -> MonitorWindow:
    return MonitorWindow(label=label, scores=len(frame), patients=frame["patient"].nunique(),
                         coverage_50=round(float(frame["in_50"].mean()), 4),
                         coverage_90=round(float(frame["in_90"].mean()), 4),
                         crps=round(float(frame["quantile_score"].mean()), 4))


def drift_report(s: Session, model_version: str, reference: tuple[float, float],
                 today: date, weeks: int = 12) -> MonitorOut:
    """Coverage and quantile score by week (the last `weeks`) and by therapist, and whether
    the last RECENT_WEEKS leave the range around the reference (50 %, 90 %) coverage."""
    frame = scored_entries(s, model_version)
    empty = MonitorOut(model_version=model_version, scores=0, weeks=[], therapists=[],
                       recent=None, reference_50=reference[0], reference_90=reference[1],
                       judged=False, alert=False, refit_suggested=False,
                       reasons=["No scores have been entered after this model's forecasts."])
    if frame.empty:
        return empty
    q = frame[list(QUANTILE_KEYS)].to_numpy(dtype=float)
    frame = frame.assign(**band_scores(q, frame["score"].to_numpy()))
    frame["week"] = [d - timedelta(days=d.weekday()) for d in frame["date"]]
    first_week = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    shown = frame[frame["week"] >= first_week]
    recent = frame[frame["week"] > today - timedelta(days=7 * RECENT_WEEKS)]
    out = empty.model_copy(update={
        "scores": len(shown),
        "weeks": [_window(str(w), g) for w, g in shown.groupby("week")],
        "therapists": [_window(str(t), g) for t, g in shown.groupby("therapist")],
        "recent": _window(f"last {RECENT_WEEKS} weeks", recent) if len(recent) else None,
        "reasons": []})
    return out.model_copy(update=_alert(recent, reference))


def _alert(recent: pd.DataFrame, reference: tuple[float, float]) -> dict[str, Any]:
    if len(recent) < MIN_SCORES or recent["patient"].nunique() < MIN_PATIENTS:
        return {"reasons": [f"Too few recent scores to judge ({len(recent)} from "
                            f"{recent['patient'].nunique()} patients; an alert needs "
                            f"{MIN_SCORES} from {MIN_PATIENTS})."]}
    reasons = []
    for band, ref in (("50", reference[0]), ("90", reference[1])):
        check = coverage_check(recent[f"in_{band}"].to_numpy(), recent["patient"].to_numpy(),
                               ref)
        if not check.ok:
            reasons.append(f"The {band} % bands held {check.coverage:.0%} of recent scores; "
                           f"on held-out patients they held {ref:.0%}, and chance allows "
                           f"{check.low:.0%} to {check.high:.0%}.")
    if not reasons:
        return {"judged": True, "reasons": ["Recent coverage is within what chance allows."]}
    return {"judged": True, "alert": True, "refit_suggested": True,
            "reasons": [*reasons, "The patients now seen differ from those the model was "
                        "fitted on: a refit on recent data is suggested."]}
