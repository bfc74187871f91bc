"""`recovery forecast-batch` on Dask: chunks of patients go to workers, tidy Parquet comes back.

Memory stays bounded: at most `2 x workers` chunks are in flight, each finished chunk is
appended to the Parquet files and released, and a worker holds one patient's draws at a time.
The output directory appears only once every chunk is written (a temporary directory renamed
into place), so a failed or interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from distributed import Client, as_completed

from recovery.model.data.cohort import Cohort
from recovery.model.predict.batch import (
    TABLE_COLUMNS,
    BatchSpec,
    Tables,
    forecast_patients,
    split_cohort,
)
from recovery.model.predict.forecast import Forecaster
from recovery.model.predict.update import kind_indices
from recovery.model.requests import ForecastRequest

__all__ = ["SCHEMAS", "BatchResult", "BatchSpec", "check_batch", "run_batch"]

_TYPES = {"patient_id": pa.string(), "schedule": pa.string(), "error": pa.string(),
          "parameter": pa.string(), "method": pa.string(), "rank": pa.int64(),
          "sessions": pa.int64(), "scores": pa.int64(), "low_ess": pa.bool_()}
SCHEMAS = {name: pa.schema([(c, _TYPES.get(c, pa.float64())) for c in columns])
           for name, columns in TABLE_COLUMNS.items()}  # columns not typed above: float64


@dataclass(frozen=True)
class BatchResult:
    """What a batch wrote and how long it took."""

    out: str
    patients: int
    failed: int
    trajectory_rows: int
    seconds: float
    workers: int
    model_version: str


class _Writers:
    """One Parquet writer per table, appended chunk by chunk."""

    def __init__(self, directory: Path) -> None:
        self.writers = {name: pq.ParquetWriter(directory / f"{name}.parquet", schema)
                        for name, schema in SCHEMAS.items()}
        self.rows = dict.fromkeys(SCHEMAS, 0)

    def write(self, tables: Tables) -> None:
        for name, writer in self.writers.items():
            frame = getattr(tables, name)
            if len(frame):
                writer.write_table(pa.Table.from_pandas(frame, schema=SCHEMAS[name],
                                                        preserve_index=False))
                self.rows[name] += len(frame)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def run_batch(fc: Forecaster, cohort: Cohort, spec: BatchSpec, out: Path,
              client: Client | None = None, chunk_size: int = 25,
              on_chunk: Callable[[int], None] = lambda n: None) -> BatchResult:
    """Forecast every patient under every schedule; on `client`'s cluster, or in this process
    when client is None (the same chunk function either way)."""
    t0 = time.perf_counter()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    writers = _Writers(tmp)
    try:
        chunks = split_cohort(cohort, chunk_size)
        if client is None:
            for chunk in chunks:
                writers.write(forecast_patients(fc, chunk, spec))
                on_chunk(len(chunk.patients))
            workers = 1
        else:
            workers = len(client.scheduler_info()["workers"])
            _on_cluster(client, fc, chunks, spec, writers, on_chunk, 2 * workers)
        writers.close()
        result = BatchResult(str(out), len(cohort.patient_ids), writers.rows["errors"],
                             writers.rows["trajectories"], round(time.perf_counter() - t0, 2),
                             workers, fc.model_version)
        manifest = {**asdict(result), "horizon_days": spec.horizon_days, "draws": spec.draws,
                    "target_score": spec.target_score, "seed": spec.seed,
                    "schedules": [s.model_dump(exclude_none=True) for s in spec.schedules]}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
        return result
    except BaseException:
        writers.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _on_cluster(client: Client, fc: Forecaster, chunks: Any, spec: BatchSpec,
                writers: _Writers, on_chunk: Callable[[int], None], limit: int) -> None:
    """Keep at most `limit` chunks in flight; write each as it finishes, then release it."""
    model = client.scatter(fc, broadcast=True)  # sent once per worker, not once per chunk
    running = as_completed([client.submit(forecast_patients, model, c, spec, pure=False)
                            for c in islice(chunks, limit)])
    for future in running:
        tables = future.result()
        future.release()
        writers.write(tables)
        on_chunk(len(tables.updates) + len(tables.errors))
        for c in islice(chunks, 1):
            running.add(client.submit(forecast_patients, model, c, spec, pure=False))


def check_batch(fc: Forecaster, spec: BatchSpec) -> None:
    """Refuse up front what would fail for every patient: the work limits of one forecast
    (a pydantic ValidationError) and session kinds the model does not know (PatientError)."""
    ForecastRequest(schedules=list(spec.schedules), horizon_days=spec.horizon_days,
                    draws=spec.draws, start_day=0.0)
    for i, s in enumerate(spec.schedules):
        kind_indices(fc.kinds, [s.kind, *(p.kind for p in s.phases or [])], f"schedules.{i}.kind")
