"""Benchmark: `forecast-batch` throughput on Dask (1 and 2 local workers) and a 10,000-patient
run, with peak memory of the client and its workers sampled every 0.2 s.

Bounded memory shows as a peak that does not grow with the cohort: chunks stream through.
Writes bench/results/forecast_batch.json.
Usage: python bench/forecast_batch.py [--patients 400] [--big 10000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np
import psutil
from common import machine

from recovery.engine import connect, run_batch
from recovery.model import Forecaster, load, simulate_cohort
from recovery.model.predict.batch import BatchSpec
from recovery.model.requests import ScheduleSpec

warnings.filterwarnings("ignore")


class PeakMemory:
    """Peak RSS (MiB) of this process and of all its children, sampled in a thread."""

    def __init__(self) -> None:
        self.peak_total = self.peak_child = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.2):
            kids = [c.memory_info().rss for c in me.children(recursive=True)
                    if c.is_running()]
            total = me.memory_info().rss + sum(kids)
            self.peak_total = max(self.peak_total, total / 2**20)
            self.peak_child = max(self.peak_child, max(kids, default=0) / 2**20)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(fc: Forecaster, n: int, workers: int, spec: BatchSpec) -> dict[str, float]:
    cohort, _ = simulate_cohort(n, 12, np.random.default_rng(n))
    with tempfile.TemporaryDirectory() as tmp, connect(None, workers) as client, \
            PeakMemory() as mem:
        client.run(lambda: None)  # workers up before the clock starts
        res = run_batch(fc, cohort, spec, Path(tmp) / "out", client)
    row = {"patients": n, "workers": workers, "seconds": res.seconds,
           "patients_per_second": round(n / res.seconds, 2), "failed": res.failed,
           "trajectory_rows": res.trajectory_rows,
           "peak_rss_mib_total": round(mem.peak_total), "peak_rss_mib_worker": round(
               mem.peak_child)}
    print(f"{n:>6} patients, {workers} worker(s): {res.seconds:7.1f} s, "
          f"{row['patients_per_second']:6.2f} patients/s, peak RSS {row['peak_rss_mib_total']}"
          f" MiB in all, {row['peak_rss_mib_worker']} MiB per worker", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("data/default_model"))
    ap.add_argument("--patients", type=int, default=400)
    ap.add_argument("--big", type=int, default=10_000)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--horizon", type=int, default=90)
    ap.add_argument("--out", type=Path, default=Path("bench/results/forecast_batch.json"))
    args = ap.parse_args()
    fc = Forecaster(load(args.model))
    spec = BatchSpec((ScheduleSpec(name="recovery_then_stop"),
                      ScheduleSpec(name="recovery_then_maintenance")),
                     horizon_days=args.horizon, draws=args.draws)
    rows = [run(fc, args.patients, 1, spec), run(fc, args.patients, 2, spec)]
    if args.big:
        rows.append(run(fc, args.big, 2, spec))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "schedules": 2, "draws": args.draws,
                                    "horizon_days": args.horizon, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
