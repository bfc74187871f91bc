"""Slow: conditioning a patient as new agrees with the full hierarchical fit that saw them."""

from __future__ import annotations

import numpy as np
import pytest

from recovery.model import Cohort, FittedModel
from recovery.model.data.cohort import patient_request
from recovery.model.data.schedules import SessionPlan
from recovery.model.inference.fit import stacked_draws
from recovery.model.predict.forecast import Forecaster, paths, residual_quantiles
from recovery.model.predict.update import PatientDraws, onset_draws, patient_draws
from recovery.model.requests import History, PatientInfo

pytestmark = pytest.mark.slow


def _history(cohort: Cohort, pid: str) -> tuple[History, PatientInfo]:
    pain = cohort.pain[cohort.pain["patient_id"] == pid]
    ses = cohort.sessions[cohort.sessions["patient_id"] == pid]
    row = cohort.patients.set_index("patient_id").loc[pid]
    return patient_request(row, pain, ses, list(row.index))


def _quantiles(fc: Forecaster, draws: PatientDraws, patient: object, start: float) -> np.ndarray:
    plan = SessionPlan(np.array([start + 7.0, start + 14.0]), np.array(["massage"] * 2, object))
    days = start + np.arange(1.0, 61.0)
    p = paths(draws, patient, plan, days, len(days), fc.config, fc.kinds)  # type: ignore[arg-type]
    x = np.clip(p.m + p.s * residual_quantiles(len(draws), np.random.default_rng(0)), 0, 10)
    return np.quantile(x, [0.05, 0.5, 0.95], axis=0)


def test_update_matches_the_fit_that_included_the_patient(fitted: FittedModel) -> None:
    """Leave-in check on 5 patients: medians and 90 % bounds agree within 0.3 NRS."""
    fc = Forecaster(fitted)
    theta = stacked_draws(fitted.idata, "theta")
    worst = []
    for pid in fitted.data.patient_ids[:5]:
        hist, info = _history(fitted.cohort, pid)
        start = hist.last_day
        patient, approx, _ = fc.patient(info, hist, start, 4000, np.random.default_rng(1))
        i = fitted.data.patient_ids.index(pid)
        onset = onset_draws(patient, fc.config, len(fc.population))  # the fit's own onset
        exact = patient_draws(theta[:, i], fc.population.with_onset(onset).globals, patient,
                              fc.config, fc.kinds)
        diff = np.abs(_quantiles(fc, approx, patient, start)
                      - _quantiles(fc, exact, patient, start))
        worst.append(float(diff.max()))
    assert max(worst) < 0.3, worst
