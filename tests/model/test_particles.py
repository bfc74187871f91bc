"""The compiled particle log-likelihood equals the NumPy one the forecasts share."""

from __future__ import annotations

import numpy as np

from recovery.model.checks.phenomena import responder_history, sawtooth_history
from recovery.model.likelihood.kernel import build_design, expected_pain
from recovery.model.predict.forecast import Forecaster
from recovery.model.predict.particles import particle_mu
from recovery.model.predict.update import _Target, log_likelihood, patient_data
from recovery.model.requests import History


def test_the_prior_is_each_draws_population_prior(default_forecaster: Forecaster) -> None:
    fc, rng = default_forecaster, np.random.default_rng(1)
    patient = patient_data({"chronic": 1, "stress": 7}, History(), fc.config, fc.kinds, 0.0)
    target = _Target(fc.population, patient, fc.config, fc.kinds)
    idx = rng.integers(0, len(fc.population), 200)
    theta = target.sample_prior(idx, rng)
    sub = target.pop.take(idx)  # the population given this patient's (unknown) onset
    np.testing.assert_allclose(target.log_prior(idx, theta),
                               sub.log_prior(theta, sub.prior_mean(patient.x_effect)), rtol=1e-9)


def test_particle_loglik_equals_the_numpy_filter(default_forecaster: Forecaster) -> None:
    fc, rng = default_forecaster, np.random.default_rng(0)
    for history in (sawtooth_history(), responder_history()):
        hist = History.model_validate(history)
        patient = patient_data({"chronic": 1, "adherence": 0.3}, hist, fc.config, fc.kinds,
                          hist.last_day + 1)
        target = _Target(fc.population, patient, fc.config, fc.kinds)
        idx = rng.integers(0, len(fc.population), 300)
        theta = target.sample_prior(idx, rng)
        want = log_likelihood(theta, target.pop.globals.take(idx), patient, fc.config,
                              fc.kinds)
        np.testing.assert_allclose(target.loglik(idx, theta), want, rtol=1e-9)
        assert np.ptp(want) > 50  # the particles differ: a real comparison


def test_particle_mu_equals_the_numpy_kernel_in_any_time_order(
        default_forecaster: Forecaster) -> None:
    """The forecast's compiled walk over draws gives kernel.expected_pain's means, also at
    times out of order (a forecast's relapse points come after its grid)."""
    fc, rng = default_forecaster, np.random.default_rng(2)
    hist = History.model_validate(sawtooth_history())
    patient = patient_data({"chronic": 1}, hist, fc.config, fc.kinds, hist.last_day + 1)
    times = np.r_[np.arange(0.0, 90.0), 30.5, 12.0]
    sessions = (np.zeros(len(patient.session_t), int), patient.session_t, patient.session_kind)
    design = build_design(sessions, (np.zeros(len(times), int), times), 1, fc.kinds, fc.config)
    idx = rng.integers(0, len(fc.population), 500)
    target = _Target(fc.population, patient, fc.config, fc.kinds)
    theta, glob = target.sample_prior(idx, rng), fc.population.globals.take(idx)
    want = expected_pain(glob.params(theta), np.array([patient.adherence]), design, fc.config)
    np.testing.assert_allclose(particle_mu(theta, glob, patient.adherence, design, fc.config),
                               want, rtol=1e-9, atol=1e-12)
