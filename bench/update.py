"""New-patient update against the exact answer: refitting the hierarchy with the patients in.

Five simulated patients the default model has never seen, with histories of 2 to 40 scores,
are conditioned two ways: (a) the service's importance-sampling update on the bundled model;
(b) a full refit of the hierarchical model on the bundled cohort plus these five. Both forecast
the next 90 days under weekly sessions; we report the largest gap over the days between their
medians and their 90 % bounds (target: within 0.3 NRS). Writes bench/results/update.json.
Usage: python bench/update.py [--draws 2000]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from common import commit, machine

from recovery.model import Cohort, SamplerConfig, fit, load, simulate_cohort
from recovery.model.evaluate import patient_request
from recovery.model.fit import stacked_draws
from recovery.model.forecast import Forecaster, paths, residual_quantiles
from recovery.model.requests import History, PatientInfo
from recovery.model.schedules import SessionPlan
from recovery.model.update import PatientData, PatientDraws, patient_draws

warnings.filterwarnings("ignore")
LENGTHS = (2, 5, 10, 20, 40)


def new_patients(seed: int) -> Cohort:
    """Five unseen patients; patient k keeps only its first LENGTHS[k] scores."""
    sim, _ = simulate_cohort(len(LENGTHS), 20, np.random.default_rng(seed))
    ren = {pid: f"new{k}" for k, pid in enumerate(sim.patient_ids)}
    pain, ses = sim.pain.replace({"patient_id": ren}), sim.sessions.replace({"patient_id": ren})
    keep_p, keep_s = [], []
    for k, pid in enumerate(ren.values()):
        p = pain[pain["patient_id"] == pid].head(LENGTHS[k])
        keep_p.append(p)
        keep_s.append(ses[(ses["patient_id"] == pid) & (ses["day"] <= p["day"].max())])
    return Cohort.from_frames(sim.patients.replace({"patient_id": ren}),
                              pd.concat(keep_s), pd.concat(keep_p))


def history(c: Cohort, pid: str) -> tuple[History, PatientInfo]:
    pain, ses = c.pain[c.pain["patient_id"] == pid], c.sessions[c.sessions["patient_id"] == pid]
    row = c.patients.set_index("patient_id").loc[pid]
    return patient_request(row, pain, ses, list(row.index))


def quantiles(fc: Forecaster, draws: PatientDraws, pd_: PatientData, start: float) -> np.ndarray:
    plan = SessionPlan(start + np.arange(1.0, 90.0, 7.0), np.array(["massage"] * 13, object))
    days = start + np.arange(1.0, 91.0)
    p = paths(draws, pd_, plan, days, len(days), fc.config, fc.kinds)
    x = np.clip(p.m + p.s * residual_quantiles(len(draws), np.random.default_rng(0)), 0, 10)
    return np.quantile(x, [0.05, 0.5, 0.95], axis=0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("data/default_model"))
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--out", type=Path, default=Path("bench/results/update.json"))
    args = ap.parse_args()
    code = commit()  # before the run: files edited meanwhile do not change what runs
    base = load(args.model)
    new = new_patients(args.seed)
    both = Cohort.from_frames(pd.concat([base.cohort.patients, new.patients]),
                              pd.concat([base.cohort.sessions, new.sessions]),
                              pd.concat([base.cohort.pain, new.pain]))
    refit = fit(both, base.config, SamplerConfig(draws=args.draws, tune=1500, random_seed=5,
                                                 keep_draws=args.draws))
    print("refit diagnostics:", refit.diagnostics.problems or "passed")
    fc, fc_exact = Forecaster(base), Forecaster(refit, max_population_draws=10**6)
    theta = stacked_draws(refit.idata, "theta")
    rows = []
    for pid in new.patient_ids:
        hist, info = history(new, pid)
        start = hist.last_day
        t0 = time.perf_counter()
        pd_, approx, how = fc.patient(info, hist, start, 4000, np.random.default_rng(1))
        ms = 1000 * (time.perf_counter() - t0)
        i = refit.data.patient_ids.index(pid)
        exact = patient_draws(theta[:, i], fc_exact.population.globals, pd_, fc_exact.config,
                              fc_exact.kinds)
        gap = np.abs(quantiles(fc, approx, pd_, start) - quantiles(fc, exact, pd_, start))
        rows.append({"patient": pid, "scores": len(hist.pain), "update_ms": round(ms, 1),
                     "ess": how.ess, "method": how.method,
                     "max_gap_q5": round(float(gap[0].max()), 3),
                     "max_gap_median": round(float(gap[1].max()), 3),
                     "max_gap_q95": round(float(gap[2].max()), 3)})
        print(rows[-1])
    worst = max(max(r["max_gap_q5"], r["max_gap_median"], r["max_gap_q95"]) for r in rows)
    print(f"worst gap over 5 patients x 90 days x (5 %, 50 %, 95 %): {worst:.3f} NRS "
          f"(target < 0.3)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "worst_gap": worst, "target": 0.3,
                                    "machine": machine(), "commit": code,
                                    "refit": refit.diagnostics.model_dump()}, indent=1))


if __name__ == "__main__":
    main()
