"""Benchmark: one large cohort (default 2,000 patients x 26 weeks) fitted by the project's fit
(nutpie, numba), against the 30-minute target with diagnostics passing.

Prints progress (iterations done, elapsed, projected total) every 30 s. With --deadline it
aborts at that many minutes and records how far it got and the projected total instead of a
result, so a run that cannot make the target still reports what it measured.
Writes bench/results/scale_fit.json.
Usage: python bench/scale_fit.py [--patients 2000] [--weeks 26] [--draws 500] [--deadline 45]
       [--maxdepth 10]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from common import commit, machine

from recovery.model import ModelConfig, SamplerConfig, simulate_cohort
from recovery.model.build import build_model, prepare, starting_values
from recovery.model.fit import (
    checked_names,
    compile_nutpie,
    iterations_done,
    nutpie_options,
    summarise_diagnostics,
)

warnings.filterwarnings("ignore")
TARGET_MINUTES = 30.0


def steps_so_far(sampler: Any) -> float | None:
    """Mean leapfrog steps (gradients) per iteration so far, warm-up included."""
    trace = sampler.inspect()
    steps = [trace[g]["n_steps"].values.ravel() for g in ("warmup_sample_stats", "sample_stats")
             if g in trace.groups() and "n_steps" in trace[g]]
    return round(float(np.concatenate(steps).mean()), 1) if steps else None


def projected(elapsed: float, compile_s: float, done: int, total: int) -> float:
    """Seconds the whole run would take at the sampling rate so far (linear extrapolation)."""
    return compile_s + (elapsed - compile_s) * total / max(done, 1)


def main() -> None:
    import nutpie

    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--weeks", type=float, default=26)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--maxdepth", type=int, default=10, help="NUTS tree depth cap (nutpie's 10)")
    ap.add_argument("--deadline", type=float, default=None, help="minutes; abort after")
    ap.add_argument("--out", type=Path, default=Path("bench/results/scale_fit.json"))
    args = ap.parse_args()
    code = commit()
    cfg = ModelConfig()
    s = SamplerConfig(draws=args.draws, tune=args.tune, random_seed=1, progress_bar=False,
                      max_tree_depth=args.maxdepth)
    cohort, _ = simulate_cohort(args.patients, args.weeks, np.random.default_rng(args.patients))
    t0 = time.perf_counter()
    data = prepare(cohort, cfg)
    model = build_model(data, cfg)
    compiled = compile_nutpie(model, starting_values(data, cfg))
    compile_s = time.perf_counter() - t0
    print(f"{args.patients} patients, {len(data.y)} scores; compiled in {compile_s:.0f} s",
          flush=True)
    sampler = nutpie.sample(compiled, blocking=False, progress_bar=False, save_warmup=True,
                            **nutpie_options(s))
    total = s.draws + s.tune
    aborted = False
    while True:
        try:
            if sampler.is_finished:
                break
        except TimeoutError:
            pass
        time.sleep(30)
        elapsed = time.perf_counter() - t0
        done = iterations_done(sampler)
        print(f"{elapsed / 60:5.1f} min: {done}/{total} iterations, projected total "
              f"{projected(elapsed, compile_s, done, total) / 60:.0f} min", flush=True)
        if args.deadline and elapsed > 60 * args.deadline:
            aborted = True
            break
    out: dict[str, Any] = {"machine": machine(), "commit": code, "patients": args.patients,
                           "weeks": args.weeks,
                           "scores": len(data.y), "draws": s.draws, "tune": s.tune,
                           "chains": s.chains, "maxdepth": s.max_tree_depth,
                           "compile_seconds": round(compile_s, 1),
                           "target_minutes": TARGET_MINUTES}
    if aborted:
        done, steps = iterations_done(sampler), steps_so_far(sampler)
        sampler.cancel()
        elapsed = time.perf_counter() - t0
        out.update(aborted_after_minutes=round(elapsed / 60, 1), iterations_done=done,
                   projected_minutes=round(projected(elapsed, compile_s, done, total) / 60, 1),
                   mean_steps_so_far=steps, met_target=False)
    else:
        idata = sampler.wait()
        wall = time.perf_counter() - t0
        d = summarise_diagnostics(idata, checked_names(model), s, (wall, compile_s),
                                  (len(data.patient_ids), len(data.y), len(cohort.sessions)))
        out.update(wall_minutes=round(wall / 60, 1), diagnostics=d.model_dump(),
                   met_target=bool(d.passed and wall < 60 * TARGET_MINUTES))
        print(f"wall {wall / 60:.1f} min; R-hat {d.max_rhat:.3f}, min ESS bulk "
              f"{d.min_ess_bulk:.0f} / tail {d.min_ess_tail:.0f}, {d.divergences} divergences, "
              f"{d.steps_per_draw} steps per draw; passed: {d.passed}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "diagnostics"}), flush=True)


if __name__ == "__main__":
    main()
