"""Fan chart of a forecast JSON: 50 % and 90 % bands per schedule, past scores and sessions.

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

__all__ = ["fan_chart", "save_fan_chart"]


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
    ax.set_xlabel("day")
    ax.set_ylabel("pain (0-10)")
    ax.set_title("Forecast: median, 50 % and 90 % bands (ticks below: planned sessions)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def save_fan_chart(history: dict[str, Any], response: dict[str, Any], target: float,
                   path: Path) -> Path:
    fig = fan_chart(history, response, target)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
