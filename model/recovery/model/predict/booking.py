"""When to book the next session: if sessions stop now, when does pain come back (a
probability curve), and the latest day for the next session that keeps P(score <= target) at a
level until it and for some weeks after it."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from recovery.model.data.schedules import SessionPlan
from recovery.model.predict.forecast import Forecaster, baseline_of, paths
from recovery.model.predict.update import PatientData, PatientDraws
from recovery.model.requests import BookingRequest, BookingResponse

__all__ = ["book_by", "booking", "p_at_target"]

MIN_GAIN = 0.5  # NRS points of gain worth asking when it returns
LOOK_BACK = 14  # candidate days tried before the first drop, latest first


def booking(fc: Forecaster, req: BookingRequest) -> BookingResponse:
    """The return curve and the booking day for one patient, on shared posterior draws."""
    rng = np.random.default_rng(req.seed)
    patient, post, how = fc.patient(req.patient, req.history, req.start_day, req.draws, rng)
    start = req.start_day
    days = start + np.arange(0.0, req.window_days + 1.0)
    stop = paths(post, patient, SessionPlan.of([], req.kind), days, len(days), fc.config,
                 fc.kinds)
    gain_d = baseline_of(patient, stop.mu[:, 0]) - stop.mu[:, 0]
    gain = float(gain_d.mean())
    curve, median, level = None, None, None
    if gain >= MIN_GAIN:
        back = stop.mu >= (stop.mu[:, :1] + req.lost_fraction * np.maximum(gain_d, 0)[:, None])
        back &= gain_d[:, None] > 0
        first = np.where(back.any(axis=1), back.argmax(axis=1), len(days))
        curve = [round(float((first <= i).mean()), 4) for i in range(len(days))]
        med = np.median(first)
        median = float(days[int(med)]) if med < len(days) else None
        level = round(float((stop.mu[:, 0] + req.lost_fraction * gain_d).mean()), 3)
    p_none = p_at_target(stop.m, stop.s, req.target_score)
    day, kept = book_by(post, patient, req, p_none, fc)
    return BookingResponse(
        days=days.tolist(), gain=round(gain, 3), return_level=level, p_returned=curve,
        median_return_day=median, p_target=np.round(p_none, 4).tolist(), book_by_day=day,
        keeps_level=kept, words=_words(req, gain, median, day, kept),
        model_version=fc.model_version, update=how)


def p_at_target(m: np.ndarray, s: np.ndarray, target: float) -> np.ndarray:
    """P(integer score <= target) each day, averaged over draws: (M, D) -> (D,)."""
    return np.asarray(ndtr((np.floor(target) + 0.5 - m) / s).mean(axis=0))


def book_by(post: PatientDraws, patient: PatientData, req: BookingRequest, p_none: np.ndarray,
            fc: Forecaster) -> tuple[float | None, bool]:
    """The latest day x such that, with one session on x and none after, P(score <= target)
    stays >= level from start to x + follow_days, and whether one was found: (None, True)
    when no session is needed within the window; (start, False) when the level is not held
    today or no day tried keeps it."""
    start = req.start_day
    below = np.flatnonzero(p_none < req.level)
    if not len(below):
        return None, True
    drop = int(below[0])  # a session on day x acts from the day after it
    for x in range(drop - 1, max(drop - 1 - LOOK_BACK, -1), -1):
        day = start + x
        grid = start + np.arange(x, x + req.follow_days + 1.0)
        p = paths(post, patient, SessionPlan.of([day], req.kind), grid, len(grid), fc.config,
                  fc.kinds)
        if (p_at_target(p.m, p.s, req.target_score) >= req.level).all():
            return day, True
    return start, False


def _words(req: BookingRequest, gain: float, median: float | None, day: float | None,
           kept: bool) -> str:
    target = f"P(score <= {req.target_score:g}) at {req.level:.0%} or more"
    if gain < MIN_GAIN:
        back = "There is under half a point of gain to lose yet."
    elif median is None:
        back = (f"If sessions stop now, pain is unlikely to come back within "
                f"{req.window_days // 7} weeks.")
    else:
        back = (f"If sessions stop now, pain is as likely as not to be back (half the gain "
                f"lost) by day {median:g}, {median - req.start_day:g} days from now.")
    if day is None:
        book = f"No session is needed in the next {req.window_days // 7} weeks to keep {target}."
    elif not kept:
        book = (f"Book the next session now: {target} is not held today, or not for all of "
                f"the {req.follow_days} days after a session.")
    else:
        book = (f"Book the next session by day {day:g} ({day - req.start_day:g} days from now) "
                f"to keep {target} for {req.follow_days} days after it.")
    return f"{back} {book}"
