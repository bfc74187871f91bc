"""New-patient update against the exact answer: refitting the hierarchy with the patients in.

Patients the default model has never seen, with diaries of 2, 10, 30, 60, 120 and 365 scores
in four shapes (flat without care; steady improvement under weekly massage; a responder with
three days of relief after each weekly massage; a noisy diary with gaps, massage twice a
week), are conditioned two ways: (a) the service's update (importance sampling, or tempered
SMC when that degenerates); (b) a full refit of the hierarchical model on the bundled cohort
plus these patients, whose draws of each patient are the exact answer. Both forecast the next
90 days under weekly sessions; we report the largest gap over the days between their medians
and their 90 % bounds (target: within 0.3 NRS) and the update's effective draws (target:
>= 400). The update runs on the refit's population, so the gap is the update's own error; the
gap of an update on the bundled model (which has not seen the 24 patients) is reported beside
it: it adds how far 24 patients, some with a year of scores, move the population. Writes
bench/results/update.json. The refit is kept in --refit-dir (bench/results/update_refit, not
committed) and reused when present, so the update side can be re-measured alone.
Usage: python bench/update.py [--draws 2000] [--refit-dir DIR]
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

from recovery.model import Cohort, SamplerConfig, fit, load, save
from recovery.model.checks.evaluate import patient_request
from recovery.model.data.schedules import SessionPlan
from recovery.model.inference.fit import stacked_draws
from recovery.model.predict.forecast import Forecaster, paths, residual_quantiles
from recovery.model.predict.update import PatientData, PatientDraws, patient_draws
from recovery.model.requests import History, PatientInfo

warnings.filterwarnings("ignore")
LENGTHS = (2, 10, 30, 60, 120, 365)
SHAPES = ("flat", "improving", "sawtooth", "noisy_gaps")


def diary(shape: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """(score days, scores, massage days) of one diary of n scores in the given shape."""
    if shape == "noisy_gaps":  # scores on about half the days, a week off every 6 weeks
        days = np.flatnonzero((rng.random(4 * n + 14) < 0.5) & (np.arange(4 * n + 14) % 42 < 35))
        days = days[:n].astype(float)
        level = np.full(n, 6.0) + rng.normal(0.0, 1.2, n)
        return days, level, np.arange(0.0, days[-1] + 1.0, 3.5)
    days = np.arange(float(n))
    weekly = np.arange(0.0, n, 7.0)
    if shape == "flat":
        return days, 6.5 + rng.normal(0.0, 0.5, n), np.empty(0)
    if shape == "improving":
        return days, 7.0 - 4.0 * days / max(n - 1, 1) + rng.normal(0.0, 0.5, n), weekly
    relief = np.isin(days % 7, (1, 2, 3)) & (days >= 1)
    return days, np.where(relief, 4.5, 7.0) + rng.normal(0.0, 0.4, n), weekly


def new_patients(seed: int) -> Cohort:
    """One unseen patient per shape and history length (chronic, average covariates)."""
    rng = np.random.default_rng(seed)
    pats, pain, ses = [], [], []
    for shape in SHAPES:
        for n in LENGTHS:
            pid = f"{shape}_{n}"
            days, level, massage = diary(shape, n, rng)
            pats.append({"patient_id": pid, "chronic": 1.0, "structural_cause": 0.0,
                         "adherence": 0.6, "age": 45.0, "stress": 5.0})
            pain.append(pd.DataFrame({"patient_id": pid, "day": days,
                                      "score": np.clip(np.round(level), 0, 10).astype(int)}))
            ses.append(pd.DataFrame({"patient_id": pid, "day": massage[massage <= days[-1]],
                                     "kind": "massage"}))
    return Cohort.from_frames(pd.DataFrame(pats), pd.concat(ses), pd.concat(pain))


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
    ap.add_argument("--refit-dir", type=Path, default=Path("bench/results/update_refit"))
    args = ap.parse_args()
    code = commit()  # before the run: files edited meanwhile do not change what runs
    base = load(args.model)
    new = new_patients(args.seed)
    both = Cohort.from_frames(pd.concat([base.cohort.patients, new.patients]),
                              pd.concat([base.cohort.sessions, new.sessions]),
                              pd.concat([base.cohort.pain, new.pain]))
    if (args.refit_dir / "posterior.nc").exists():
        refit = load(args.refit_dir)
    else:
        refit = fit(both, base.config, SamplerConfig(draws=args.draws, tune=1500, random_seed=5,
                                                     keep_draws=args.draws))
        save(refit, args.refit_dir)
    print("refit diagnostics:", refit.diagnostics.problems or "passed")
    fc_base, fc = Forecaster(base), Forecaster(refit)
    exact_pop = Forecaster(refit, max_population_draws=10**6).population.globals
    theta = stacked_draws(refit.idata, "theta")
    rows = []
    for pid in new.patient_ids:
        hist, info = history(new, pid)
        start = hist.last_day
        t0 = time.perf_counter()
        pd_, approx, how = fc.patient(info, hist, start, 4000, np.random.default_rng(1))
        ms = 1000 * (time.perf_counter() - t0)
        exact = patient_draws(theta[:, refit.data.patient_ids.index(pid)], exact_pop, pd_,
                              fc.config, fc.kinds)
        q_exact = quantiles(fc, exact, pd_, start)
        gap = np.abs(quantiles(fc, approx, pd_, start) - q_exact)
        _, unseen, _ = fc_base.patient(info, hist, start, 4000, np.random.default_rng(1))
        shift = np.abs(quantiles(fc, unseen, pd_, start) - q_exact).max()
        rows.append({"patient": pid, "scores": len(hist.pain), "update_ms": round(ms, 1),
                     "ess": how.ess, "method": how.method,
                     "max_gap_q5": round(float(gap[0].max()), 3),
                     "max_gap_median": round(float(gap[1].max()), 3),
                     "max_gap_q95": round(float(gap[2].max()), 3),
                     "max_gap_on_bundled_model": round(float(shift), 3)})
        print(rows[-1])
    worst = max(max(r["max_gap_q5"], r["max_gap_median"], r["max_gap_q95"]) for r in rows)
    print(f"worst gap over {len(rows)} patients x 90 days x (5 %, 50 %, 95 %): {worst:.3f} NRS "
          f"(target < 0.3); smallest ESS {min(r['ess'] for r in rows):.0f} (target >= 400)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "worst_gap": worst, "target": 0.3,
                                    "machine": machine(), "commit": code,
                                    "refit": refit.diagnostics.model_dump()}, indent=1))


if __name__ == "__main__":
    main()
