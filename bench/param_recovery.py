"""Parameter recovery on a simulated cohort with known truth (default 200 patients), in
either world (--world evidence|articles).

Fits the model (or reads a fitted model directory, --model, with the truth.json that
`recovery simulate` wrote beside its cohort, --truth), then reports for every population
parameter the truth, the posterior median and 90 % interval, and whether the interval covers
the truth. Writes bench/results/recovery-<world>.json.
Usage: python bench/param_recovery.py [--patients 200] [--weeks 16] [--world evidence]
       [--model DIR --truth FILE]
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
from common import machine

from recovery.model import PARAMS, WORLDS, SamplerConfig, fit, load, simulate_cohort
from recovery.model.inference.fit import FittedModel
from recovery.model.predict.population import PopulationDraws
from recovery.model.simulation.simulate import truth_table

warnings.filterwarnings("ignore")


def draws_of(fitted: FittedModel, sds: np.ndarray, name: str) -> np.ndarray:
    """The posterior draws of one truth_table entry; sds (draws, 8) are the between-patient
    SDs, from the LKJ block's Cholesky factor or patient_sd_other."""
    var, _, idx = name.partition("[")
    idx = idx.rstrip("]")
    if var == "patient_sd":
        return sds[:, PARAMS.index(idx)]
    x = fitted.idata["posterior"][var]
    return np.asarray(x.sel({x.dims[-1]: idx}) if idx else x).ravel()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=200)
    ap.add_argument("--weeks", type=float, default=16)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=None, help="tuning steps (default: --draws)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--world", choices=sorted(WORLDS), default="evidence")
    ap.add_argument("--model", type=Path, help="a fitted model directory instead of a new fit")
    ap.add_argument("--truth", type=Path, help="with --model: the cohort's truth.json")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    args.out = args.out or Path(f"bench/results/recovery-{args.world}.json")
    if args.model:
        fitted, truth = load(args.model), json.loads(args.truth.read_text())
    else:
        cohort, truth = simulate_cohort(args.patients, args.weeks,
                                        np.random.default_rng(args.seed), WORLDS[args.world])
        fitted = fit(cohort, sampler=SamplerConfig(draws=args.draws,
                                                   tune=args.tune or args.draws,
                                                   progress_bar=True))
    chol = PopulationDraws.from_fitted(fitted).chol
    sds = np.sqrt((chol**2).sum(axis=2))
    rows = []
    for name, value in truth_table(truth).items():
        q5, q50, q95 = np.quantile(draws_of(fitted, sds, name), [0.05, 0.5, 0.95])
        rows.append({"parameter": name, "truth": round(value, 4), "median": round(q50, 4),
                     "q5": round(q5, 4), "q95": round(q95, 4),
                     "covered": bool(q5 <= value <= q95)})
        print(f"{name:32} truth {value:8.3f}  median {q50:8.3f}  90% [{q5:8.3f}, {q95:8.3f}]"
              f"  {'ok' if q5 <= value <= q95 else 'MISSED'}")
    d = fitted.diagnostics
    covered = np.mean([r["covered"] for r in rows])
    print(f"\ncovered {covered:.0%} of {len(rows)} | max R-hat {d.max_rhat:.3f} | "
          f"min ESS {d.min_ess_bulk:.0f} | divergences {d.divergences} | {d.wall_seconds:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"world": args.world, "patients": truth["n_patients"],
                                    "weeks": truth["weeks"], "covered": covered,
                                    "machine": machine(), "diagnostics": d.model_dump(),
                                    "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
