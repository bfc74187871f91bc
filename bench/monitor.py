"""The drift monitor's false alarms and detections, over many simulated clinics.

Each clinic: `--patients` simulated patients on one calendar, each forecast on day 35 for the
sessions then planned (as a therapist would), the scores of weeks 6-10 entered after it, and
the monitor's verdict (`recovery.service.monitor.judge` on its RECENT_DAYS window) taken on
seven consecutive days, so every weekday. Clinics from the served model's own population
should leave the flag down (target: <= 5 % of verdicts); clinics from a drifted population
(slower natural course, more pain, weaker relief) should raise it (target: >= 80 %).
Writes bench/results/monitor.json.
Usage: python bench/monitor.py [--seeds 100] [--patients 30]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from common import commit, machine
from tqdm import tqdm

from recovery.model import (
    QUANTILE_KEYS,
    Forecaster,
    ForecastRequest,
    Truth,
    band_scores,
    simulate_cohort,
)
from recovery.service.monitor import RECENT_DAYS, judge

warnings.filterwarnings("ignore")

FORECAST_DAY, WEEKS = 35, 10
START = date(2026, 3, 2)
DRIFTED = Truth(tau_nat=400.0, sigma=1.5, mu_pop={**Truth().mu_pop, "base": 1.4,
                                                   "floor": 0.85, "relief": -2.5})


def clinic(fc: Forecaster, truth: Truth, seed: int, patients: int) -> pd.DataFrame:
    """Every score after the forecast day, with its forecast's bands and their probabilities."""
    cohort, _ = simulate_cohort(patients, WEEKS, np.random.default_rng(seed), truth)
    rows = []
    for cov in cohort.patients.to_dict("records"):
        pid, onset = cov.pop("patient_id"), cov.pop("onset_day")
        pain = cohort.pain[cohort.pain["patient_id"] == pid]
        sessions = cohort.sessions[cohort.sessions["patient_id"] == pid]
        later = pain[pain["day"] >= FORECAST_DAY]
        if later.empty:
            continue
        planned = [float(d) for d in sessions["day"] if d >= FORECAST_DAY]
        f = fc.forecast(ForecastRequest.model_validate({
            "patient": {"covariates": cov, "onset_day": onset},
            "history": {"pain": [{"day": float(d), "score": int(v)} for d, v in zip(
                            pain["day"], pain["score"], strict=True) if d < FORECAST_DAY],
                        "sessions": [{"day": float(d), "kind": k} for d, k in zip(
                            sessions["day"], sessions["kind"], strict=True)
                            if d < FORECAST_DAY]},
            "schedules": [{"name": "planned", "session_days": planned} if planned
                          else {"name": "none"}],
            "start_day": FORECAST_DAY, "horizon_days": 7 * WEEKS - FORECAST_DAY,
            "draws": 300, "seed": seed})).forecasts[0]
        at = np.clip(np.searchsorted(f.days, later["day"]), 0, len(f.days) - 1)
        q = np.array([f.quantiles[k] for k in QUANTILE_KEYS]).T[at]
        rows.append(pd.DataFrame({
            "patient": pid, "date": [START + timedelta(days=int(d)) for d in later["day"]],
            **band_scores(q, later["score"].to_numpy()),
            "p_50": np.array(f.in_band["50"])[at], "p_90": np.array(f.in_band["90"])[at]}))
    return pd.concat(rows, ignore_index=True)


def verdicts(frame: pd.DataFrame) -> list[bool]:
    """The flag on each of seven consecutive days after the last scores."""
    out = []
    for later in range(7):
        today = START + timedelta(days=7 * WEEKS + later)
        out.append(bool(judge(frame[frame["date"] > today - timedelta(days=RECENT_DAYS)])
                        .get("refit_suggested", False)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("data/default_model"))
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--patients", type=int, default=30)
    ap.add_argument("--out", type=Path, default=Path("bench/results/monitor.json"))
    args = ap.parse_args()
    fc = Forecaster.from_directory(args.model)
    t0, result, code = time.perf_counter(), {}, commit()
    for name, truth in (("own population", Truth()), ("drifted population", DRIFTED)):
        flags = np.array([verdicts(clinic(fc, truth, seed, args.patients))
                          for seed in tqdm(range(args.seeds), desc=name)])
        weekdays = [(START + timedelta(days=7 * WEEKS + k)).strftime("%A") for k in range(7)]
        result[name] = {"flag_rate": round(float(flags.mean()), 4),
                        "by_weekday": {d: round(float(r), 3) for d, r in
                                       zip(weekdays, flags.mean(axis=0), strict=True)}}
        print(name, result[name])
    own, drift = result["own population"]["flag_rate"], result["drifted population"]["flag_rate"]
    print(f"false alarms {own:.1%} (target <= 5 %), detections {drift:.1%} (target >= 80 %)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": machine(), "commit": code, "seeds": args.seeds,
        "patients": args.patients, "seconds": round(time.perf_counter() - t0),
        "false_alarm_rate": own, "detection_rate": drift, "populations": result,
        "targets": {"false_alarm_rate_max": 0.05, "detection_rate_min": 0.8}}, indent=1))


if __name__ == "__main__":
    main()
