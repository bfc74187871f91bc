"""The PyMC graph computes the same likelihood as the NumPy kernel (one definition, checked)."""

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy.special import log_ndtr
from scipy.stats import multivariate_normal, norm

from recovery.model import Cohort, ModelConfig
from recovery.model.config import PARAMS
from recovery.model.inference.fit import compile_nutpie
from recovery.model.likelihood.build import (
    DATA_STARTED,
    KIND_WEIGHTS,
    build_model,
    correlated_block,
    prepare,
    starting_values,
)
from recovery.model.likelihood.kernel import Params, expected_pain
from recovery.model.likelihood.residual import filter_scores, interval_logp


def test_pymc_graph_and_numpy_kernel_agree(small_cohort: Cohort) -> None:
    cfg = ModelConfig()
    data = prepare(small_cohort, cfg)
    model = build_model(data, cfg)
    rng = np.random.default_rng(4)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    def evaluate(outs: list) -> list:
        # evaluate at the point's values (a bare RV in compile_fn would be a random draw)
        fn = model.compile_fn(model.replace_rvs_by_values(outs), inputs=model.value_vars,
                              on_unused_input="ignore")
        return fn(point)

    (graph_loglik,) = evaluate([model["loglik"]])
    val = evaluate([model["theta"], model["tau_nat"], model["synergy"], model["sigma"],
                    model["share"], model["ell"]])
    theta, tau_nat, synergy, sigma, share, ell = (np.asarray(v) for v in val)
    p = Params(theta, tau_nat, *(np.exp(point[f"log_{n}_w"]) for n, _ in KIND_WEIGHTS),
               synergy, data.onset)
    mu = expected_pain(p, data.adherence, data.design, cfg)
    numpy_loglik = filter_scores(mu, data.y, data.grid, (sigma, share, ell)).logp.sum()
    assert np.isfinite(numpy_loglik)
    np.testing.assert_allclose(graph_loglik, numpy_loglik, rtol=1e-6)
    assert len(data.y) > 100
    assert data.grid.valid.sum() == len(data.y)


def test_interval_likelihood_is_a_distribution_over_0_to_10() -> None:
    y = np.arange(11.0)[:, None]
    for m, s in [(-3.0, 0.7), (0.2, 1.0), (5.0, 0.3), (9.9, 2.0), (14.0, 1.5)]:
        total = np.exp(interval_logp(y, np.full((11, 1), m), np.full((11, 1), s), log_ndtr)).sum()
        np.testing.assert_allclose(total, 1.0, rtol=1e-9)


@pytest.mark.parametrize("n_centred", [0, 1, 2, 3])
def test_partly_centred_block_is_the_same_multivariate_normal(n_centred: int) -> None:
    """Whatever prefix is centred, the density of theta (change of variables from the sampled
    values) equals MvNormal(mean, L L^T): the split changes the geometry, not the model."""
    rng = np.random.default_rng(n_centred)
    k, n = 3, 5
    chol = np.tril(rng.normal(0, 0.5, (k, k)))
    np.fill_diagonal(chol, rng.uniform(0.5, 1.5, k))
    mean = rng.normal(0, 1, (n, k))
    with pm.Model(coords={"patient": range(n), "param_centred": range(n_centred),
                          "param_block_nc": range(k - n_centred)}) as model:
        theta = correlated_block(pt.as_tensor(mean), pt.as_tensor(chol), k, n_centred)
    point = {v.name: rng.normal(0, 1, model.initial_point()[v.name].shape)
             for v in model.value_vars}
    fn = model.compile_fn([model.logp(), model.replace_rvs_by_values([theta])[0]],
                          inputs=model.value_vars)
    logp, theta_val = fn(point)
    jacobian = n * np.log(np.diag(chol)[n_centred:]).sum()  # d theta_j / d z_j = L_jj
    expected = multivariate_normal(np.zeros(k), chol @ chol.T).logpdf(theta_val - mean).sum()
    np.testing.assert_allclose(logp - jacobian, expected, rtol=1e-9)
    if n_centred:
        np.testing.assert_allclose(theta_val[:, :n_centred], point["theta_centred"])


def test_mean_preserving_means_carry_their_jacobian(small_cohort: Cohort) -> None:
    """The population means are sampled through build._mean_preserving: the prior potential
    must be the prior of mu_pop plus log |d mu_pop / d sampled value|, here measured by finite
    differences, so the reparameterisation leaves the posterior unchanged."""
    cfg = ModelConfig()
    model = build_model(prepare(small_cohort, cfg), cfg)
    point = model.initial_point()
    point["patient_sd_other_log__"] = np.log([0.6, 1.5, 0.9, 0.4, 0.7, 0.5, 0.6, 0.3])
    free = "mu_pop_centred"
    fn = model.compile_fn(model.replace_rvs_by_values([model["mu_pop"], model["mu_pop_prior"]]),
                          inputs=model.value_vars, on_unused_input="ignore")
    mu_pop, potential = fn(point)
    h, log_jac = 1e-6, 0.0
    for i in range(len(mu_pop)):
        up, down = dict(point), dict(point)
        up[free] = point[free] + h * np.eye(len(mu_pop))[i]
        down[free] = point[free] - h * np.eye(len(mu_pop))[i]
        log_jac += np.log((fn(up)[0][i] - fn(down)[0][i]) / (2 * h))
    pr = cfg.priors
    prior = sum(norm.logpdf(m, getattr(pr, p).mu, getattr(pr, p).sigma)
                for m, p in zip(mu_pop, PARAMS, strict=True))
    assert log_jac > 0.01  # the logistic-scale means are stretched: a Jacobian to carry
    np.testing.assert_allclose(potential, prior + log_jac, rtol=1e-7)


def test_chains_start_at_each_patients_first_scores_and_the_prior_means(
        small_cohort: Cohort) -> None:
    """Warm-up starts from the data, not from zeros: each patient's centred base at the mean
    of their first two weeks of scores, the population means at their priors."""
    cfg = ModelConfig()
    data = prepare(small_cohort, cfg)
    start = starting_values(data, cfg)
    model = build_model(data, cfg)
    assert {k: np.shape(v) for k, v in start.items()} == {
        k: np.shape(model.initial_point()[k]) for k in start}
    early = data.design.t < 14
    for i in range(len(data.patient_ids)):
        first = data.y[early & (data.design.patient == i)].mean()
        base = 10.0 / (1.0 + np.exp(-start["theta_centred"][i, 0]))
        np.testing.assert_allclose(base, np.clip(first, 0.5, 9.5), rtol=1e-9)
    tau = start["mu_pop_centred"][PARAMS.index("relief_tau")]
    assert tau == pytest.approx(cfg.priors.relief_tau.mu)
    assert len({round(float(b), 6) for b in start["theta_centred"][:, 0]}) > 1


@pytest.mark.slow
def test_chains_jitter_every_start_but_the_patients_data_started_bases(
        small_cohort: Cohort) -> None:
    """nutpie's U(-1, 1) start jitter spreads the chains, but would move each data-started
    patient base up to 2.5 NRS off its scores: those start exactly where the data put them."""
    cfg = ModelConfig()
    data = prepare(small_cohort, cfg)
    start = starting_values(data, cfg)
    compiled = compile_nutpie(build_model(data, cfg), start)
    first, second = compiled.initial_point_func(1), compiled.initial_point_func(2)
    names, slices, _ = compiled.shape_info
    moved = {n: not np.allclose(first[s], second[s])
             for n, s in zip(names, slices, strict=True) if s.stop <= len(first)}
    assert set(DATA_STARTED) == {"theta_centred"}
    assert moved.pop("theta_centred") is False
    assert len(moved) > 10
    assert all(moved.values())
    np.testing.assert_allclose(first[slices[names.index("theta_centred")]],
                               start["theta_centred"].ravel())
