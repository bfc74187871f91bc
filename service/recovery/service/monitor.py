"""The drift monitor: every score recorded after a forecast of the served model is scored
against that forecast (the latest one made before the score was entered, for the schedule
whose planned sessions match the sessions since best), then summarised by week and by
therapist, with an alert when the last RECENT_DAYS' scores fall outside the bands more (or
less) often than the forecasts said they would, beyond chance."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from recovery.model import BANDS, QUANTILE_KEYS, band_scores, drift_verdict
from recovery.model.requests import Calibration
from recovery.service.record_calendar import RecordCalendar, calendar_of
from recovery.service.schemas import MonitorOut, MonitorWindow
from recovery.service.stored_forecast import StoredForecast
from recovery.service.tables import (
    ForecastRow,
    ModelRow,
    PainRow,
    Patient,
    Served,
    SessionRow,
    User,
)

__all__ = ["RECENT_DAYS", "drift_report", "judge", "reference_of", "scored_entries",
           "served_report"]

RECENT_DAYS = 28  # the window judged: the same length whatever the weekday
MIN_SCORES = 30  # fewer recent scores than this raise no alert
MIN_PATIENTS = 5


def scored_entries(s: Session, model_version: str, reference: tuple[float, float]
                   ) -> pd.DataFrame:
    """One row per score entered after a forecast of this model that covers its day: its
    band quantiles and the probabilities the forecast gave its 50 % and 90 % bands
    (`reference` for forecasts stored before they were recorded)."""
    rows = s.execute(select(ForecastRow, Patient, User.username)
                     .join(Patient, Patient.id == ForecastRow.patient_id)
                     .join(User, User.id == Patient.therapist_id)
                     .where(ForecastRow.model_version == model_version)
                     .order_by(ForecastRow.created_at)).all()
    forecasts: dict[str, list[StoredForecast]] = defaultdict(list)
    made_at: dict[str, list[datetime]] = defaultdict(list)
    who: dict[str, tuple[str, RecordCalendar]] = {}
    for f, p, therapist in rows:
        forecasts[p.id].append(StoredForecast.of(f.response))
        made_at[p.id].append(f.created_at)
        who[p.id] = (therapist, calendar_of(p))
    if not forecasts:
        return pd.DataFrame()
    ids = list(forecasts)
    sessions: dict[str, list[float]] = defaultdict(list)
    for pid, day in s.execute(select(SessionRow.patient_id, SessionRow.day)
                              .where(SessionRow.patient_id.in_(ids))):
        sessions[pid].append(day)
    out = []
    for pid, day, score, entered in s.execute(
            select(PainRow.patient_id, PainRow.day, PainRow.score, PainRow.created_at)
            .where(PainRow.patient_id.in_(ids))):
        i = bisect_left(made_at[pid], entered) - 1
        if i < 0 or (on := forecasts[pid][i].bands_on(day, sessions[pid])) is None:
            continue
        therapist, calendar = who[pid]
        q, given = on
        out.append({"patient": pid, "therapist": therapist, "date": calendar.date_of(day),
                    "score": score, **dict(zip(QUANTILE_KEYS, q, strict=True)),
                    **{f"p_{b}": given.get(b, ref) for b, ref in zip(BANDS, reference,
                                                                      strict=True)}})
    return pd.DataFrame(out)


def reference_of(cal: Calibration | None) -> tuple[float, float]:
    """The 50 % and 90 % bands' coverage on held-out patients, when the model was evaluated;
    else their nominal levels (the reference for forecasts that did not record their own)."""
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
    the scores of the last RECENT_DAYS miss the bands as often as their forecasts expected."""
    frame = scored_entries(s, model_version, reference)
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
    recent = frame[frame["date"] > today - timedelta(days=RECENT_DAYS)]
    out = empty.model_copy(update={
        "scores": len(shown),
        "weeks": [_window(str(w), g) for w, g in shown.groupby("week")],
        "therapists": [_window(str(t), g) for t, g in shown.groupby("therapist")],
        "recent": _window(f"last {RECENT_DAYS} days", recent) if len(recent) else None,
        "reasons": []})
    return out.model_copy(update=judge(recent))


def judge(recent: pd.DataFrame) -> dict[str, Any]:
    """The monitor's verdict on the recent scores (one row each: patient, in_50, in_90, p_50,
    p_90): judged or not, alert and refit suggestion, and the reasons in words."""
    if len(recent) < MIN_SCORES or recent["patient"].nunique() < MIN_PATIENTS:
        return {"reasons": [f"Too few recent scores to judge ({len(recent)} from "
                            f"{recent['patient'].nunique()} patients; an alert needs "
                            f"{MIN_SCORES} from {MIN_PATIENTS})."]}
    verdict = drift_verdict({b: recent[f"in_{b}"].to_numpy() for b in BANDS},
                            {b: recent[f"p_{b}"].to_numpy() for b in BANDS},
                            recent["patient"].to_numpy())
    held = [f"The {b} % bands held {c.coverage:.0%} of recent scores; their forecasts "
            f"expected {c.reference:.0%}." for b, c in verdict.bands.items()]
    if not verdict.drifted:
        return {"judged": True, "reasons": [*held, "That is within what chance allows."]}
    more = "more" if verdict.gap > 0 else "less"
    return {"judged": True, "alert": True, "refit_suggested": True,
            "reasons": [*held, f"Scores fall outside the bands {more} often than expected "
                        f"({abs(verdict.z):.1f} standard errors): the patients now seen differ "
                        "from those the model was fitted on, and a refit on recent data is "
                        "suggested."]}
