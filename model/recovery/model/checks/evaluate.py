"""Forecast validation on held-out future scores, against simple baselines.

For every patient, the last `holdout_days` of scores are hidden; the model conditions on the
rest (as a new patient, update.py) and forecasts the hidden days under the sessions that really
happened. Scores are integers, so:

- CRPS is the exact discrete form, sum_k (F(k) - 1{y <= k})^2 over k = 0..9 (the ranked
  probability score of the 0-10 scale), with F the predictive CDF of the integer score;
- an interval [lo, hi] on the continuous scale covers the share of the score's rounding bin
  [y - 0.5, y + 0.5] (cut to [0, 10]) that lies inside it (randomised-PIT coverage), so integer
  ties neither inflate nor deflate coverage.

Baselines, each a normal on the latent scale discretised the same way: the last score carried
forward (SD of the patient's own scores), the population's mean trajectory (mean and SD of all
training scores in the same week since the first record), and the patient's own linear trend
(OLS prediction interval).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel
from scipy.special import ndtr, ndtri

from recovery.model.data.cohort import Cohort, patient_request
from recovery.model.data.schedules import SessionPlan
from recovery.model.predict.forecast import Forecaster, column_quantiles, paths, residual_quantiles
from recovery.model.requests import History, PatientInfo

__all__ = ["EvaluationReport", "Scores", "evaluate", "write_report"]

LEVELS = np.round(np.arange(0.1, 0.91, 0.1), 2)  # central interval levels for calibration
MIN_SD = 0.5


class Scores(BaseModel):
    """Forecast quality of one method on the held-out scores."""

    coverage_50: float
    coverage_90: float
    crps: float
    mae_median: float
    calibration: dict[str, float]  # central-interval level -> observed coverage
    scores: int = 0  # held-out scores these figures pool


class EvaluationReport(BaseModel):
    """The evaluation: the model next to every baseline, and what was evaluated."""

    model_version: str
    holdout_days: float
    patients: int
    held_out_scores: int
    skipped_patients: int
    overlaps_training_cohort: bool
    methods: dict[str, Scores]
    crps_beats_every_baseline: bool
    # the model's scores by the length of the history it was conditioned on (scores)
    by_history: dict[str, Scores] = {}


@dataclass(frozen=True)
class Predictive:
    """Predictive distributions at held-out points: central-interval bounds and integer CDF."""

    lo: np.ndarray  # (L, n) lower bounds per level in LEVELS (+ 0.5 for the median)
    hi: np.ndarray
    median: np.ndarray
    cdf: np.ndarray  # (n, 10): P(score <= k) for k = 0..9


def _normal_predictive(mu: np.ndarray, sd: np.ndarray) -> Predictive:
    z = ndtri(0.5 + LEVELS / 2)[:, None]
    k = np.arange(10)[None, :]
    return Predictive(np.clip(mu - z * sd, 0, 10), np.clip(mu + z * sd, 0, 10),
                      np.clip(mu, 0, 10), ndtr((k + 0.5 - mu[:, None]) / sd[:, None]))


def _score(pred: Predictive, y: np.ndarray) -> dict[str, np.ndarray]:
    """Per-point coverage at every level, CRPS and absolute error of the median."""
    b_lo, b_hi = np.maximum(y - 0.5, 0.0), np.minimum(y + 0.5, 10.0)
    inside = np.clip(np.minimum(b_hi, pred.hi) - np.maximum(b_lo, pred.lo), 0, None)
    cover = inside / (b_hi - b_lo)
    crps = ((pred.cdf - (y[:, None] <= np.arange(10)[None, :])) ** 2).sum(axis=1)
    return {"cover": cover, "crps": crps, "ae": np.abs(pred.median - y)}


def _model_predictive(fc: Forecaster, info: PatientInfo, hist: History, plan: SessionPlan,
                      start: float, days: np.ndarray, draws: int, rng: np.random.Generator
                      ) -> Predictive:
    pdata, post, _ = fc.patient(info, hist, start, draws, rng)
    p = paths(post, pdata, plan, days, len(days), fc.config, fc.kinds)
    x = np.clip(p.m + p.s * residual_quantiles(len(post), rng), 0, 10)
    qs = column_quantiles(x, np.r_[0.5 - LEVELS / 2, 0.5 + LEVELS / 2, 0.5])
    k = np.arange(10)[None, :, None]
    cdf = ndtr((k + 0.5 - p.m[:, None, :]) / p.s[:, None, :]).mean(axis=0).T
    n = len(LEVELS)
    return Predictive(qs[:n], qs[n:2 * n], qs[-1], cdf)


def _baselines(train: pd.DataFrame, test: pd.DataFrame, pop: Callable[[np.ndarray],
               tuple[np.ndarray, np.ndarray]]) -> dict[str, Predictive]:
    t, y = train["day"].to_numpy(float), train["score"].to_numpy(float)
    tt = test["day"].to_numpy(float)
    sd = max(float(np.std(y, ddof=1)) if len(y) > 1 else 2.0, MIN_SD)
    out = {"last score carried forward": _normal_predictive(np.full(len(tt), y[-1]),
                                                            np.full(len(tt), sd))}
    out["population mean trajectory"] = _normal_predictive(*pop(tt - t[0]))
    x = np.c_[np.ones(len(t)), t - t.mean()]
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    s = max(float(np.sqrt((resid**2).sum() / max(len(y) - 2, 1))), MIN_SD)
    lever = 1 + 1 / len(t) + (tt - t.mean()) ** 2 / max(float(((t - t.mean()) ** 2).sum()), 1e-9)
    out["own linear trend"] = _normal_predictive(coef[0] + coef[1] * (tt - t.mean()),
                                                 s * np.sqrt(lever))
    return out


def _population_curve(train: pd.DataFrame
                      ) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Mean and SD of training scores by week since each patient's first score."""
    first = train.groupby("patient_id")["day"].transform("min")
    week = ((train["day"] - first) // 7).astype(int)
    by = train["score"].groupby(week).agg(["mean", "std"]).fillna({"std": 2.0})
    weeks = by.index.to_numpy()

    def curve(since_first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = np.clip((since_first // 7).astype(int), weeks.min(), weeks.max())
        row = by.reindex(w, method="nearest")
        return row["mean"].to_numpy(), np.maximum(row["std"].to_numpy(), MIN_SD)

    return curve


def _split(cohort: Cohort, holdout: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    pain = cohort.pain
    cut = pain.groupby("patient_id")["day"].transform("max") - holdout
    return pain[pain["day"] <= cut], pain[pain["day"] > cut]


def evaluate(fc: Forecaster, cohort: Cohort, holdout_days: float = 42.0, draws: int = 1000,
             seed: int = 0, progress: Callable[[Iterator[str]], Iterable[str]] = lambda x: x,
             ) -> EvaluationReport:
    """Hide each patient's last `holdout_days` of scores, forecast them, score every method."""
    rng = np.random.default_rng(seed)
    train, test = _split(cohort, holdout_days)
    pop = _population_curve(train)
    per_method: dict[str, list[dict[str, np.ndarray]]] = {}
    by_history: dict[str, list[dict[str, np.ndarray]]] = {}
    skipped = 0
    patients = cohort.patients.set_index("patient_id")
    covs = [c for c in fc.config.covariates if c in patients.columns]
    for pid in progress(iter(cohort.patient_ids)):
        tr, te = train[train["patient_id"] == pid], test[test["patient_id"] == pid]
        if len(tr) < 2 or len(te) == 0:
            skipped += 1
            continue
        start = float(tr["day"].iloc[-1])
        ses = cohort.sessions[cohort.sessions["patient_id"] == pid]
        past, future = ses[ses["day"] <= start], ses[ses["day"] > start]
        row = patients.loc[pid]
        assert isinstance(row, pd.Series)  # patient ids are unique (validated)
        hist, info = patient_request(row, tr, past, covs)
        plan = SessionPlan(future["day"].to_numpy(float), future["kind"].to_numpy(object))
        days = te["day"].to_numpy(float)
        y = te["score"].to_numpy(float)
        preds = {"model": _model_predictive(fc, info, hist, plan, start, days, draws, rng),
                 **_baselines(tr, te, pop)}
        for name, pred in preds.items():
            per_method.setdefault(name, []).append(_score(pred, y))
        by_history.setdefault(_history_band(len(tr)), []).append(per_method["model"][-1])
    methods = {name: _aggregate(rows) for name, rows in per_method.items()}
    model_crps = methods["model"].crps if methods else np.inf
    return EvaluationReport(
        model_version=fc.model_version, holdout_days=holdout_days,
        patients=len(cohort.patient_ids) - skipped,
        held_out_scores=sum(len(r["crps"]) for r in per_method.get("model", [])),
        skipped_patients=skipped,
        overlaps_training_cohort=cohort.fingerprint() == fc.fitted.cohort.fingerprint(),
        methods=methods,
        by_history={band: _aggregate(by_history[band]) for band in BAND_NAMES
                    if band in by_history},
        crps_beats_every_baseline=bool(methods) and all(
            model_crps < s.crps for n, s in methods.items() if n != "model"))


HISTORY_BANDS = ((15, "short (< 15 scores)"), (61, "15-60 scores"))
BAND_NAMES = (*(name for _, name in HISTORY_BANDS), "long (> 60 scores)")


def _history_band(n_scores: int) -> str:
    """The band of a history's length the evaluation reports separately."""
    return next((name for limit, name in HISTORY_BANDS if n_scores < limit), BAND_NAMES[-1])


def _aggregate(rows: list[dict[str, np.ndarray]]) -> Scores:
    cover = np.concatenate([r["cover"] for r in rows], axis=1)  # (levels, points)
    crps = np.concatenate([r["crps"] for r in rows])
    ae = np.concatenate([r["ae"] for r in rows])
    cal = {f"{lv:.1f}": round(float(c), 4) for lv, c in zip(LEVELS, cover.mean(axis=1),
                                                           strict=True)}
    return Scores(coverage_50=cal["0.5"], coverage_90=cal["0.9"],
                  crps=round(float(crps.mean()), 4), mae_median=round(float(ae.mean()), 4),
                  calibration=cal, scores=len(crps))


def write_report(report: EvaluationReport, directory: Path) -> Path:
    """report.json, report.md (a table a person reads) and calibration.png."""
    from recovery.model.inference.plots import plot_calibration

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(report.model_dump_json(indent=1))
    plot_calibration({n: s.calibration for n, s in report.methods.items()},
                     directory / "calibration.png")
    lines = [
        f"# Forecast evaluation (model {report.model_version})", "",
        f"The last {report.holdout_days:g} days of scores of {report.patients} patients "
        f"({report.held_out_scores} scores) were hidden and forecast from the rest under the "
        f"sessions that really happened; {report.skipped_patients} patients had too little "
        "history and were skipped.", "",
        "| method | 50 % coverage | 90 % coverage | CRPS | MAE of median |",
        "|---|---|---|---|---|",
        *[f"| {n} | {s.coverage_50:.1%} | {s.coverage_90:.1%} | {s.crps:.3f} | "
          f"{s.mae_median:.2f} |" for n, s in report.methods.items()],
        "", "The model by the length of the history each forecast was conditioned on:", "",
        "| history | held-out scores | 50 % coverage | 90 % coverage | CRPS |",
        "|---|---|---|---|---|",
        *[f"| {band} | {s.scores} | {s.coverage_50:.1%} | {s.coverage_90:.1%} | {s.crps:.3f} |"
          for band, s in report.by_history.items()],
        "", f"CRPS beats every baseline: **{'yes' if report.crps_beats_every_baseline else 'NO'}**",
        "", "![calibration](calibration.png)", ""]
    if report.overlaps_training_cohort:
        lines.insert(2, "**Warning: this cohort is the one the model was fitted on; the "
                        "held-out scores informed the population posterior.**\n")
    (directory / "report.md").write_text("\n".join(lines))
    return directory
