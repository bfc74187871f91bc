"""The numbers every chart draws, shaped once from the service's JSON: calendar dates, one row
per schedule and day, the stacked parts of expected pain, the frontier's points, and a colour
that stays with each schedule. Both renderers (figures.py for files, interactive.py for the
screen) draw these frames, so a chart and the words beside it come from the same numbers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import pandas as pd

__all__ = ["PALETTE", "PART_WORDS", "Colours", "diary_frames", "forecast_frame",
           "frontier_frame", "parts_frame", "to_dates"]

# Tableau 10: a schedule keeps the colour it was first given (Colours), whatever is added later
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac"]
PART_WORDS = {"natural_course": "natural course", "course_relief": "relief from the course",
              "short_relief": "short relief after sessions", "durable_gain": "lasting gain",
              "soreness": "soreness after sessions", "recent_scores": "pull of latest scores"}


class Colours:
    """Schedule name -> colour, given in the order names are first met and never changed, so
    adding a schedule to a comparison leaves the others' colours as they were."""

    def __init__(self, given: dict[str, str] | None = None) -> None:
        self.given: dict[str, str] = dict(given or {})

    def of(self, names: Iterable[str]) -> dict[str, str]:
        """The colours of `names` (new names take the next colour of the palette)."""
        for name in names:
            if name not in self.given:
                self.given[name] = PALETTE[len(self.given) % len(PALETTE)]
        return {n: self.given[n] for n in dict.fromkeys(names)}


def to_dates(start: date, days: Any) -> pd.Series:
    """Days of a record (days since its start date) as calendar dates."""
    return pd.Series(pd.to_datetime(start) + pd.to_timedelta(pd.Series(days, dtype=float), "D"))


def diary_frames(history: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The diary's scores and sessions with their calendar dates."""
    start = date.fromisoformat(str(history["start_date"]))
    pain = pd.DataFrame(history["pain"], columns=["day", "score"])
    pain["date"] = to_dates(start, pain["day"])
    sessions = pd.DataFrame(history["sessions"], columns=["day", "kind"])
    sessions["date"] = to_dates(start, sessions["day"])
    return pain, sessions


def forecast_frame(result: dict[str, Any], start: date, labels: dict[str, str]
                   ) -> pd.DataFrame:
    """One row per schedule and day: median, bands and mean, with the date and the schedule's
    name as people read it."""
    frames = []
    for f in result["forecasts"]:
        q = f["quantiles"]
        frames.append(pd.DataFrame({
            "schedule": labels.get(f["name"], f["name"]), "day": f["days"],
            "q5": q["5"], "q25": q["25"], "median": q["50"], "q75": q["75"], "q95": q["95"],
            "mean": f["mean"]}))
    out = pd.concat(frames, ignore_index=True)
    out["date"] = to_dates(start, out["day"])
    return out


def parts_frame(explained: dict[str, Any], start: date) -> pd.DataFrame:
    """One row per part and day: the band it fills (y to y2) when the parts that take pain off
    are stacked below the natural course and those that add it above."""
    parts = explained["parts"]
    natural = pd.Series(parts["natural_course"]["mean"], dtype=float)
    lower, upper = natural.copy(), natural.copy()
    rows = [pd.DataFrame({"part": PART_WORDS["natural_course"], "y": 0.0, "y2": natural,
                          "value": natural, "lo": parts["natural_course"]["lo"],
                          "hi": parts["natural_course"]["hi"]})]
    for name, band in parts.items():
        if name == "natural_course":
            continue
        value = pd.Series(band["mean"], dtype=float)
        take, add = value.clip(upper=0.0), value.clip(lower=0.0)
        y, y2 = (lower + take).where(value < 0, upper), lower.where(value < 0, upper + add)
        lower, upper = lower + take, upper + add
        rows.append(pd.DataFrame({"part": PART_WORDS.get(name, name), "y": y, "y2": y2,
                                  "value": value, "lo": band["lo"], "hi": band["hi"]}))
    out = pd.concat([r.assign(day=explained["days"]) for r in rows], ignore_index=True)
    out["date"] = to_dates(start, out["day"])
    return out


def frontier_frame(result: dict[str, Any], labels: dict[str, str] | None = None
                   ) -> pd.DataFrame:
    """One row per schedule of a frontier: cost, sessions, pain at the horizon and its 5-95 %
    range, and whether any other schedule beats it on both cost and pain."""
    labels = labels or {}
    return pd.DataFrame([{"name": p["schedule"]["name"],
                          "label": labels.get(p["schedule"]["name"], p["schedule"]["name"]),
                          "cost": p["cost"], "sessions": p["sessions"],
                          "pain": p["pain_at_horizon"], "lo": p["pain_lo"], "hi": p["pain_hi"],
                          "p_target": p["p_target_at_horizon"],
                          "frontier": "not beaten" if p["on_frontier"] else "beaten"}
                         for p in result["points"]])
