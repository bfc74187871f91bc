"""A JAX implementation of PyTensor's `erfcx`, which the JAX backends need and PyTensor lacks.

PyMC's normal log-CDF (used by the interval likelihood) calls erfcx(x) = exp(x^2) erfc(x)
for arguments above ~0.7; PyTensor only has a JAX version of it through tfp-nightly.
Importing this module registers one: the direct form below x = 10 (no overflow in float64)
and the asymptotic series above it (relative error < 1e-7 there).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jax.scipy.special import erfc
from pytensor.link.jax.dispatch import jax_funcify
from pytensor.scalar.math import Erfcx

__all__ = ["erfcx"]

_SWITCH = 10.0


def erfcx(x: Any) -> Any:
    """Scaled complementary error function, stable for large x (both branches stay finite)."""
    below = x < _SWITCH
    small = jnp.where(below, x, 0.0)  # where, not min/max: no half gradients at the switch
    big = jnp.where(below, _SWITCH, x)
    inv2 = 1.0 / (2.0 * big * big)
    series = (1.0 - inv2 + 3.0 * inv2**2 - 15.0 * inv2**3) / (big * jnp.sqrt(jnp.pi))
    return jnp.where(below, jnp.exp(small * small) * erfc(small), series)


@jax_funcify.register(Erfcx)
def _jax_erfcx(op: Any, **kwargs: Any) -> Any:
    return erfcx
