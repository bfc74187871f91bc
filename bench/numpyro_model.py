"""The hierarchical model written directly in NumPyro, for bench/fit.py's comparison.

Same priors, parameterisation and likelihood as recovery.model.likelihood.build: the kernel is
array-namespace generic, so this file passes `jax.numpy` where build.py passes PyTensor, and
the residual filter is jax_ops.grid_loglik (a jax.lax.scan), which the JAX backends also use.
"""

from __future__ import annotations

import os
import time
from typing import Any

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS, init_to_value

from recovery.model.config import PARAMS, ModelConfig
from recovery.model.likelihood.build import KIND_WEIGHTS, CohortData, beta_prior, starting_values
from recovery.model.likelihood.jax_ops import grid_loglik
from recovery.model.likelihood.kernel import LOG_SCALE, Params, expected_pain, floor_shift

jax.config.update("jax_enable_x64", True)


def _beta(data: CohortData, pr: Any) -> Any:
    """build._beta: sign * |b| (|b| a normal cut at 0) for signed effects, normals for the rest."""
    sign, mu, sd = beta_prior(data, pr)
    signed, free = np.flatnonzero(sign != 0), np.flatnonzero(sign == 0)
    beta = jnp.zeros(len(sign))
    if len(signed):
        mag = numpyro.sample("beta_abs", dist.TruncatedNormal(mu[signed], sd[signed], low=0.0))
        beta = beta.at[signed].set(sign[signed] * mag)
    if len(free):
        beta = beta.at[free].set(numpyro.sample("beta_free", dist.Normal(0.0, sd[free])))
    return beta


def model(data: CohortData, cfg: ModelConfig) -> None:
    """NumPyro twin of build.build_model (site names follow it; no correlated block)."""
    pr, n = cfg.priors, len(data.patient_ids)
    beta = _beta(data, pr)
    shape, rate = pr.patient_sd_gamma()
    rest = cfg.param_split()[1]
    centred, offsets = cfg.centred_rest()
    pos = np.array([rest.index(i) for i in offsets])
    sd_o = numpyro.sample("patient_sd_other", dist.Gamma(shape, rate[np.array(rest)]))
    free = numpyro.sample("mu_pop_centred",
                          dist.ImproperUniform(dist.constraints.real, (), (len(PARAMS),)))
    # build._mean_preserving (offsets only): the natural-scale mean is what the value fixes
    log_scale = np.array([PARAMS[i] in LOG_SCALE for i in offsets])
    k = jnp.sqrt(1.0 + jnp.pi / 8.0 * sd_o[pos]**2)
    free_off = free[np.array(offsets)]
    mu_c = free.at[np.array(offsets)].set(jnp.where(log_scale, free_off - sd_o[pos]**2 / 2,
                                                    free_off * k))
    log_jac = jnp.sum(jnp.where(log_scale, 0.0, jnp.log(k)))
    mu_pop = mu_c - (jnp.asarray(data.x_effect.mean(axis=0)) * beta) @ data.effect_param
    q = [getattr(pr, p) for p in PARAMS]
    pop_prior = dist.Normal(jnp.array([x.mu for x in q]), jnp.array([x.sigma for x in q]))
    numpyro.factor("mu_pop_prior", pop_prior.log_prob(mu_pop).sum() + log_jac)
    tau_nat = numpyro.sample("tau_nat", dist.LogNormal(pr.log_tau_natural.mu,
                                                       pr.log_tau_natural.sigma))
    mean = mu_pop[None, :] + (data.x_effect * beta[None, :]) @ data.effect_param
    mean = mean.at[:, PARAMS.index("floor")].add(floor_shift(data.onset, tau_nat, jnp))
    theta = jnp.zeros((n, len(PARAMS)))
    cpos = np.array([rest.index(i) for i in centred])
    theta = theta.at[:, centred].set(numpyro.sample(
        "theta_centred", dist.Normal(mean[:, centred], sd_o[cpos])))
    z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([n, len(offsets)]))
    theta = theta.at[:, offsets].set(mean[:, offsets] + z * sd_o[pos])
    kp = [cfg.kind_prior(k) for k in data.kinds]
    weights = [jnp.exp(numpyro.sample(f"log_{name}_w", dist.Normal(
        jnp.array([getattr(k, field).mu for k in kp]),
        jnp.array([getattr(k, field).sigma for k in kp])))) for name, field in KIND_WEIGHTS]
    synergy = numpyro.sample("synergy", dist.LogNormal(pr.log_synergy.mu, pr.log_synergy.sigma))
    sigma = numpyro.sample("sigma", dist.LogNormal(pr.log_sigma.mu, pr.log_sigma.sigma))
    share = numpyro.sample("share", dist.Beta(*pr.share_ab))
    ell = numpyro.sample("ell", dist.LogNormal(pr.log_ell.mu, pr.log_ell.sigma))
    numpyro.deterministic("mu_pop", mu_pop)
    mu = expected_pain(Params(theta, tau_nat, *weights, synergy, data.onset), data.adherence,
                       data.design, cfg, xp=jnp)
    g = data.grid
    numpyro.factor("loglik", grid_loglik(mu, jnp.stack([sigma, share, ell]), data.y,
                                         g.flat_gap, g.index, g.valid))


def sample(data: CohortData, cfg: ModelConfig, draws: int, tune: int, chains: int,
           seed: int, target_accept: float) -> tuple[Any, float]:
    """Run NumPyro's NUTS (chains in parallel on host devices), starting where the project's
    fit starts (build.starting_values); returns (idata, seconds)."""
    import arviz as az

    start = init_to_value(values={k: jnp.asarray(v) for k, v in starting_values(data, cfg).items()})
    mcmc = MCMC(NUTS(model, target_accept_prob=target_accept, init_strategy=start),
                num_warmup=tune,
                num_samples=draws, num_chains=chains,
                chain_method="parallel" if jax.local_device_count() >= chains else "sequential",
                progress_bar=False)
    t0 = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(seed), data, cfg, extra_fields=("diverging", "num_steps"))
    jax.block_until_ready(mcmc.get_samples())
    return az.from_numpyro(mcmc), time.perf_counter() - t0
