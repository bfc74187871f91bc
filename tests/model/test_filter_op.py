"""The fused filter Op: its value equals the NumPy filter, and its hand-written gradient equals
JAX autodiff of the same filter and finite differences, in every PyTensor backend."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.special import erfc
from scipy.special import log_ndtr as scipy_log_ndtr

from recovery.model import Cohort, ModelConfig
from recovery.model.likelihood.build import CohortData, prepare
from recovery.model.likelihood.filter_op import (
    _erfc_gauss,
    filtered_loglik,
    log_ndtr,
    loglik_and_grad,
)
from recovery.model.likelihood.residual import filter_scores

NOISE = np.array([1.1, 0.55, 6.0])


@pytest.fixture(scope="module")
def case(small_cohort_timed: Cohort) -> tuple[CohortData, np.ndarray, np.ndarray]:
    """The small cohort's scores with means spread over 0-10 and beyond (open bins too)."""
    data = prepare(small_cohort_timed, ModelConfig())
    mu = np.random.default_rng(2).uniform(-1.5, 11.5, len(data.y))
    return data, mu, data.grid.flat_gap


def test_log_ndtr_matches_scipy_in_both_tails() -> None:
    x = np.array([-1e3, -60.0, -35.0001, -34.9999, -20.0, -7.0, -1.0001, -0.9999, 0.0, 2.5, 9.0,
                  40.0])
    got = np.array([log_ndtr(v) for v in x])
    np.testing.assert_allclose(got, scipy_log_ndtr(x), rtol=1e-10, atol=1e-300)


def test_erfc_and_gaussian_match_scipy_on_every_branch() -> None:
    """|x| < 1, 1 <= |x| < 8 and beyond, both signs, down to erfc's underflow."""
    x = np.concatenate([np.linspace(-9.0, 27.0, 7201), [-1.0, 1.0, -8.0, 8.0, 0.0]])
    got = np.array([_erfc_gauss(v) for v in x])
    np.testing.assert_allclose(got[:, 0], erfc(x), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(got[:, 1], np.exp(-x * x), rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("spread", [1.0, 4.0])
def test_value_equals_the_numpy_filter(case: tuple, spread: float) -> None:
    """Spread 4 puts means up to 40 points from their scores' bins: the far-tail route."""
    data, mu, gap = case
    mu = 5.0 + spread * (mu - 5.0)
    logp, _, _ = loglik_and_grad(mu, data.y, gap, NOISE)
    expected = filter_scores(mu, data.y, data.grid, tuple(NOISE)).logp.sum()
    assert data.grid.index.shape[0] > 1
    assert (data.y == 0).any()
    np.testing.assert_allclose(logp, expected, rtol=1e-10)


def test_gradient_equals_jax_autodiff_of_the_scan(case: tuple) -> None:
    import jax

    from recovery.model.likelihood.jax_ops import grid_loglik

    jax.config.update("jax_enable_x64", True)
    data, mu, gap = case
    g = data.grid
    value, (g_mu, g_noise) = jax.value_and_grad(grid_loglik, argnums=(0, 1))(
        mu, NOISE, data.y, gap, g.index, g.valid)
    logp, my_mu, my_noise = loglik_and_grad(mu, data.y, gap, NOISE)
    np.testing.assert_allclose(logp, float(value), rtol=1e-10)
    np.testing.assert_allclose(my_mu, np.asarray(g_mu), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(my_noise, np.asarray(g_noise), rtol=1e-7)


def test_gradient_equals_finite_differences(case: tuple) -> None:
    data, mu, gap = case
    _, g_mu, g_noise = loglik_and_grad(mu, data.y, gap, NOISE)
    f = lambda m, nz: loglik_and_grad(m, data.y, gap, nz)[0]  # noqa: E731
    h = 1e-6
    d = np.random.default_rng(3).normal(size=len(mu))
    np.testing.assert_allclose((f(mu + h * d, NOISE) - f(mu - h * d, NOISE)) / (2 * h), g_mu @ d,
                               rtol=1e-5)
    for i in range(3):
        e = np.eye(3)[i] * h
        np.testing.assert_allclose((f(mu, NOISE + e) - f(mu, NOISE - e)) / (2 * h), g_noise[i],
                                   rtol=1e-5)


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_RUN", "JAX"])
def test_graph_gradient_in_each_backend(case: tuple, mode: str) -> None:
    """pt.grad through the Op (chain rule into mu's inputs and the noise) in numba, C / Python
    and JAX graphs gives the kernel's numbers."""
    if mode == "JAX":
        import recovery.model.likelihood.jax_ops  # noqa: F401  registers the JAX version
    data, mu, gap = case
    shift, sigma, share, ell = pt.dscalar(), pt.dscalar(), pt.dscalar(), pt.dscalar()
    out = filtered_loglik(mu + shift, data.y, data.grid, (sigma, share, ell))
    fn = pytensor.function([shift, sigma, share, ell],
                           [out, *pt.grad(out, [shift, sigma, share, ell])], mode=mode)
    got = [float(v) for v in fn(0.3, *NOISE)]
    logp, g_mu, g_noise = loglik_and_grad(mu + 0.3, data.y, gap, NOISE)
    np.testing.assert_allclose(got, [logp, g_mu.sum(), *g_noise], rtol=1e-8)
