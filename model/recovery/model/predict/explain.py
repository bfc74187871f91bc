"""Why a forecast looks as it does: expected pain split into the kernel's parts (natural
course, course relief, short relief, durable gain, soreness) plus the pull of the latest scores,
on the forecast's own draws, from the first record to the horizon."""

from __future__ import annotations

import numpy as np

from recovery.model.data.schedules import SessionPlan
from recovery.model.likelihood.kernel import pain_parts
from recovery.model.predict.forecast import (
    Forecaster,
    column_quantiles,
    forecast_days,
    paths,
    plan_design,
    residual_quantiles,
    session_plan,
)
from recovery.model.predict.update import PatientData, PatientDraws
from recovery.model.requests import Band, ExplainRequest, ExplainResponse

__all__ = ["explain", "relief_fade_days"]

BAND = np.array([0.05, 0.95])
FADE_LEFT = 0.25  # relief counts as faded when a quarter of today's is left
MIN_RELIEF = 0.2  # NRS points of relief worth a fade time


def explain(fc: Forecaster, req: ExplainRequest) -> ExplainResponse:
    """The parts of one schedule's forecast, on the draws and residuals fc.forecast uses."""
    rng = np.random.default_rng(req.seed)
    patient, post, how = fc.patient(req.patient, req.history, req.start_day, req.draws, rng)
    eps = residual_quantiles(len(post), rng)
    start, h = req.start_day, req.horizon_days + 1
    plan = session_plan(req.schedule, post, patient, start, req.horizon_days, fc.config,
                        fc.kinds)
    p = paths(post, patient, plan, forecast_days(start, req.horizon_days, plan), h, fc.config,
              fc.kinds)
    days = np.r_[np.arange(np.ceil(patient.t0), start), p.days[:h]]
    parts = _parts(post, patient, plan, days, fc)
    recent = np.zeros((len(post), len(days)))
    recent[:, -h:] = np.clip(p.m[:, :h] + p.s[:, :h] * eps, 0.0, 10.0) - p.mu[:, :h]
    parts["recent_scores"] = recent
    total: np.ndarray = np.sum(list(parts.values()), axis=0)
    now = len(days) - h
    improvement = total[:, 0] - total[:, now]
    shares = _shares(parts, now, float(improvement.mean()))
    fade = relief_fade_days(post, patient, start, fc)
    return ExplainResponse(
        days=days.tolist(), start_day=start, parts={k: _band(v) for k, v in parts.items()},
        total=np.round(total.mean(axis=0), 4).tolist(),
        improvement=round(float(improvement.mean()), 3), shares=shares,
        relief_fades_days=fade,
        words=_words(float(improvement.mean()), shares, fade, req.since) + " "
        + _ahead(parts, now, req.schedule.name, req.horizon_days),
        model_version=fc.model_version, update=how)


def _parts(post: PatientDraws, patient: PatientData, plan: SessionPlan, days: np.ndarray,
           fc: Forecaster) -> dict[str, np.ndarray]:
    design = plan_design(patient, plan, days, fc.config, fc.kinds)
    return pain_parts(post.globals.params(post.theta), np.array([patient.adherence]), design,
                      fc.config)


def relief_fade_days(post: PatientDraws, patient: PatientData, start: float, fc: Forecaster,
                     window: int = 365) -> float | None:
    """Median days after `start` until relief (course + short) falls to a quarter of its
    level on `start` if no more sessions are given; None with under MIN_RELIEF of relief, or
    when most draws keep it beyond the window."""
    days = start + np.arange(0.0, window + 1.0)
    parts = _parts(post, patient, SessionPlan.of([], ""), days, fc)
    relief = -(parts["course_relief"] + parts["short_relief"])
    if relief[:, 0].mean() < MIN_RELIEF:
        return None
    faded = relief <= FADE_LEFT * relief[:, :1]
    first = np.where(faded.any(axis=1), faded.argmax(axis=1), window + 1)
    median = float(np.median(first))
    return median if median <= window else None


def _band(x: np.ndarray) -> Band:
    lo, hi = column_quantiles(x, BAND)
    return Band(mean=np.round(x.mean(axis=0), 4).tolist(), lo=np.round(lo, 4).tolist(),
                hi=np.round(hi, 4).tolist())


def _shares(parts: dict[str, np.ndarray], now: int, improvement: float) -> dict[str, float]:
    """Each source's share of the improvement from the first record to `now` (mean draws)."""
    change = {k: float((v[:, 0] - v[:, now]).mean()) for k, v in parts.items()}
    by_source = {"natural_course": change["natural_course"],
                 "relief": change["course_relief"] + change["short_relief"],
                 "durable_gain": change["durable_gain"], "soreness": change["soreness"],
                 "recent_scores": change["recent_scores"]}
    if abs(improvement) < 1e-9:
        return dict.fromkeys(by_source, 0.0)
    return {k: round(v / improvement, 3) for k, v in by_source.items()}


WORDS = {"natural_course": "natural recovery", "relief": "relief from the sessions",
         "durable_gain": "lasting gain from exercise"}


# how each source moves pain ahead: (when it lowers pain, when it raises it)
AHEAD = {"relief": ("more relief from the sessions", "the relief from the sessions fading"),
         "natural_course": ("natural recovery", "natural recovery"),
         "durable_gain": ("lasting gain from exercise", "lasting gain from exercise"),
         "soreness": ("soreness after sessions easing", "soreness after sessions"),
         "recent_scores": ("the latest scores' pull fading", "the latest scores' pull fading")}


def _ahead(parts: dict[str, np.ndarray], now: int, schedule: str, horizon: int) -> str:
    """One sentence on this schedule's own future: how expected pain moves from now to the
    horizon, and which part moves it most."""
    change = {k: float((v[:, -1] - v[:, now]).mean()) for k, v in parts.items()}
    by_source = {"relief": change["course_relief"] + change["short_relief"],
                 "natural_course": change["natural_course"],
                 "durable_gain": change["durable_gain"], "soreness": change["soreness"],
                 "recent_scores": change["recent_scores"]}
    total = sum(by_source.values())
    weeks = max(1, round(horizon / 7))
    if abs(total) < 0.2:
        return (f"On {schedule!r}, expected pain holds within 0.2 points over the next "
                f"{weeks} weeks.")
    top = max(by_source, key=lambda k: abs(by_source[k]))
    way = "falls" if total < 0 else "rises"
    return (f"On {schedule!r}, expected pain {way} {abs(total):.1f} points over the next "
            f"{weeks} weeks, mostly through {AHEAD[top][by_source[top] > 0]}.")


def _words(improvement: float, shares: dict[str, float], fade: float | None, since: str
           ) -> str:
    """One or two plain sentences, in points of pain."""
    if improvement < 0.5:
        return (f"Expected pain has not improved by half a point since {since}, so there is "
                "little gain to explain yet.")
    points = {k: shares[k] * improvement for k in shares}
    ranked = [k for k in sorted(WORDS, key=points.__getitem__, reverse=True) if points[k] >= 0.1]
    if not ranked:
        return (f"Expected pain is {improvement:.1f} points lower than at {since}, mostly "
                "because the latest scores are lower than the model expected.")
    top = ranked[0]
    parts = " and ".join(f"{points[k]:.1f}{' points come' * (i == 0)} from {WORDS[k]}"
                         for i, k in enumerate(ranked))
    if points[top] > improvement:  # the rest gave some back: no share to speak of
        text = (f"There is a {improvement:.1f}-point improvement since {since}. "
                f"{parts[0].upper()}{parts[1:]}.")
    elif points[top] >= 0.5 * improvement:
        text = (f"Most of the {improvement:.1f}-point improvement since {since} is "
                f"{WORDS[top]}: {parts}.")
    else:
        text = f"Of the {improvement:.1f}-point improvement since {since}, {parts}."
    back = -(points["soreness"] + points["recent_scores"])
    if back >= 0.2:
        text += (f" Soreness after sessions and the latest scores add {back:.1f} back.")
    if fade is not None and points["relief"] >= 0.2:
        weeks = max(1, round(fade / 7))
        text += (f" The relief fades within about {weeks} week{'s' * (weeks != 1)} if the "
                 "sessions stop.")
    elif points["relief"] >= 0.2:
        text += " The relief is expected to last over a year even if the sessions stop."
    return text
