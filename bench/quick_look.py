"""Benchmark: the quick look (ADVI) against the full NUTS fit on the same simulated cohort.

Measures what an analyst needs to know before trusting a quick look: its time against NUTS,
the error of population-level posterior means (in NUTS posterior SDs), the width of its 90 %
intervals relative to NUTS's, and held-out 90 % coverage and CRPS of both on a fresh cohort.
Writes bench/results/quick_look.json and model/recovery/model/inference/quick_look_error.json,
which every quick-look model quotes in its diagnostics.
Usage: python bench/quick_look.py [--patients 100] [--draws 1000]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from common import machine

from recovery.model import Forecaster, SamplerConfig, evaluate, fit, simulate_cohort
from recovery.model.inference.fit import FittedModel, stacked_draws
from recovery.model.inference.quick import ERROR_FILE, quick_fit

warnings.filterwarnings("ignore")
POPULATION = ["mu_pop", "beta", "tau_nat", "synergy", "sigma", "share", "ell", "log_relief_w",
              "log_durable_w", "log_quick_w", "log_flare_w", "patient_sd_other"]


def population_error(quick: FittedModel, nuts: FittedModel) -> tuple[np.ndarray, np.ndarray]:
    """Per population parameter: |mean error| / NUTS SD, and quick/NUTS 90 % width."""
    errs, widths = [], []
    for name in POPULATION:
        a, b = (stacked_draws(f.idata, name) for f in (quick, nuts))
        a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
        errs.append(np.abs(a.mean(0) - b.mean(0)) / b.std(0))
        wa = np.percentile(a, 95, axis=0) - np.percentile(a, 5, axis=0)
        wb = np.percentile(b, 95, axis=0) - np.percentile(b, 5, axis=0)
        widths.append(wa / wb)
    return np.concatenate(errs), np.concatenate(widths)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=100)
    ap.add_argument("--weeks", type=float, default=12)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=Path("bench/results/quick_look.json"))
    args = ap.parse_args()
    cohort, _ = simulate_cohort(args.patients, args.weeks, np.random.default_rng(args.patients))
    held_out, _ = simulate_cohort(60, args.weeks, np.random.default_rng(7))
    t0 = time.perf_counter()
    nuts = fit(cohort, sampler=SamplerConfig(draws=args.draws, tune=args.draws,
                                             progress_bar=False))
    nuts_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    quick = quick_fit(cohort, progress_bar=False)
    quick_s = time.perf_counter() - t0
    err, width = population_error(quick, nuts)
    ev = {name: evaluate(Forecaster(f), held_out, holdout_days=42, draws=500).methods["model"]
          for name, f in (("nuts", nuts), ("quick", quick))}
    row = {"patients": args.patients, "weeks": args.weeks, "nuts_seconds": round(nuts_s, 1),
           "quick_seconds": round(quick_s, 1), "time_ratio": round(quick_s / nuts_s, 3),
           "nuts_max_rhat": nuts.diagnostics.max_rhat,
           "nuts_min_ess_bulk": nuts.diagnostics.min_ess_bulk,
           "mean_error_sd_median": round(float(np.median(err)), 3),
           "mean_error_sd_max": round(float(err.max()), 3),
           "width_ratio_median": round(float(np.median(width)), 3),
           "width_ratio_min": round(float(width.min()), 3),
           "coverage_90_nuts": ev["nuts"].coverage_90, "coverage_90_quick": ev["quick"].coverage_90,
           "crps_nuts": ev["nuts"].crps, "crps_quick": ev["quick"].crps, "machine": machine()}
    for k, v in row.items():
        print(f"{k:>22}: {v}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=1))
    ERROR_FILE.write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
