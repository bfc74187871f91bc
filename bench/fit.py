"""Benchmark: the project's fit (nutpie) against PyMC's default NUTS on the same PyMC model
and a NumPyro twin of the model (bench/numpyro_model.py), side by side on the same cohorts.

For each cohort size and sampler it prints wall time (compilation included; nutpie's compile
time also shown apart), min bulk ESS, min ESS per wall second, seconds per effective sample,
max R-hat, divergences and mean leapfrog steps per kept draw, then the growth exponent of
seconds per effective sample against cohort size, and writes bench/results/fit.json.
Usage: python bench/fit.py [--patients 100 400 1600] [--samplers nutpie pymc numpyro]
       [--seeds 1 2 3] [--draws 1000] [--tune N]
(min ESS at 1000 draws varies a lot between seeds; compare medians)
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import numpyro_model
from common import commit, growth, machine, model_description

from recovery.model import ModelConfig, SamplerConfig, fit, simulate_cohort
from recovery.model.inference.fit import Diagnostics, summarise_diagnostics
from recovery.model.likelihood.build import prepare

warnings.filterwarnings("ignore")


def run_numpyro(cohort: object, s: SamplerConfig) -> Diagnostics:
    """Fit the NumPyro twin and summarise it exactly as the project's fit is summarised."""
    cfg = ModelConfig()
    data = prepare(cohort, cfg)  # type: ignore[arg-type]
    idata, wall = numpyro_model.sample(data, cfg, s.draws, s.tune, s.chains, s.random_seed,
                                       s.target_accept)
    names = [str(v) for v in idata["posterior"].data_vars]
    sizes = (len(data.patient_ids), len(data.y), int(data.design.session_mask.sum()))
    return summarise_diagnostics(idata, names, s, (wall, 0.0), sizes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, nargs="+", default=[100, 400, 1600])
    ap.add_argument("--weeks", type=float, default=12)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=None, help="tuning iterations (default: draws)")
    ap.add_argument("--samplers", nargs="+", default=["nutpie", "pymc", "numpyro"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1],
                    help="sampler seeds; min ESS at 1000 draws varied up to 2.4x between seeds")
    ap.add_argument("--out", type=Path, default=Path("bench/results/fit.json"))
    args = ap.parse_args()
    args.commit = commit()  # before the run: files edited meanwhile do not change what runs
    rows: list[dict[str, float]] = []
    print(f"{'patients':>8} {'scores':>7} {'sampler':>8} {'seed':>4} {'wall s':>7} "
          f"{'compile s':>9} {'min ESS':>7} {'ESS/s':>6} {'s/ESS':>6} {'R-hat':>6} {'div':>4} "
          f"{'steps':>5}")
    for n in args.patients:
        cohort, _ = simulate_cohort(n, args.weeks, np.random.default_rng(n))
        # Seeds outer, samplers inner: this shared machine's speed drifts by tens of per cent
        # over half an hour, so each sampler's runs are spread over the same stretch.
        for seed, sampler in ((a, b) for a in args.seeds for b in args.samplers):
            s = SamplerConfig(sampler="pymc" if sampler == "numpyro" else sampler,
                              draws=args.draws, tune=args.tune or args.draws,
                              random_seed=seed,
                              progress_bar=False)
            t0 = time.perf_counter()
            d = run_numpyro(cohort, s) if sampler == "numpyro" else fit(cohort, sampler=s
                                                                         ).diagnostics
            wall = time.perf_counter() - t0 if sampler != "numpyro" else d.wall_seconds
            row = {"patients": n, "scores": d.n_scores, "sampler": sampler, "seed": seed,
                   "wall_seconds": round(wall, 1), "compile_seconds": d.compile_seconds,
                   "min_ess_bulk": round(d.min_ess_bulk, 1),
                   "min_ess_per_second": round(d.min_ess_bulk / wall, 3),
                   "seconds_per_ess": round(wall / d.min_ess_bulk, 3),
                   "max_rhat": round(d.max_rhat, 4), "divergences": d.divergences,
                   "worst_var": d.worst_ess_var, "chains": d.chains, "draws": d.draws,
                   "tune": d.tune, "steps_per_draw": d.steps_per_draw}
            rows.append(row)
            print(f"{n:>8} {d.n_scores:>7} {sampler:>8} {seed:>4} {wall:>7.0f} "
                  f"{d.compile_seconds:>9.0f} {d.min_ess_bulk:>7.0f} "
                  f"{row['min_ess_per_second']:>6.2f} "
                  f"{row['seconds_per_ess']:>6.2f} {d.max_rhat:>6.3f} {d.divergences:>4} "
                  f"{d.steps_per_draw or 0:>5.0f}",
                  flush=True)
            _write(args, rows)
    for sampler in args.samplers:
        print(f"{sampler}: seconds per effective sample grow as patients^{growth(rows, sampler)}")


def _write(args: argparse.Namespace, rows: list[dict[str, float]]) -> None:
    """Write after every row, so a long run that is stopped keeps what it measured."""
    out = {"machine": machine(), "commit": args.commit, "model": model_description(),
           "weeks": args.weeks,
           "draws": args.draws,
           "rows": rows,
           "growth_exponent": {s: growth(rows, s) for s in args.samplers}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
