"""Reading a saved model: its identity without its posterior, and a forecaster that does not
rebuild the cohort's design."""

from __future__ import annotations

from typing import Any

import pytest

from recovery.model import Forecaster, ForecastRequest, load, model_identity
from recovery.model.inference import fit as fit_module
from recovery.model.inference import io
from tests.helpers import DEFAULT_MODEL, history_request


def _refuse(*_: Any, **__: Any) -> None:
    raise AssertionError("called")


def test_identity_is_read_without_the_posterior(monkeypatch: pytest.MonkeyPatch) -> None:
    fitted = load(DEFAULT_MODEL)
    monkeypatch.setattr(io.az, "from_netcdf", _refuse)
    model_id, diagnostics = model_identity(DEFAULT_MODEL)
    assert model_id == fitted.model_id
    assert diagnostics == fitted.diagnostics


def test_a_forecaster_does_not_build_the_cohorts_design(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr(fit_module, "prepare", _refuse)
    forecaster = Forecaster.from_directory(DEFAULT_MODEL)
    response = forecaster.forecast(ForecastRequest.model_validate(history_request()))
    assert [f.name for f in response.forecasts] == ["recovery_then_stop", "none"]
