"""The update's two methods give one answer, and the Laplace frame is what makes importance
sampling hold on long diaries."""

from __future__ import annotations

import numpy as np

from recovery.model.checks.phenomena import flat_history
from recovery.model.predict import update
from recovery.model.predict.forecast import Forecaster
from recovery.model.predict.update import PatientData, patient_data
from recovery.model.requests import History


def _patient(fc: Forecaster, history: dict) -> PatientData:
    hist = History.model_validate(history)
    return patient_data({"chronic": 1, "adherence": 0.6}, hist, fc.config, fc.kinds,
                        hist.last_day + 1)


def test_importance_and_smc_agree_where_importance_holds(default_forecaster: Forecaster
                                                         ) -> None:
    """Four weeks at 6.5: importance sampling is healthy; SMC on the same diary gives the same
    posterior of every parameter within Monte Carlo error (3 standard errors of the two)."""
    fc = default_forecaster
    patient = _patient(fc, flat_history(weeks=4))
    target = update._Target(fc.population, patient, fc.config, fc.kinds)
    first = update._Proposal(target)
    ess, _, theta, logw, _ = update._importance(target, first, np.random.default_rng(0), 6)
    assert ess >= update.ESS_TARGET
    w = np.exp(logw - logw.max())
    w /= w.sum()
    mean_is = w @ theta
    sd = np.sqrt(w @ (theta - mean_is) ** 2)
    _, theta_smc, how = update._smc(target, first, np.random.default_rng(1))
    mean_smc = theta_smc.mean(axis=0)
    # standard errors: importance by its ESS; SMC's particles are correlated, so by a fifth
    # of their number
    se = sd * np.sqrt(1 / ess + 5 / len(theta_smc))
    assert (np.abs(mean_is - mean_smc) <= 3 * se).all(), (mean_is - mean_smc) / se
    assert how["ess"] >= 400


def test_the_laplace_frame_keeps_importance_sampling_healthy_on_a_long_diary(
        default_forecaster: Forecaster) -> None:
    """Seventeen weeks at 8 (119 scores): in the Laplace frame the proposals are worth
    hundreds of draws (978 here), several times what the population prior's give (169: a
    model whose chronic pain is near-stable expects a flat diary, so the prior is no longer
    worth only a handful, as it was when the natural course began at the first record)."""
    fc = default_forecaster
    patient = _patient(fc, flat_history(weeks=17, level=8.0))
    target = update._Target(fc.population, patient, fc.config, fc.kinds)
    laplace = update._Proposal(target)
    assert laplace.frame.fitted
    prior = update._Proposal(target)
    prior.frame = target.prior
    ess = {}
    for name, first in (("laplace", laplace), ("prior", prior)):
        ess[name], *_ = update._importance(target, first, np.random.default_rng(2), 1)
    assert ess["laplace"] >= update.ESS_TARGET, ess
    assert ess["laplace"] > 4 * ess["prior"], ess


def test_the_laplace_frame_gives_the_prior_frames_answer_where_that_held(
        default_forecaster: Forecaster) -> None:
    """Ten scores: importance sampling from the population prior (the update before the
    Laplace frame) was healthy here, and the Laplace frame's posterior agrees with it within
    Monte Carlo error (3 standard errors of the two)."""
    fc = default_forecaster
    history = flat_history(weeks=2, level=5.0)
    patient = _patient(fc, {"pain": history["pain"][:10], "sessions": []})
    target = update._Target(fc.population, patient, fc.config, fc.kinds)
    laplace = update._Proposal(target)
    prior = update._Proposal(target)
    prior.frame = target.prior
    moments = []
    for first, seed in ((prior, 3), (laplace, 4)):
        ess, _, theta, logw, _ = update._importance(target, first, np.random.default_rng(seed), 1)
        w = np.exp(logw - logw.max())
        w /= w.sum()
        mean = w @ theta
        moments.append((mean, np.sqrt(w @ (theta - mean) ** 2), ess))
    (m0, sd0, ess0), (m1, sd1, ess1) = moments
    assert ess0 >= update.ESS_TARGET
    assert ess1 >= update.ESS_TARGET
    se = np.sqrt(sd0 ** 2 / ess0 + sd1 ** 2 / ess1)
    assert (np.abs(m0 - m1) <= 3 * se).all(), (m0 - m1) / se
