"""Benchmark: nutpie vs PyMC's default NUTS on the same model and cohort, side by side.

Prints wall time (sampling; nutpie's compile time separately), min bulk ESS, min ESS per
second, max R-hat and divergences for each sampler at each cohort size, and writes
bench/results/fit.json. Usage: python bench/fit.py [--patients 100 400] [--draws 1000]
"""

from __future__ import annotations

import argparse
import json
import platform
import warnings
from pathlib import Path

import numpy as np

from recovery.model import SamplerConfig, fit, simulate_cohort

warnings.filterwarnings("ignore")


def machine() -> str:
    return f"{platform.machine()}, {__import__('os').cpu_count()} cores, {platform.system()}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, nargs="+", default=[100, 400])
    ap.add_argument("--weeks", type=float, default=12)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--samplers", nargs="+", default=["nutpie", "pymc"])
    ap.add_argument("--out", type=Path, default=Path("bench/results/fit.json"))
    args = ap.parse_args()
    rows = []
    print(f"{'patients':>8} {'scores':>7} {'sampler':>7} {'wall s':>7} {'compile s':>9} "
          f"{'min ESS':>7} {'ESS/s':>6} {'R-hat':>6} {'div':>4}")
    for n in args.patients:
        cohort, _ = simulate_cohort(n, args.weeks, np.random.default_rng(n))
        for sampler in args.samplers:
            cfg = SamplerConfig(sampler=sampler, draws=args.draws, tune=args.draws,
                                random_seed=1, progress_bar=False)
            d = fit(cohort, sampler=cfg).diagnostics
            sample_s = d.wall_seconds - d.compile_seconds
            row = {"patients": n, "scores": d.n_scores, "sampler": sampler,
                   "wall_seconds": d.wall_seconds, "compile_seconds": d.compile_seconds,
                   "sampling_seconds": round(sample_s, 1), "min_ess_bulk": d.min_ess_bulk,
                   "min_ess_per_second": round(d.min_ess_bulk / sample_s, 3),
                   "max_rhat": d.max_rhat, "divergences": d.divergences,
                   "chains": d.chains, "draws": d.draws}
            rows.append(row)
            print(f"{n:>8} {d.n_scores:>7} {sampler:>7} {d.wall_seconds:>7.0f} "
                  f"{d.compile_seconds:>9.0f} {d.min_ess_bulk:>7.0f} "
                  f"{row['min_ess_per_second']:>6.2f} {d.max_rhat:>6.3f} {d.divergences:>4}",
                  flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "weeks": args.weeks, "rows": rows},
                                   indent=1))


if __name__ == "__main__":
    main()
