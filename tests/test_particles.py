"""The compiled particle log-likelihood equals the NumPy one the forecasts share."""

from __future__ import annotations

import numpy as np

from recovery.model.forecast import Forecaster
from recovery.model.phenomena import responder_history, sawtooth_history
from recovery.model.requests import History
from recovery.model.update import _Target, log_likelihood, patient_data


def test_particle_loglik_equals_the_numpy_filter(default_forecaster: Forecaster) -> None:
    fc, rng = default_forecaster, np.random.default_rng(0)
    for history in (sawtooth_history(), responder_history()):
        hist = History.model_validate(history)
        pd = patient_data({"chronic": 1, "adherence": 0.3}, hist, fc.config, fc.kinds,
                          hist.last_day + 1)
        target = _Target(fc.population, pd, fc.config, fc.kinds)
        idx = rng.integers(0, len(fc.population), 300)
        z = rng.standard_normal((300, fc.population.mu_pop.shape[1])) * 1.5
        sub = fc.population.take(idx)
        want = log_likelihood(target.theta(sub, z), sub.globals, pd, fc.config, fc.kinds)
        np.testing.assert_allclose(target(idx, z), want, rtol=1e-9)
        assert np.ptp(want) > 50  # the particles differ: a real comparison
