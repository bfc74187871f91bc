"""Charts as files (matplotlib PNGs) for the CLI, the phenomena report and the dashboard's
downloads: the fan chart, the parts of expected pain and the sessions-vs-pain frontier, drawn
from the same frames (frames.py) as the screen's interactive charts. With the record's start
date the x axis is in calendar dates; a caption names the patient, the date and the model."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from recovery.charts.frames import (
    PART_WORDS,
    Colours,
    diary_frames,
    forecast_frame,
    frontier_frame,
    parts_frame,
    to_dates,
)

__all__ = ["fan_figure", "frontier_figure", "parts_figure", "save", "save_fan_chart"]

EPOCH = date(2000, 1, 1)  # a record without a start date is drawn in day numbers


def _x(frame: Any, dated: bool) -> Any:
    return frame["date"] if dated else frame["day"]


def fan_figure(history: dict[str, Any], response: dict[str, Any], target: float,
               labels: dict[str, str] | None = None, colours: dict[str, str] | None = None,
               caption: str | None = None) -> Figure:
    """Every schedule's median and 50 %/90 % bands over the patient's diary; planned sessions
    as ticks below. `labels`: schedule names as people read them."""
    dated = "start_date" in history
    start = date.fromisoformat(str(history["start_date"])) if dated else EPOCH
    labels = labels or {}
    frame = forecast_frame(response, start, labels)
    names = list(dict.fromkeys(frame["schedule"]))
    colour = Colours(colours).of(names)
    fig, ax = plt.subplots(figsize=(11, 5))
    for i, (f, name) in enumerate(zip(response["forecasts"], names, strict=True)):
        rows, c = frame[frame["schedule"] == name], colour[name]
        x = _x(rows, dated)
        ax.fill_between(x, rows["q5"], rows["q95"], color=c, alpha=0.12, lw=0)
        ax.fill_between(x, rows["q25"], rows["q75"], color=c, alpha=0.25, lw=0)
        s = f["summary"]
        ax.plot(x, rows["median"], color=c, lw=2,
                label=f"{name}: {s['p_target_at_horizon']:.0%} chance at or below {target:g} "
                      f"by the end, {s['sessions']} sessions")
        ticks = to_dates(start, f["session_days"]) if dated else f["session_days"]
        ax.plot(ticks, np.full(len(f["session_days"]), -0.35 - 0.25 * i), "|", color=c, ms=8)
    pain, sessions = diary_frames({**history, "start_date": start.isoformat()})
    if len(pain):
        ax.plot(_x(pain, dated), pain["score"], "o", color="k", ms=3.5, label="recorded scores")
    if len(sessions):
        ax.plot(_x(sessions, dated), np.full(len(sessions), -0.1), "^", color="k", ms=5,
                label="past sessions")
    ax.axhline(target, color="grey", ls="--", lw=1, label=f"target {target:g}")
    ax.set_ylim(-0.5 - 0.25 * len(names), 10.2)
    return _finished(fig, ax, "Forecast: median, 50 % and 90 % bands (ticks below: planned "
                     "sessions)", "date" if dated else "day", caption=caption)


def _finished(fig: Figure, ax: Any, title: str, x: str = "day",
              y: str = "pain (0-10)", caption: str | None = None) -> Figure:
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    if caption:
        fig.text(0.01, 0.01, caption, fontsize=8, color="#444444")
    fig.tight_layout(rect=(0, 0.03 if caption else 0, 1, 1))
    return fig


def save_fan_chart(history: dict[str, Any], response: dict[str, Any], target: float,
                   path: Path) -> Path:
    """Draw the fan chart and write it as a PNG."""
    return save(fan_figure(history, response, target), path)


def parts_figure(explained: dict[str, Any], start: date | None = None) -> Figure:
    """The natural course, what each part takes off below it or adds above it (stacked as in
    frames.parts_frame), and their sum (the forecast's mean) on top."""
    frame = parts_frame(explained, start or EPOCH)
    fig, ax = plt.subplots(figsize=(11, 5))
    colours = plt.get_cmap("tab10")
    for i, part in enumerate(dict.fromkeys(frame["part"])):
        rows = frame[frame["part"] == part]
        x = _x(rows, start is not None)
        if part == PART_WORDS["natural_course"]:
            ax.plot(x, rows["y2"], color="k", lw=1.5, label=part)
        else:
            ax.fill_between(x, rows["y"], rows["y2"], color=colours(i - 1), alpha=0.55, lw=0,
                            label=part)
    days = frame[frame["part"] == PART_WORDS["natural_course"]]
    ax.plot(_x(days, start is not None), explained["total"], color="crimson", lw=2,
            label="expected pain (sum)")
    today = to_dates(start or EPOCH, [explained["start_day"]])[0]
    ax.axvline(today if start else explained["start_day"], color="grey", ls=":", lw=1)
    ax.set_ylim(0, 10)
    return _finished(fig, ax, "Why the forecast looks as it does (dotted: today)",
                     "date" if start else "day")


def frontier_figure(result: dict[str, Any], labels: dict[str, str] | None = None) -> Figure:
    """Cost (or sessions) against pain at the horizon with its 5-95 % range; the schedules no
    other beats on both are joined and named."""
    by = "cost" if result["minimise"] == "cost" else "sessions"
    frame = frontier_frame(result, labels)
    fig, ax = plt.subplots(figsize=(11, 5))
    for beaten, fmt, colour, label in ((True, "o", "grey", "other schedules"),
                                        (False, "o-", "crimson", "not beaten on both")):
        rows = frame[(frame["frontier"] == "beaten") == beaten].sort_values(by)
        ax.errorbar(rows[by], rows["pain"], yerr=[rows["pain"] - rows["lo"],
                                                  rows["hi"] - rows["pain"]], fmt=fmt,
                    color=colour, alpha=0.4 if beaten else 1.0, ms=4 if beaten else 6,
                    lw=0.6 if beaten else 1.2, label=label)
    for _, p in frame[frame["frontier"] == "not beaten"].iterrows():
        ax.annotate(p["label"], (p[by], p["pain"]), fontsize=7, xytext=(4, 4),
                    textcoords="offset points")
    return _finished(fig, ax, "Sessions against pain: schedules on the red line are not "
                     "beaten on both", by, "expected pain at the horizon (0-10)")


def save(fig: Figure, path: Path) -> Path:
    """Write a chart as PNG and free it."""
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
