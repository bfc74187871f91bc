"""Parameter recovery on a simulated cohort with known truth (default 200 patients).

Fits the model, then reports for every population parameter the truth, the posterior median
and 90 % interval, and whether the interval covers the truth. Writes
bench/results/recovery.json. Usage: python bench/param_recovery.py [--patients 200] [--weeks 16]
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
from common import machine

from recovery.model import PARAMS, SamplerConfig, fit, simulate_cohort
from recovery.model.data.simulate import truth_table
from recovery.model.inference.fit import FittedModel
from recovery.model.predict.population import PopulationDraws

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
    ap.add_argument("--out", type=Path, default=Path("bench/results/recovery.json"))
    args = ap.parse_args()
    cohort, truth = simulate_cohort(args.patients, args.weeks, np.random.default_rng(args.seed))
    fitted = fit(cohort, sampler=SamplerConfig(draws=args.draws, tune=args.tune or args.draws,
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
    args.out.write_text(json.dumps({"patients": args.patients, "weeks": args.weeks,
                                    "machine": machine(), "diagnostics": d.model_dump(),
                                    "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
