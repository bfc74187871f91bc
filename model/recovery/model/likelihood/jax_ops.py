"""JAX versions of the fit's numba Ops (filter_op.FilteredLoglik, kernel_op.ExpectedPain and
its VJP), which the JAX backends (nutpie-jax, NumPyro via PyMC) need: importing this module
registers them with PyTensor's JAX dispatch. The kernel is kernel.expected_pain with jnp.

The residual filter runs as a jax.lax.scan over score ranks (each step vectorised over
patients) and JAX autodiff gives its gradient. bench/numpyro_model.py uses the same
`grid_loglik`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr
from pytensor.link.jax.dispatch import jax_funcify

from recovery.model.likelihood.filter_op import FilteredLoglik
from recovery.model.likelihood.kernel import EventDesign, Params, expected_pain
from recovery.model.likelihood.kernel_op import N_PARAMS, ExpectedPain, ExpectedPainVJP
from recovery.model.likelihood.residual import filter_step

__all__ = ["grid_loglik"]


def grid_loglik(mu: Any, noise: Any, y: Any, gap: Any, index: Any, valid: Any) -> Any:
    """Summed filtered log-likelihood of flat scores (filter_op.FilteredLoglik's inputs):
    a scan over score ranks; padding leaves the state alone and scores nothing."""

    def step(state: Any, col: Any) -> tuple[Any, Any]:
        mu_j, y_j, gap_j, ok_j = col
        new, logp, _, _ = filter_step(state, y_j, mu_j, gap_j, tuple(noise), log_ndtr, jnp)
        keep = tuple(jnp.where(ok_j, a, b) for a, b in zip(new, state, strict=True))
        return keep, jnp.where(ok_j, logp, 0.0)

    zeros = jnp.zeros(index.shape[0])
    cols = (mu[index].T, y[index].T, gap[index].T, valid.T)  # padding: index 0, unused
    _, logp = jax.lax.scan(step, (zeros, zeros), cols)
    return logp.sum()


@jax_funcify.register(FilteredLoglik)
def _jax_filtered_loglik(op: Any, **kwargs: Any) -> Any:
    value_and_grad = jax.value_and_grad(grid_loglik, argnums=(0, 1))

    def filtered(*inputs: Any) -> tuple[Any, Any, Any]:
        logp, (g_mu, g_noise) = value_and_grad(*inputs)
        return logp, g_mu, g_noise

    return filtered


def _expected_pain_jnp(op: ExpectedPain | ExpectedPainVJP, *inputs: Any) -> Any:
    """kernel.expected_pain in JAX: what the numba Op computes."""
    params, adh, onset = inputs[:N_PARAMS], inputs[N_PARAMS], inputs[N_PARAMS + 1]
    design = EventDesign(*inputs[N_PARAMS + 2:])
    return expected_pain(replace(Params(*params), onset=onset), adh, design, op.config(), jnp)


@jax_funcify.register(ExpectedPain)
def _jax_expected_pain(op: ExpectedPain, **kwargs: Any) -> Any:
    def expected(*inputs: Any) -> tuple[Any, Any]:
        mu = _expected_pain_jnp(op, *inputs)
        return mu, jnp.zeros((mu.shape[0], 0))  # no Jacobian: the VJP differentiates mu

    return expected


@jax_funcify.register(ExpectedPainVJP)
def _jax_expected_pain_vjp(op: ExpectedPainVJP, **kwargs: Any) -> Any:
    def vjp(*inputs: Any) -> tuple[Any, ...]:
        *args, _, g_mu = inputs
        _, pullback = jax.vjp(lambda *p: _expected_pain_jnp(op, *p, *args[N_PARAMS:]),
                              *args[:N_PARAMS])
        return tuple(pullback(g_mu))

    return vjp
