"""The drift monitor as an analyst meets it: diaries entered after forecasts, scored against
them. Diaries from the served model's own population leave the flag down; diaries from a
different population (slower natural recovery, weaker relief, more pain) raise it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from recovery.cli import app
from recovery.model import Truth, simulate_cohort
from recovery.model.checks.drift import band_scores, coverage_check, drift_verdict
from tests.helpers import Api

FORECAST_DAY, WEEKS, PATIENTS = 35, 10, 30
START = date(2026, 3, 2)  # the diaries' first day; the service's clock is set from it
ENTERED = START + timedelta(days=7 * WEEKS)  # the day the last scores are entered
DRIFTED = Truth(tau_nat=400.0, sigma=1.5, mu_pop={**Truth().mu_pop, "base": 1.4,
                                                   "floor": 0.85, "relief": -2.5})


def test_band_scores_and_a_clustered_check() -> None:
    q = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]] * 3)
    s = band_scores(q, np.array([3, 4.5, 6]))
    assert s["in_50"].tolist() == [True, False, False]
    assert s["in_90"].tolist() == [True, True, False]
    assert s["quantile_score"][0] < s["quantile_score"][1] < s["quantile_score"][2]
    inside = np.r_[np.ones(40), np.zeros(10)]  # 80 %, all misses from one patient
    one = coverage_check(inside, np.r_[np.arange(40) % 8, np.full(10, 9)], 0.9)
    spread = coverage_check(inside, np.arange(50) % 10, 0.9)
    assert one.high - one.low > spread.high - spread.low  # clusters widen what chance allows


def test_the_verdict_weighs_misses_against_what_the_forecasts_expected() -> None:
    rng = np.random.default_rng(0)
    patient = np.repeat(np.arange(30), 20)
    p = {"50": rng.uniform(0.5, 0.7, 600), "90": rng.uniform(0.9, 0.97, 600)}
    held = {b: rng.random(600) < p[b] for b in p}
    as_expected = drift_verdict(held, p, patient)
    assert not as_expected.drifted
    assert abs(as_expected.z) < 2
    worse = {b: rng.random(600) < p[b] - 0.15 for b in p}
    verdict = drift_verdict(worse, p, patient)
    assert verdict.drifted
    assert verdict.z > 2
    assert verdict.gap > 0.1
    assert not verdict.bands["90"].ok
    nominal = drift_verdict(held, {"50": np.full(600, 0.5), "90": np.full(600, 0.9)}, patient)
    assert nominal.z < as_expected.z  # whole-point scores hold more than the nominal level


def _enter_diaries(api: Api, truth: Truth, seed: int) -> None:
    """Each simulated patient's first weeks, a forecast for the sessions then planned, and
    the scores of the following weeks entered after it."""
    c, h = api.client, api.as_("t1")
    cohort, _ = simulate_cohort(PATIENTS, WEEKS, np.random.default_rng(seed), truth)
    api.settings.clock_date = ENTERED
    for row in cohort.patients.to_dict("records"):
        pid, onset = row.pop("patient_id"), row.pop("onset_day")
        made = c.post("/v1/patients", headers=h, json={
            "name": pid, "start_date": str(START), "covariates": row,
            "pain_since": str(START + timedelta(days=int(onset)))}).json()["id"]
        pain = cohort.pain[cohort.pain["patient_id"] == pid]
        sessions = cohort.sessions[cohort.sessions["patient_id"] == pid]
        _post(api, made, pain[pain["day"] < FORECAST_DAY], sessions[
            sessions["day"] < FORECAST_DAY])
        planned = [float(d) for d in sessions["day"] if d >= FORECAST_DAY]
        schedule = ({"name": "planned", "session_days": planned} if planned
                    else {"name": "none"})
        r = c.post(f"/v1/patients/{made}/forecast", headers=h, json={
            "schedules": [schedule], "start_day": FORECAST_DAY,
            "horizon_days": 7 * WEEKS - FORECAST_DAY, "draws": 300})
        assert r.status_code == 200, r.text
        _post(api, made, pain[pain["day"] >= FORECAST_DAY], sessions[
            sessions["day"] >= FORECAST_DAY])


def _post(api: Api, pid: str, pain: Any, sessions: Any) -> None:
    body = {"scores": [{"day": float(d), "score": int(v), "client_id": f"p{d}"}
                       for d, v in zip(pain["day"], pain["score"], strict=True)]}
    assert api.client.post(f"/v1/patients/{pid}/scores", json=body,
                           headers=api.as_("t1")).status_code == 200
    if len(sessions):
        body = {"sessions": [{"day": float(d), "kind": k, "client_id": f"s{d}"}
                             for d, k in zip(sessions["day"], sessions["kind"], strict=True)]}
        assert api.client.post(f"/v1/patients/{pid}/sessions", json=body,
                               headers=api.as_("t1")).status_code == 200


@pytest.mark.parametrize(("truth", "flagged"), [(Truth(), False), (DRIFTED, True)],
                         ids=["own population", "drifted population"])
def test_the_flag_rises_on_drift_and_stays_down_otherwise(api: Api, truth: Truth,
                                                          flagged: bool) -> None:
    """The same diaries judged on seven consecutive days (every weekday) by the API, the
    metrics and the CLI."""
    _enter_diaries(api, truth, seed=11)
    for later in range(7):
        today = ENTERED + timedelta(days=later)
        api.settings.clock_date = today
        r = api.client.get("/v1/monitor", headers=api.as_("a1"))
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["recent"] is not None
        assert report["recent"]["patients"] >= PATIENTS - 2  # a simulated diary may stop early
        assert report["judged"], report
        assert report["refit_suggested"] is flagged, (today, report)
        assert report["alert"] is flagged
        assert [t["label"] for t in report["therapists"]] == ["t1"]
        assert report["weeks"]
        assert sum(w["scores"] for w in report["weeks"]) == report["scores"]
        cli = CliRunner().invoke(app, ["monitor", "--weeks", "12"], env={
            "RECOVERY_DATABASE_URL": api.settings.database_url,
            "RECOVERY_CLOCK_DATE": str(today)})
        assert cli.exit_code == int(flagged), (today, cli.output)
        assert "t1: " in cli.output
        assert ("refit on recent data" in cli.output) is flagged
    metrics = api.client.get("/metrics").text
    assert f"recovery_monitor_refit_suggested {float(flagged)}" in metrics
    assert api.client.get("/v1/monitor", headers=api.as_("t1")).status_code == 403
