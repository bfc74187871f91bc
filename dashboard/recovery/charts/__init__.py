"""Charts of the forecast JSONs: the fan chart (50 % and 90 % bands per schedule, past scores
and sessions), the parts of expected pain, and the sessions-vs-pain frontier.

Works on the JSON shapes (plain dicts) so that the CLI and the dashboard, which only sees the
service's responses, draw the same picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["fan_chart", "frontier_chart", "parts_chart", "save", "save_fan_chart"]


def fan_chart(history: dict[str, Any], response: dict[str, Any], target: float) -> Figure:
    """Overlay every schedule's fan on the patient's diary."""
    fig, ax = plt.subplots(figsize=(11, 5))
    colours = plt.get_cmap("tab10")
    forecasts = response["forecasts"]
    for i, f in enumerate(forecasts):
        c = colours(i % 10)
        q = {k: np.asarray(v) for k, v in f["quantiles"].items()}
        ax.fill_between(f["days"], q["5"], q["95"], color=c, alpha=0.12, lw=0)
        ax.fill_between(f["days"], q["25"], q["75"], color=c, alpha=0.25, lw=0)
        s = f["summary"]
        ax.plot(f["days"], q["50"], color=c, lw=2,
                label=f"{f['name']}: P(<= {target:g} at end) {s['p_target_at_horizon']:.0%}, "
                      f"{s['sessions']} sessions")
        ax.plot(f["session_days"], np.full(len(f["session_days"]), -0.35 - 0.25 * i), "|",
                color=c, ms=8)
    pain, sessions = history.get("pain", []), history.get("sessions", [])
    if pain:
        ax.plot([p["day"] for p in pain], [p["score"] for p in pain], "o", color="k", ms=3.5,
                label="recorded scores")
    if sessions:
        ax.plot([s["day"] for s in sessions], np.full(len(sessions), -0.1), "^", color="k",
                ms=5, label="past sessions")
    ax.axhline(target, color="grey", ls="--", lw=1, label=f"target {target:g}")
    ax.set_ylim(-0.5 - 0.25 * len(forecasts), 10.2)
    return _finished(fig, ax, "Forecast: median, 50 % and 90 % bands (ticks below: planned "
                     "sessions)")


def _finished(fig: Figure, ax: Any, title: str, x: str = "day",
              y: str = "pain (0-10)") -> Figure:
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def save_fan_chart(history: dict[str, Any], response: dict[str, Any], target: float,
                   path: Path) -> Path:
    """Draw the fan chart and write it as a PNG."""
    return save(fan_chart(history, response, target), path)


PART_LABELS = {"natural_course": "natural course", "course_relief": "relief from the course",
               "short_relief": "short relief after sessions", "durable_gain": "lasting gain",
               "soreness": "post-session soreness", "recent_scores": "pull of the latest scores"}


def parts_chart(explained: dict[str, Any]) -> Figure:
    """The natural course as a line, what each part adds or takes off as stacked areas under
    or over it, and their sum (the forecast's mean) on top."""
    fig, ax = plt.subplots(figsize=(11, 5))
    days = np.asarray(explained["days"])
    parts = {k: np.asarray(v["mean"]) for k, v in explained["parts"].items()}
    natural = parts.pop("natural_course")
    ax.plot(days, natural, color="k", lw=1.5, label=PART_LABELS["natural_course"])
    lower, upper = natural.copy(), natural.copy()
    colours = plt.get_cmap("tab10")
    for i, (name, part) in enumerate(parts.items()):
        take = np.minimum(part, 0.0)
        add = np.maximum(part, 0.0)
        ax.fill_between(days, lower + take, lower, color=colours(i), alpha=0.55, lw=0,
                        label=PART_LABELS.get(name, name))
        ax.fill_between(days, upper, upper + add, color=colours(i), alpha=0.55, lw=0)
        lower, upper = lower + take, upper + add
    ax.plot(days, explained["total"], color="crimson", lw=2, label="expected pain (sum)")
    ax.axvline(explained["start_day"], color="grey", ls=":", lw=1)
    ax.set_ylim(0, 10)
    return _finished(fig, ax, "Why the forecast looks as it does (dotted: today)")


def frontier_chart(result: dict[str, Any]) -> Figure:
    """Cost (or sessions) against pain at the horizon with its 5-95 % range; the schedules no
    other beats on both are joined and named."""
    by = "cost" if result["minimise"] == "cost" else "sessions"
    fig, ax = plt.subplots(figsize=(11, 5))
    pts = result["points"]
    x = np.array([p[by] for p in pts], dtype=float)
    y = np.array([p["pain_at_horizon"] for p in pts])
    err = np.array([[p["pain_at_horizon"] - p["pain_lo"] for p in pts],
                    [p["pain_hi"] - p["pain_at_horizon"] for p in pts]])
    front = np.array([p["on_frontier"] for p in pts])
    ax.errorbar(x[~front], y[~front], yerr=err[:, ~front], fmt="o", color="grey", alpha=0.4,
                ms=4, lw=0.6, label="other schedules")
    ax.errorbar(x[front], y[front], yerr=err[:, front], fmt="o-", color="crimson", ms=6,
                lw=1.2, label="non-dominated")
    for p, xi, yi in zip(pts, x, y, strict=True):
        if p["on_frontier"]:
            ax.annotate(p["schedule"]["name"], (xi, yi), fontsize=7, xytext=(4, 4),
                        textcoords="offset points")
    return _finished(fig, ax, "Sessions against pain: schedules on the red line are not "
                     "beaten on both", by, "expected pain at the horizon (0-10)")


def save(fig: Figure, path: Path) -> Path:
    """Write a chart as PNG and free it."""
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
