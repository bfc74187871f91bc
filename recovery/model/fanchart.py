"""Fan chart of a forecast: 50 % and 90 % bands per schedule, past scores and sessions marked."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from recovery.model.requests import ForecastResponse, History

__all__ = ["plot_forecast"]


def plot_forecast(history: History, response: ForecastResponse, target: float, path: Path
                  ) -> Path:
    """Overlay every schedule's fan on the patient's diary; write a PNG."""
    fig, ax = plt.subplots(figsize=(11, 5))
    colours = plt.get_cmap("tab10")
    for i, f in enumerate(response.forecasts):
        c = colours(i % 10)
        q = {k: np.asarray(v) for k, v in f.quantiles.items()}
        ax.fill_between(f.days, q["5"], q["95"], color=c, alpha=0.12, lw=0)
        ax.fill_between(f.days, q["25"], q["75"], color=c, alpha=0.25, lw=0)
        s = f.summary
        ax.plot(f.days, q["50"], color=c, lw=2,
                label=f"{f.name}: P(<= {target:g} at end) {s.p_target_at_horizon:.0%}, "
                      f"{s.sessions} sessions")
        ax.plot(f.session_days, np.full(len(f.session_days), -0.35 - 0.25 * i), "|", color=c,
                ms=8)
    if history.pain:
        ax.plot([p.day for p in history.pain], [p.score for p in history.pain], "o", color="k",
                ms=3.5, label="recorded scores")
    if history.sessions:
        ax.plot([s.day for s in history.sessions], np.full(len(history.sessions), -0.1), "^",
                color="k", ms=5, label="past sessions")
    ax.axhline(target, color="grey", ls="--", lw=1, label=f"target {target:g}")
    ax.set_ylim(-0.5 - 0.25 * len(response.forecasts), 10.2)
    ax.set_xlabel("day")
    ax.set_ylabel("pain (0-10)")
    ax.set_title("Forecast: median, 50 % and 90 % bands (ticks below: planned sessions)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
