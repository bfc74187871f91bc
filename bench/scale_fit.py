"""Benchmark: a large cohort fitted end to end by the subsample strategy (NUTS on a stratified
subsample until its gate passes, then every patient updated and forecast on a local Dask
cluster of 2 workers), and, with --full, by NUTS on every patient of the same cohort.

Both are judged on the same things: wall time, the population posterior (means and SDs of the
population means, between-patient SDs and covariate effects; effects' 90 % interval widths),
and held-out forecasts of new patients (their last 6 weeks hidden): CRPS and 90 % coverage.
Rows are added to bench/results/scale_fit.json, keyed by patients, weeks and method.
Usage: python bench/scale_fit.py --patients 2000 --weeks 26 [--subsample N] [--full]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from common import commit, machine, model_description

from recovery.engine.cohort_fit import CohortFitPlan, fit_cohort, subsample_size
from recovery.model import PARAMS, ModelConfig, SamplerConfig, simulate_cohort
from recovery.model.checks.evaluate import evaluate
from recovery.model.data.cohort import Cohort
from recovery.model.inference.fit import FittedModel, fit
from recovery.model.predict.forecast import Forecaster
from recovery.model.predict.population import PopulationDraws

warnings.filterwarnings("ignore")
TARGET_MINUTES = 30.0
OUT = Path("bench/results/scale_fit.json")


def population(fitted: FittedModel) -> dict[str, np.ndarray]:
    """Posterior draws of the population quantities, one column per named quantity."""
    pop = PopulationDraws.from_fitted(fitted)
    sd = np.sqrt(np.einsum("sij,sij->si", pop.chol, pop.chol))  # sqrt(diag(L L^T))
    effects = [f"beta[{p}, {c}]" for p, c in fitted.config.effect_pairs()]
    cols = {f"mu_pop[{p}]": pop.mu_pop[:, i] for i, p in enumerate(PARAMS)}
    cols |= {f"patient_sd[{p}]": sd[:, i] for i, p in enumerate(PARAMS)}
    return cols | {name: pop.beta[:, j] for j, name in enumerate(effects)}


def judged(fitted: FittedModel, heldout: Cohort, wall: float, n: int) -> dict[str, Any]:
    """Wall time, diagnostics, held-out forecast quality and the population's summary."""
    report = evaluate(Forecaster(fitted), heldout, holdout_days=42, draws=500, seed=1)
    model = report.methods["model"]
    pop = population(fitted)
    d = fitted.diagnostics
    return {
        "wall_seconds": round(wall, 1), "seconds_per_patient": round(wall / n, 3),
        "nuts_patients": d.n_patients, "draws": d.draws, "max_rhat": round(d.max_rhat or 0, 4),
        "min_ess_bulk": round(d.min_ess_bulk or 0, 1),
        "min_ess_tail": round(d.min_ess_tail or 0, 1),
        "divergences": d.divergences, "gate_passed": d.passed, "nuts_seconds": d.wall_seconds,
        "cohort_update": None if d.cohort_update is None else d.cohort_update.model_dump(),
        "heldout": {"patients": report.patients, "scores": report.held_out_scores,
                    "crps": round(model.crps, 4), "coverage_90": round(model.coverage_90, 4),
                    "coverage_50": round(model.coverage_50, 4)},
        "population": {k: [round(float(v.mean()), 4), round(float(v.std()), 4),
                           round(float(np.diff(np.quantile(v, [0.05, 0.95]))[0]), 4)]
                       for k, v in pop.items()},  # mean, sd, 90 % interval width
    }


def compare(sub: dict[str, Any], full: dict[str, Any]) -> dict[str, Any]:
    """The subsample fit against full NUTS: mean shifts in full-NUTS SDs, SD ratios, CRPS."""
    shift, ratio = {}, {}
    for k, (m_full, s_full, _) in full["population"].items():
        m_sub, s_sub, _ = sub["population"][k]
        shift[k] = round((m_sub - m_full) / max(s_full, 1e-9), 2)
        ratio[k] = round(s_sub / max(s_full, 1e-9), 2)
    crps_full = full["heldout"]["crps"]
    return {"crps_relative_difference": round(sub["heldout"]["crps"] / crps_full - 1, 4),
            "max_abs_mean_shift_in_full_sds": max(abs(v) for v in shift.values()),
            "median_sd_ratio": round(float(np.median(list(ratio.values()))), 2),
            "mean_shift_in_full_sds": shift, "sd_ratio": ratio}


def save(row: dict[str, Any]) -> None:
    rows = json.loads(OUT.read_text()).get("rows", []) if OUT.exists() else []
    key = (row["patients"], row["weeks"], row["subsample"])
    rows = [r for r in rows if (r["patients"], r["weeks"], r.get("subsample")) != key] + [row]
    rows.sort(key=lambda r: (r["weeks"], r["patients"]))
    OUT.write_text(json.dumps({"machine": machine(), "model": model_description(),
                               "target_minutes": TARGET_MINUTES, "rows": rows}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--weeks", type=float, default=26)
    ap.add_argument("--subsample", type=int, default=None, help="default: the CLI's")
    ap.add_argument("--heldout", type=int, default=60, help="new patients for held-out scores")
    ap.add_argument("--full", action="store_true", help="also NUTS on every patient (500+500)")
    ap.add_argument("--draws", type=int, default=1000, help="the CLI's default; lower to try")
    ap.add_argument("--max-minutes", type=float, default=None, help="the NUTS part's budget")
    args = ap.parse_args()
    rng = np.random.default_rng(args.patients)
    cohort, _ = simulate_cohort(args.patients, args.weeks, rng)
    heldout, _ = simulate_cohort(args.heldout, args.weeks, np.random.default_rng(7))
    row: dict[str, Any] = {"commit": commit(), "patients": args.patients, "weeks": args.weeks,
                           "scores": len(cohort.pain),
                           "subsample": subsample_size(cohort, CohortFitPlan(
                               "subsample", args.subsample)),
                           "default_subsample": args.subsample is None}
    sampler = SamplerConfig(draws=args.draws, tune=args.draws, max_draws=10 * args.draws,
                            max_minutes=args.max_minutes, progress_bar=False)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        fitted = fit_cohort(cohort, sampler, CohortFitPlan("subsample", args.subsample,
                                                           workers=2), Path(tmp) / "patients")
    wall = time.perf_counter() - t0
    row["subsample_fit"] = judged(fitted, heldout, wall, args.patients)
    row["met_target"] = bool(fitted.diagnostics.passed and wall < 60 * TARGET_MINUTES)
    print(json.dumps({k: v for k, v in row["subsample_fit"].items() if k != "population"}),
          flush=True)
    if args.full:
        t0 = time.perf_counter()
        half = min(500, args.draws)
        full = fit(cohort, ModelConfig(), SamplerConfig(draws=half, tune=half, progress_bar=False))
        row["full_nuts"] = judged(full, heldout, time.perf_counter() - t0, args.patients)
        row["subsample_vs_full"] = compare(row["subsample_fit"], row["full_nuts"])
        print(json.dumps({k: v for k, v in row["full_nuts"].items() if k != "population"}),
              json.dumps({k: v for k, v in row["subsample_vs_full"].items()
                          if not isinstance(v, dict)}), flush=True)
    save(row)


if __name__ == "__main__":
    main()
