"""Forecast latency for a new patient: one process, after warm-up, on the bundled model.

The reference case: 30 scores, 10 past sessions, 3 schedules, 180-day horizon, 1000 predictive
draws (targets: median < 150 ms for 30 scores, < 400 ms for 120, < 1.5 s for 365; p95 within
2x the median). Also how it grows with history length (10 to 365 scores) and horizon (90, 365
days), and which update method ran. Writes bench/results/forecast.json.
Usage: python bench/forecast.py [--repeats 40]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from common import machine

from recovery.model.predict.forecast import Forecaster
from recovery.model.requests import ForecastRequest

warnings.filterwarnings("ignore")


def request(n_scores: int, horizon: int, seed: int) -> ForecastRequest:
    rng = np.random.default_rng(seed)
    days = np.sort(rng.choice(np.arange(2 * n_scores), n_scores, replace=False))
    scores = np.clip(np.round(7 - 3 * days / days.max() + rng.normal(0, 0.8, n_scores)), 0, 10)
    start = float(days[-1]) + 1
    return ForecastRequest.model_validate({
        "patient": {"covariates": {"chronic": 1, "adherence": 0.6, "stress": 5}},
        "history": {"pain": [{"day": int(d), "score": int(s)} for d, s in
                             zip(days, scores, strict=True)],
                    "sessions": [{"day": float(d), "kind": "massage"}
                                 for d in np.linspace(0, days[-1], 10)]},
        "schedules": [{"name": "weekly_taper"}, {"name": "recovery_then_maintenance"},
                      {"name": "none"}],
        "start_day": start, "horizon_days": horizon, "target_score": 3, "draws": 1000,
        "seed": seed})


def timed(fc: Forecaster, n_scores: int, horizon: int, repeats: int) -> dict[str, float]:
    reqs = [request(n_scores, horizon, seed) for seed in range(repeats)]
    for r in reqs[:3]:
        fc.forecast(r)  # warm-up
    ms, methods = [], []
    for r in reqs:
        t0 = time.perf_counter()
        methods.append(fc.forecast(r).update.method)
        ms.append(1000 * (time.perf_counter() - t0))
    out = {"scores": n_scores, "horizon_days": horizon, "median_ms": round(np.median(ms), 1),
           "p95_ms": round(float(np.percentile(ms, 95)), 1), "repeats": repeats,
           "smc_share": round(methods.count("smc") / len(methods), 2)}
    print(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("data/default_model"))
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--out", type=Path, default=Path("bench/results/forecast.json"))
    args = ap.parse_args()
    fc = Forecaster.from_directory(args.model)
    cases = [(30, 180), (10, 180), (120, 180), (365, 180), (30, 90), (30, 365)]
    rows = [timed(fc, n, h, args.repeats) for n, h in cases]
    ref = rows[0]
    print(f"reference (30 scores, 180 days): median {ref['median_ms']} ms, p95 {ref['p95_ms']} "
          "ms (targets: 150 ms at 30 scores, 400 at 120, 1500 at 365)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": machine(),
        "draws": 1000, "schedules": 3, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
