"""Latency of the answers beyond the forecast, one process after warm-up, on the bundled model:
the sessions-vs-pain frontier (60 schedules on the same 1000 draws, 182-day horizon; target
under 5 s), the explanation of one schedule and the booking answer, for the forecast
benchmark's reference patient (30 scores, 10 sessions). Writes bench/results/answers.json.
Usage: python bench/answers.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import machine
from forecast import request

from recovery.model import BookingRequest, ExplainRequest, OptimiseRequest, booking, explain
from recovery.model.predict.forecast import Forecaster
from recovery.model.predict.frontier import family, frontier

warnings.filterwarnings("ignore")


def timed(name: str, work: Callable[[int], Any], repeats: int) -> dict[str, Any]:
    for seed in range(2):
        work(seed)  # warm-up
    s = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        work(seed)
        s.append(time.perf_counter() - t0)
    out = {"answer": name, "median_s": round(float(np.median(s)), 3),
           "p95_s": round(float(np.percentile(s, 95)), 3), "repeats": repeats}
    print(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("data/default_model"))
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("bench/results/answers.json"))
    args = ap.parse_args()
    fc = Forecaster.from_directory(args.model)

    def asked(seed: int) -> dict[str, Any]:
        r = request(30, 182, seed)
        return {"patient": r.patient.model_dump(), "history": r.history.model_dump(),
                "start_day": r.start_day, "draws": 1000, "seed": seed}

    candidates = len(family("massage", 182))
    rows = [
        timed(f"frontier ({candidates} schedules, 182 days)", lambda seed: frontier(
            fc, OptimiseRequest.model_validate({**asked(seed), "horizon_days": 182})),
            args.repeats),
        timed("explain (one schedule, 182 days)", lambda seed: explain(
            fc, ExplainRequest.model_validate({**asked(seed), "horizon_days": 182,
                                               "schedule": {"name": "weekly_taper"}})),
            args.repeats),
        timed("booking (26-week window)", lambda seed: booking(
            fc, BookingRequest.model_validate(asked(seed))), args.repeats)]
    print(f"frontier: median {rows[0]['median_s']} s for {candidates} schedules (target < 5 s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "draws": 1000, "rows": rows},
                                   indent=1))


if __name__ == "__main__":
    main()
