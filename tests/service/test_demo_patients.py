"""The demo's patients show the range of what the model says: a course's gap for the chronic
patients, pain that falls on its own for the new episode (the bundled model, as make demo
serves it)."""

from __future__ import annotations

import numpy as np
import pytest

from recovery.model.predict.forecast import Forecaster
from recovery.model.requests import ForecastRequest
from recovery.service.demo import HISTORY_DAYS, PERSONAS, _persona_diary
from tests.helpers import DEFAULT_MODEL


@pytest.fixture(scope="module")
def forecasts() -> dict[str, dict[str, float]]:
    fc = Forecaster.from_directory(DEFAULT_MODEL)
    rng = np.random.default_rng(7)  # as demo.seed draws the diaries
    out = {}
    for p in PERSONAS:
        pain, ses = _persona_diary(p, rng)
        req = ForecastRequest.model_validate({
            "patient": {"covariates": p["covariates"], "onset_day": -p["onset"]},
            "history": {"pain": [{"day": d, "score": v} for d, v in pain],
                        "sessions": [{"day": d, "kind": k} for d, k in ses]},
            "schedules": [{"name": "none"},
                          {"name": "weekly", "phases": [{"kind": "massage", "every_days": 7,
                                                         "weeks": 26}]}],
            "start_day": HISTORY_DAYS + 1, "horizon_days": 182, "draws": 1000})
        r = fc.forecast(req)
        out[p["name"]] = {"gap": r.comparisons[0].mean_difference,
                          "sure": r.comparisons[0].p_b_meaningfully_better,
                          "fall": r.forecasts[0].mean[0] - r.forecasts[0].mean[-1]}
    return out


def test_chronic_demo_patients_show_a_meaningful_difference(forecasts: dict) -> None:
    for name in (PERSONAS[0]["name"], PERSONAS[3]["name"]):
        assert forecasts[name]["gap"] >= 1.0, forecasts[name]
        assert forecasts[name]["sure"] >= 0.8, forecasts[name]


def test_the_new_episode_improves_on_its_own_and_long_pain_does_not(forecasts: dict) -> None:
    assert forecasts[PERSONAS[1]["name"]]["gap"] < 1.0
    assert abs(forecasts[PERSONAS[3]["name"]]["fall"]) < 0.5
