"""Cohort-wide forecasts: every patient of a cohort under every schedule, as tidy tables,
with each patient's posterior parameters and how well their update went.

Pure and engine-free: `forecast_patients` turns one chunk of patients into rows; the Dask
layer (recovery.engine) only decides where chunks run. Each patient's random seed comes from
their id, so results do not depend on how patients are chunked or where they run.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import ValidationError

from recovery.model.config import PARAMS, ModelConfig
from recovery.model.data.cohort import Cohort, patient_request
from recovery.model.errors import RecoveryError
from recovery.model.likelihood.kernel import transform
from recovery.model.predict.forecast import Forecaster
from recovery.model.requests import QUANTILES, ForecastRequest, ForecastResponse, ScheduleSpec

__all__ = ["ERROR_COLUMNS", "PARAMETER_COLUMNS", "SUMMARY_COLUMNS", "TABLE_COLUMNS",
           "TRAJECTORY_COLUMNS", "UPDATE_COLUMNS", "BatchSpec", "PatientTables", "Tables",
           "forecast_patients", "split_cohort"]


@dataclass(frozen=True)
class BatchSpec:
    """What to forecast for every patient: schedules, horizon, draws, target, seed."""

    schedules: tuple[ScheduleSpec, ...]
    horizon_days: int = 180
    draws: int = 1000
    target_score: float = 3.0
    seed: int = 0


@dataclass(frozen=True)
class PatientTables:
    """A chunk of a cohort: some patients with their scores and sessions."""

    patients: pd.DataFrame
    pain: pd.DataFrame
    sessions: pd.DataFrame


@dataclass(frozen=True)
class Tables:
    """Tidy output of a chunk: per-day quantiles, per-schedule summaries, each patient's
    posterior parameters (natural scale) and update, per-patient errors."""

    trajectories: pd.DataFrame
    summaries: pd.DataFrame
    parameters: pd.DataFrame
    updates: pd.DataFrame
    errors: pd.DataFrame


def split_cohort(cohort: Cohort, chunk_size: int) -> Iterator[PatientTables]:
    """The cohort in chunks of `chunk_size` patients (in the cohort's patient order)."""
    ids = cohort.patient_ids
    for lo in range(0, len(ids), chunk_size):
        chunk = ids[lo : lo + chunk_size]
        yield PatientTables(*(_rows_of(f, chunk) for f in
                              (cohort.patients, cohort.pain, cohort.sessions)))


def _rows_of(frame: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    return frame[frame["patient_id"].isin(ids)].reset_index(drop=True)


def patient_seed(patient_id: str, seed: int) -> int:
    """A seed that depends on the patient and the batch seed only (stable across runs)."""
    return (zlib.crc32(patient_id.encode()) + 1_000_003 * seed) % 2**31


def forecast_patients(fc: Forecaster, chunk: PatientTables, spec: BatchSpec) -> Tables:
    """Forecast every patient of a chunk from the day after their last record."""
    traj, summ, params, updates, errs = [], [], [], [], []
    covs = [c for c in fc.config.covariates if c in chunk.patients.columns]
    pain, sessions = chunk.pain.groupby("patient_id"), chunk.sessions.groupby("patient_id")
    empty_p, empty_s = chunk.pain.iloc[:0], chunk.sessions.iloc[:0]
    for _, row in chunk.patients.iterrows():
        pid = str(row["patient_id"])
        p = pain.get_group(pid) if pid in pain.groups else empty_p
        s = sessions.get_group(pid) if pid in sessions.groups else empty_s
        try:
            hist, info = patient_request(row, p, s, covs)
            last = pd.concat([p["day"], s["day"]]).max()  # NaN for a patient with no records
            req = ForecastRequest(patient=info, history=hist, schedules=list(spec.schedules),
                                  start_day=float(last) + 1.0 if pd.notna(last) else 0.0,
                                  horizon_days=spec.horizon_days, target_score=spec.target_score,
                                  draws=spec.draws, seed=patient_seed(pid, spec.seed))
            res, post = fc.forecast_with_draws(req)
        except (RecoveryError, ValidationError, ValueError) as exc:
            errs.append({"patient_id": pid, "error": f"{type(exc).__name__}: {exc}"[:500]})
            continue
        traj.append(_trajectory_rows(pid, res))
        summ.append(_summary_rows(pid, req.start_day, res))
        params.append(_parameter_rows(pid, post.theta, fc.config))
        updates.append({"patient_id": pid, "scores": len(p), "method": res.update.method,
                        "ess": res.update.ess, "low_ess": res.update.low_ess})
    return Tables(_concat(traj, TRAJECTORY_COLUMNS), _concat(summ, SUMMARY_COLUMNS),
                  _concat(params, PARAMETER_COLUMNS),
                  pd.DataFrame(updates, columns=list(UPDATE_COLUMNS)),
                  pd.DataFrame(errs, columns=list(ERROR_COLUMNS)))


QUANTILE_COLUMNS = {str(q): f"q{q:02d}" for q in QUANTILES}  # "5" -> "q05"
TRAJECTORY_COLUMNS = ("patient_id", "schedule", "day", "mean", *QUANTILE_COLUMNS.values())
SUMMARY_COLUMNS = ("patient_id", "schedule", "start_day", "rank", "baseline",
                   "p_target_at_horizon", "p_improvement", "improvement_day", "p_relapse",
                   "mean_pain", "sessions", "cost")
PARAMETER_COLUMNS = ("patient_id", "parameter", "mean", "sd", "q05", "q50", "q95")
UPDATE_COLUMNS = ("patient_id", "scores", "method", "ess", "low_ess")
ERROR_COLUMNS = ("patient_id", "error")
TABLE_COLUMNS = {"trajectories": TRAJECTORY_COLUMNS, "summaries": SUMMARY_COLUMNS,
                 "parameters": PARAMETER_COLUMNS, "updates": UPDATE_COLUMNS,
                 "errors": ERROR_COLUMNS}


def _parameter_rows(pid: str, theta: np.ndarray, cfg: ModelConfig) -> pd.DataFrame:
    """A patient's eight parameters on their natural scale: mean, SD and 5/50/95 % quantiles."""
    natural = transform(theta, cfg)
    x = np.stack([np.asarray(natural[name]) for name in PARAMS], axis=1)  # (M, 8)
    q = np.quantile(x, [0.05, 0.5, 0.95], axis=0)
    return pd.DataFrame({"patient_id": pid, "parameter": PARAMS, "mean": x.mean(axis=0),
                         "sd": x.std(axis=0), "q05": q[0], "q50": q[1], "q95": q[2]})


def _trajectory_rows(pid: str, res: ForecastResponse) -> pd.DataFrame:
    frames = []
    for f in res.forecasts:
        cols = {"patient_id": pid, "schedule": f.name, "day": f.days, "mean": f.mean}
        cols |= {col: f.quantiles[q] for q, col in QUANTILE_COLUMNS.items()}
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)


def _summary_rows(pid: str, start: float, res: ForecastResponse) -> pd.DataFrame:
    return pd.DataFrame([{"patient_id": pid, "schedule": f.name, "start_day": start,
                          "rank": res.ranking.index(f.name) + 1, "baseline": res.baseline,
                          **f.summary.model_dump()} for f in res.forecasts])


def _concat(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(frames, ignore_index=True)[list(columns)]
