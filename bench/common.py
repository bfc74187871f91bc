"""What the benchmarks share: the machine, commit and model they record, and the growth
exponent."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import numpy as np

from recovery.model import PARAMS, ModelConfig


def machine() -> str:
    """CPU model, logical CPUs, memory and OS, e.g. for README tables."""
    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.exists():
        names = [ln.split(":", 1)[1].strip() for ln in info.read_text().splitlines()
                 if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    mem = ""
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        mem = f", {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB"
    return f"{cpu}, {os.cpu_count()} CPUs{mem}, {platform.system()}"


def model_description() -> str:
    """The fitted model in words, stored with every fit benchmark; report.py compares samplers
    and fits growth only across rows of the current description."""
    cfg = ModelConfig()
    return (f"{len(PARAMS)} patient parameters (course and short relief), "
            f"residual-filter likelihood, natural-scale population means, Gamma(2) "
            f"between-patient SD priors, LKJ block {', '.join(cfg.correlated)}; "
            f"centred: {', '.join(cfg.centred) or 'none'}")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True
                          ).stdout.strip()


def commit() -> str:
    """The code's commit (short hash, "+dirty" with uncommitted changes), or "unknown"."""
    try:
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        return _git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def growth(rows: list[dict[str, float]], sampler: str) -> float | None:
    """Slope of log(median seconds per effective sample) on log(patients): 1 is linear
    growth; None with fewer than two cohort sizes."""
    sizes = sorted({r["patients"] for r in rows if r["sampler"] == sampler})
    if len(sizes) < 2:
        return None
    pts = [(n, np.median([r["seconds_per_ess"] for r in rows
                          if (r["patients"], r["sampler"]) == (n, sampler)])) for n in sizes]
    x, y = np.log(np.array(pts, dtype=float)).T
    return round(float(np.polyfit(x, y, 1)[0]), 2)
