"""bench/numpyro_model.py is the same model as build.build_model, or bench/fit.py's NumPyro
row compares something else: at one point, every prior term and the likelihood agree."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import numpy as np
import pymc as pm

from recovery.model import Cohort, ModelConfig
from recovery.model.likelihood.build import KIND_WEIGHTS, build_model, prepare
from tests.helpers import ROOT


def _bench_module(name: str) -> ModuleType:
    """A bench/ script loaded as a module by its path (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


numpyro_model = _bench_module("numpyro_model")


def _pymc_terms(model: pm.Model, point: dict) -> tuple[dict, dict]:
    """Each free variable's value and each term's log density (no Jacobians) at point."""
    rvs = [*model.free_RVs, *model.deterministics]
    terms = [*model.free_RVs, *model.potentials]
    fn = model.compile_fn(model.replace_rvs_by_values(
        [*rvs, *model.logp(vars=terms, jacobian=False, sum=False)]),
        inputs=model.value_vars, on_unused_input="ignore")
    out = fn(point)
    names = [v.name for v in rvs]
    return dict(zip(names, out[:len(rvs)], strict=True)), \
        dict(zip([v.name for v in terms], out[len(rvs):], strict=True))


def test_numpyro_twin_has_the_same_density(small_cohort: Cohort) -> None:
    import jax.numpy as jnp
    from numpyro.handlers import substitute, trace

    cfg = ModelConfig()
    data = prepare(small_cohort, cfg)
    model = build_model(data, cfg)
    rng = np.random.default_rng(11)
    weights = [f"log_{name}_w" for name, _ in KIND_WEIGHTS]
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    values, pymc_logp = _pymc_terms(model, point)
    given = {k: values[k] for k in ("beta_abs", "beta_free", "patient_sd_other",
                                    "mu_pop_centred", "theta_centred", "z", *weights,
                                    "tau_nat", "synergy", "sigma", "share", "ell")
             if k in values}
    given = {k: jnp.asarray(v) for k, v in given.items()}
    tr = trace(substitute(numpyro_model.model, data=given)).get_trace(data, cfg)
    twin = {k: float(np.sum(site["fn"].log_prob(site["value"]))) for k, site in tr.items()
            if site["type"] == "sample"}
    np.testing.assert_allclose(tr["mu_pop"]["value"], values["mu_pop"], rtol=1e-10)
    shared = ["beta_abs", "patient_sd_other", "theta_centred", "z", *weights, "tau_nat",
              "synergy", "sigma", "share", "ell", "mu_pop_prior", "loglik"]
    for name in shared:  # 1e-6: JAX's Beta density (betaln) differs from SciPy's by 1e-7
        np.testing.assert_allclose(twin[name], pymc_logp[name].sum(), rtol=1e-6, err_msg=name)
    assert twin["loglik"] < -100  # the likelihood of many scores: not an empty term
