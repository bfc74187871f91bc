"""nutpie in the background: progress, and a run that stops when its gate passes or its time
budget runs out, keeping every complete draw."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import arviz as az
import numpy as np

from recovery.model.config import SamplerConfig
from recovery.model.errors import RecoveryError

__all__ = ["BudgetError", "Gate", "complete_draws", "sample_in_background"]

Gate = Callable[[az.InferenceData], tuple[bool, str]]  # trace -> (passed, "R-hat .., ESS ..")
Progress = Callable[[float, str], None]  # (fraction done 0-1, phase)


class BudgetError(RecoveryError):
    """The time budget ran out before any draw was kept: nothing to write."""


def complete_draws(idata: az.InferenceData) -> az.InferenceData:
    """The kept draws every chain has finished (a stopped run pads shorter chains with NaN)."""
    post = idata["posterior"]
    first = next(iter(post.data_vars.values()))
    finite = np.isfinite(first.values.reshape(first.sizes["chain"], first.sizes["draw"], -1))
    n = int(finite.all(axis=2).sum(axis=1).min())
    keep = {"draw": slice(0, n)}
    return az.InferenceData(posterior=idata["posterior"].isel(keep),
                            sample_stats=idata["sample_stats"].isel(keep))


def _length(trace: az.InferenceData, group: str) -> int:
    return int(trace[group].sizes.get("draw", 0)) if group in trace.groups() else 0


def _kept(trace: az.InferenceData) -> tuple[az.InferenceData | None, int]:
    """The complete kept draws (None before the first) and how many per chain."""
    if _length(trace, "posterior") == 0:
        return None, 0
    kept = complete_draws(trace)
    return kept, int(kept["posterior"].sizes["draw"])


def _quietly(read: Callable[[], az.InferenceData]) -> az.InferenceData:
    with warnings.catch_warnings():  # arviz warns about a trace with no kept draws yet
        warnings.simplefilter("ignore")
        return read()


def _finished(sampler: Any) -> bool:
    try:
        return bool(sampler.is_finished)
    except TimeoutError:  # nutpie's way of saying "still running"
        return False


def sample_in_background(nutpie: Any, compiled: Any, kwargs: dict[str, Any], s: SamplerConfig,
                         gate: Gate, on_progress: Progress | None, every: float = 3.0,
                         check_every: float = 15.0) -> tuple[az.InferenceData, str | None]:
    """Run up to `s.max_draws` (else `s.draws`) draws per chain; past `s.draws`, check the gate
    every `check_every` s and stop once it passes; stop when `s.max_minutes` runs out.
    Returns the trace and why it stopped early ("gate passed", "time budget", or None)."""
    draws = max(s.max_draws or s.draws, s.draws)
    sampler = nutpie.sample(compiled, blocking=False, progress_bar=False, save_warmup=True,
                            **{**kwargs, "draws": draws})
    t0, last_check = time.monotonic(), -np.inf  # the gate is first checked once `draws` are in
    status = ""
    while not _finished(sampler):
        time.sleep(every)
        trace = _quietly(sampler.inspect)
        kept, done = _kept(trace)
        warm = min(_length(trace, "warmup_posterior"), s.tune)
        now = time.monotonic()
        if kept is not None and s.max_draws and done >= s.draws and (
                now - last_check >= check_every):
            last_check = now
            passed, status = gate(kept)
            if passed:  # keep the draws the gate judged: later ones could fail it again
                _quietly(sampler.abort)
                return kept, "gate passed"
        if s.max_minutes and now - t0 >= 60 * s.max_minutes:
            got, n = _kept(_quietly(sampler.abort))
            if got is None or n < 4:
                raise BudgetError(f"the time budget of {s.max_minutes:g} minutes ran out while "
                                 "tuning: nothing to write; allow more time")
            if on_progress is not None:  # the last poll may have come before any gate check
                on_progress(1.0, f"stopped by the time budget at draw {n}: {gate(got)[1]}")
            return got, "time budget"
        if on_progress is not None:
            phase = ("tuning" if done == 0 else f"sampling, draw {done}"
                     + (f": {status}" if status else ""))
            on_progress(min((warm + done) / (s.tune + draws), 1.0), phase)
    return sampler.wait(), None
