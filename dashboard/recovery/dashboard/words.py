"""Sentences written from the very numbers the chart beside them draws (the explain parts, the
booking curves, the forecast's first day), so what is said cannot disagree with what is shown:
dates, not day numbers; schedules by their names; no part larger than its whole."""

from __future__ import annotations

from datetime import date
from typing import Any

from recovery.charts.frames import PART_WORDS
from recovery.dashboard.views import when

__all__ = ["booking_words", "parts_at", "parts_words", "start_words"]

SMALL = 0.05  # points: a part smaller than this is not named
UNLIKELY = 0.1  # a chance below this is "unlikely"


def parts_at(explained: dict[str, Any], i: int = -1) -> dict[str, float]:
    """Each part's mean on the i-th day of the explanation, and their sum as `total`."""
    out = {name: float(band["mean"][i]) for name, band in explained["parts"].items()}
    out["total"] = float(explained["total"][i])
    return out


def parts_words(explained: dict[str, Any], start: date, schedule: str) -> str:
    """What expected pain on the last date of the chart is made of: the natural course, what
    each part takes off or adds, and the total they add up to (the chart's black line)."""
    at = parts_at(explained)
    end = when(start, explained["days"][-1])
    said = [f"On “{schedule}”, expected pain on {end} is **{at['total']:.1f}**. On its own "
            f"(the natural course) it would be {at['natural_course']:.1f}"]
    moves = [f"{PART_WORDS.get(k, k)} {'takes off' if v < 0 else 'adds'} {abs(v):.1f}"
             for k, v in at.items() if k not in ("natural_course", "total") and abs(v) >= SMALL]
    if moves:
        said[0] += "; " + ", ".join(moves)
    said[0] += "."
    if explained.get("relief_fades_days"):
        weeks = round(explained["relief_fades_days"] / 7)
        said.append(f"Relief from sessions fades over about {weeks} weeks once they stop.")
    return " ".join(said)


def start_words(history: dict[str, Any], first_median: float, start: date) -> str | None:
    """Why the forecast does not start at the last score, when it does not (half a point or
    more apart): the model reads the whole diary, so one score moves it only part of the way."""
    if not history["pain"]:
        return None
    last = history["pain"][-1]
    if abs(float(last["score"]) - first_median) < 0.5:
        return None
    return (f"The forecast starts near {first_median:.0f}, not at the last score ({last['score']:g}"
            f" on {when(start, last['day'])}): it reads the whole diary, and one score moves it "
            "only part of the way, as a single day's score is partly the day's ups and downs.")


def _return_words(booked: dict[str, Any], start: date) -> str:
    """When pain comes back if sessions stop, in the booking chart's own numbers."""
    if booked["return_level"] is None:
        return "There is little gain to lose yet."
    if booked["median_return_date"] is not None:
        return (f"If sessions stop now, pain is as likely as not to be back (half the gain "
                f"lost) by **{_long(booked['median_return_date'])}**.")
    chances = booked["p_returned"] or [0.0]
    peak = max(range(len(chances)), key=chances.__getitem__)
    weeks = round((booked["days"][-1] - booked["days"][0]) / 7)
    if chances[peak] < UNLIKELY:
        return f"If sessions stop now, pain is unlikely to come back within {weeks} weeks."
    return (f"If sessions stop now, the chance that pain is back (half the gain lost) rises "
            f"to {chances[peak]:.0%} by {when(start, booked['days'][peak])}: less likely than "
            f"not within {weeks} weeks, but far from ruled out.")


def booking_words(booked: dict[str, Any], target: float, level: float, start: date) -> str:
    """The booking answer in dates: when pain comes back if sessions stop, and by when to
    book to keep a `level` chance of being at `target` or below."""
    goal = f"a {level:.0%} chance of being at {target:g} or below"
    back = _return_words(booked, start)
    staying = booked["return_level"] is None or booked["median_return_date"] is None
    if booked["book_by_date"] is None:
        book = f"No session is needed in that time to keep {goal}."
    elif not booked["keeps_level"] and staying:
        book = (f"But pain is not yet low enough for {goal}: sessions now would be to bring "
                "it down further, not to stop it coming back.")
    elif not booked["keeps_level"]:
        book = (f"Book the next session now: {goal} is not held today, or not for all of the "
                "four weeks after a session.")
    else:
        book = (f"Book the next session by **{_long(booked['book_by_date'])}** to keep {goal} "
                "until then and for four weeks after it.")
    return f"{back} {book}"


def _long(iso: str) -> str:
    return when(date.fromisoformat(str(iso)), 0)
