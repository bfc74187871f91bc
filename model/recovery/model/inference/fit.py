"""fit(cohort, config, sampler) -> FittedModel, with diagnostics that say plainly when they fail."""

from __future__ import annotations

import importlib
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
from pydantic import BaseModel, ConfigDict

from recovery.model.config import ModelConfig, SamplerConfig
from recovery.model.data.cohort import Cohort
from recovery.model.inference.budget import Progress, sample_in_background
from recovery.model.likelihood.build import (
    DATA_STARTED,
    KIND_WEIGHTS,
    CohortData,
    build_model,
    prepare,
    starting_values,
)
from recovery.model.likelihood.kernel import Params, build_design, expected_pain

__all__ = ["CohortUpdate", "Diagnostics", "FittedModel", "checked_names", "compile_nutpie", "fit",
           "gate_of", "iterations_done", "nutpie_options", "posterior_params", "stacked_draws",
           "stored_names", "summarise_diagnostics"]

RHAT_MAX, ESS_MIN = 1.01, 400.0


class CohortUpdate(BaseModel):
    """How a subsample fit's population reached every patient: the new-patient update's
    effective draws per patient (each patient's own in patients/updates.parquet)."""

    model_config = ConfigDict(frozen=True)
    patients: int
    updated: int
    failed: int
    ess_min: float
    ess_median: float
    low_ess: int  # patients whose update rests on too few effective draws to trust
    smc: int  # patients whose update needed tempered SMC
    seconds: float
    workers: int


class Diagnostics(BaseModel):
    """Convergence summary of a fit; `passed` is the gate for saving and serving.

    A quick look (method "advi") has no R-hat or ESS, never passes, and carries its measured
    error against NUTS in `problems`, so it is read next to its results.
    """

    model_config = ConfigDict(frozen=True)
    method: Literal["nuts", "advi"] = "nuts"
    max_rhat: float | None
    min_ess_bulk: float | None
    min_ess_tail: float | None
    divergences: int
    worst_rhat_var: str
    worst_ess_var: str
    sampler: str
    chains: int
    draws: int
    tune: int
    wall_seconds: float
    compile_seconds: float
    n_patients: int
    n_scores: int
    n_sessions: int
    passed: bool
    problems: list[str]
    stopped: str | None = None  # "gate passed" or "time budget" when sampling stopped early
    ppc_coverage_90: float | None = None  # share of scores inside their one-step 90 % interval
    steps_per_draw: float | None = None  # mean leapfrog steps (gradients) per draw, if recorded
    max_tree_depth: int = 10  # the NUTS depth cap the fit ran with
    depth_capped: float | None = None  # share of draws whose tree stopped at that cap
    # "full": NUTS sampled every patient. "subsample": NUTS sampled n_patients of a larger
    # cohort (R-hat and ESS are of that fit); every patient was then updated on its population
    strategy: Literal["full", "subsample"] = "full"
    cohort_update: CohortUpdate | None = None


def gate_of(idata: az.InferenceData, var_names: list[str]) -> tuple[bool, str]:
    """Whether a trace passes the gate, and its worst R-hat and ESS in words."""
    table = _summary(idata, var_names, kind="diagnostics", round_to="none")
    rhat, ess = float(table["r_hat"].max()), float(table[["ess_bulk", "ess_tail"]].min().min())
    div = int(idata["sample_stats"]["diverging"].sum())
    passed = rhat <= RHAT_MAX and ess >= ESS_MIN and not div
    return passed, f"R-hat {rhat:.3f}, min ESS {ess:.0f} of {ESS_MIN:.0f}, {div} divergences"


def summarise_diagnostics(
    idata: az.InferenceData, var_names: list[str], sampler: SamplerConfig,
    timing: tuple[float, float], sizes: tuple[int, int, int], stopped: str | None = None,
) -> Diagnostics:
    """R-hat, bulk/tail ESS over every sampled variable, divergences; list each failure (and,
    for a run stopped by its time budget, how many more draws the measured ESS asks for)."""
    table = _summary(idata, var_names, kind="diagnostics", round_to="none")
    rhat, ess_b, ess_t = table["r_hat"].dropna(), table["ess_bulk"], table["ess_tail"]
    stats = idata["sample_stats"]
    div = int(stats["diverging"].sum())
    draws = int(idata["posterior"].sizes["draw"])
    steps = next((float(stats[k].mean()) for k in ("n_steps", "num_steps") if k in stats), None)
    capped = next((float(stats[k].mean()) for k in ("maxdepth_reached", "reached_max_treedepth")
                   if k in stats), None)
    problems = []
    if rhat.max() > RHAT_MAX:
        problems.append(f"max R-hat {rhat.max():.3f} > {RHAT_MAX} ({rhat.idxmax()!s})")
    if min(ess_b.min(), ess_t.min()) < ESS_MIN:
        problems.append(f"min ESS bulk {ess_b.min():.0f} / tail {ess_t.min():.0f} < {ESS_MIN:.0f}"
                        f" ({ess_b.idxmin()!s})")
    if div:
        problems.append(f"{div} divergent transitions")
    ess = min(ess_b.min(), ess_t.min())
    if stopped == "time budget" and problems:
        more = max(0, int(np.ceil(draws * ESS_MIN / max(ess, 1.0) * 1.2)) - draws)
        problems.append(f"the time budget of {sampler.max_minutes:g} minutes ran out after "
                        f"{draws} draws per chain; at the measured ESS rate about {more} more "
                        "draws per chain are needed")
    return Diagnostics(
        max_rhat=float(rhat.max()), min_ess_bulk=float(ess_b.min()),
        min_ess_tail=float(ess_t.min()), divergences=div, worst_rhat_var=str(rhat.idxmax()),
        worst_ess_var=str(ess_b.idxmin()), sampler=sampler.sampler, chains=sampler.chains,
        draws=draws, tune=sampler.tune, stopped=stopped, wall_seconds=round(timing[0], 2),
        compile_seconds=round(timing[1], 2), n_patients=sizes[0], n_scores=sizes[1],
        n_sessions=sizes[2], passed=not problems, problems=problems,
        steps_per_draw=None if steps is None else round(steps, 1),
        max_tree_depth=sampler.max_tree_depth,
        depth_capped=None if capped is None else round(capped, 4),
    )


@dataclass
class FittedModel:
    """A posterior with the cohort and configuration it came from."""

    idata: az.InferenceData
    cohort: Cohort
    config: ModelConfig
    kinds: list[str]
    diagnostics: Diagnostics
    model_id: str

    @cached_property
    def data(self) -> CohortData:
        """The cohort as model arrays (built once; the cohort and config do not change)."""
        return prepare(self.cohort, self.config, self.kinds)

    def trajectory(self, patient_id: str, days: np.ndarray, max_draws: int | None = None
                   ) -> np.ndarray:
        """Expected pain (draws x days) of a fitted patient, under their recorded sessions.

        `days` are in the cohort's day units; the natural course starts at the patient's
        first record.
        """
        data = self.data
        if patient_id not in data.patient_ids:
            raise KeyError(f"patient {patient_id!r} is not in this model's cohort")
        i = data.patient_ids.index(patient_id)
        ses = self.cohort.sessions[self.cohort.sessions["patient_id"] == patient_id]
        t = np.asarray(days, dtype=float) - data.t0[i]
        kind_idx = ses["kind"].map(self.kinds.index).to_numpy()
        design = build_design(
            (np.zeros(len(ses), int), ses["day"].to_numpy() - data.t0[i], kind_idx),
            (np.zeros(len(t), int), t), 1, self.kinds, self.config)
        params = posterior_params(self.idata, data, max_draws)
        one = replace(params, theta=params.theta[:, i : i + 1], onset=data.onset[i : i + 1])
        return np.asarray(expected_pain(one, data.adherence[i : i + 1], design, self.config))


def stacked_draws(idata: az.InferenceData, name: str, max_draws: int | None = None
                  ) -> np.ndarray:
    """A posterior variable with chains and draws stacked first, evenly thinned to max_draws."""
    x = idata["posterior"][name].stack(sample=("chain", "draw")).transpose("sample", ...)
    arr = np.asarray(x.values)
    if max_draws is not None and len(arr) > max_draws:
        arr = arr[np.linspace(0, len(arr) - 1, max_draws).astype(int)]
    return arr


def posterior_params(idata: az.InferenceData, data: CohortData, max_draws: int | None = None
                     ) -> Params:
    """Kernel parameters for every posterior draw: theta (S, P, 8), tau_nat (S, 1), ..."""
    g = lambda n: stacked_draws(idata, n, max_draws)  # noqa: E731
    w, v, u, f = (np.exp(g(f"log_{name}_w")) for name, _ in KIND_WEIGHTS)
    return Params(g("theta"), g("tau_nat")[:, None], w, v, u, f, g("synergy")[:, None],
                  data.onset)


def _sample(model: pm.Model, s: SamplerConfig, start: dict[str, np.ndarray],
            on_compiled: Callable[[], None], on_progress: Progress | None = None
            ) -> tuple[az.InferenceData, float, str | None]:
    """Run the configured backend from `start` (build.starting_values); returns the trace, the
    seconds spent compiling, and why sampling stopped early (None: it ran its draws)."""
    t0 = time.perf_counter()
    if s.sampler == "numpyro":  # (compile_nutpie registers them for nutpie-jax)
        importlib.import_module("recovery.model.likelihood.jax_ops")  # registers the Ops for JAX
    if s.sampler in ("nutpie", "nutpie-jax"):
        import nutpie

        compiled = compile_nutpie(model, start, "numba" if s.sampler == "nutpie" else "jax")
        compile_s = time.perf_counter() - t0
        on_compiled()
        kwargs = nutpie_options(s)
        if on_progress is None and s.max_draws is None and s.max_minutes is None:
            return nutpie.sample(compiled, progress_bar=s.progress_bar, save_warmup=False,
                                 **kwargs), compile_s, None
        names = checked_names(model)
        idata, stopped = sample_in_background(nutpie, compiled, kwargs, s,
                                              lambda t: gate_of(t, names), on_progress)
        return idata, compile_s, stopped
    on_compiled()
    options: dict[str, Any] = {"nuts": {"max_treedepth": s.max_tree_depth}}
    if s.sampler == "numpyro":  # one device per chain when there are enough, else vmapped
        import jax

        method = "parallel" if jax.local_device_count() >= s.chains else "vectorized"
        options = {"nuts_sampler": "numpyro", "nuts_sampler_kwargs": {
            "chain_method": method, "nuts_kwargs": {"max_tree_depth": s.max_tree_depth}}}
    if s.sampler == "pymc" and "jax" in sys.modules:  # forking after JAX's threads start can
        options["mp_ctx"] = "forkserver"  # deadlock; a fresh server process forks safely
    with model:
        idata = pm.sample(draws=s.draws, tune=s.tune, chains=s.chains, cores=min(s.chains, 2),
                          random_seed=s.random_seed, target_accept=s.target_accept,
                          initvals=start, progressbar=s.progress_bar,
                          compute_convergence_checks=False,
                          **options)
    return idata, 0.0, None


def compile_nutpie(model: pm.Model, start: dict[str, np.ndarray], backend: str = "numba"
                   ) -> Any:
    """nutpie's compiled model, its chains started at `start` with every free variable jittered
    U(-1, 1) except the data-started patient bases, which jittered make warm-up slow
    (decision 0008)."""
    import nutpie

    if backend == "jax":  # JAX needs static shapes: freeze here, so the jitter set names the
        from pymc.model.transform.optimization import freeze_dims_and_data  # frozen RVs

        importlib.import_module("recovery.model.likelihood.jax_ops")  # registers the Ops for JAX
        model = freeze_dims_and_data(model)
    jitter = {v for v in model.free_RVs if v.name not in DATA_STARTED}
    gradient = "jax" if backend == "jax" else "pytensor"
    with warnings.catch_warnings():  # PyTensor's gradient graph transposes small matrices into
        warnings.filterwarnings(  # np.dot; numba hints at it on a cold cache, not ours to fix
            "ignore", r"np\.dot\(\) is faster on contiguous arrays")
        return nutpie.compile_pymc_model(model, backend=backend, gradient_backend=gradient,
                                         initial_points=start, jitter_rvs=jitter,
                                         freeze_model=False)


def nutpie_options(s: SamplerConfig) -> dict[str, Any]:
    """nutpie.sample's keyword arguments for a SamplerConfig (bench/scale_fit.py uses them)."""
    return {"draws": s.draws, "tune": s.tune, "chains": s.chains, "cores": min(s.chains, 2),
            "seed": s.random_seed, "target_accept": s.target_accept, "maxdepth": s.max_tree_depth}


def iterations_done(sampler: Any) -> int:
    """Iterations (tuning and kept) a background nutpie run has finished, slower chain."""
    with warnings.catch_warnings():  # arviz warns about the empty trace at the start
        warnings.simplefilter("ignore")
        trace = sampler.inspect()
    return sum(int(trace[g].sizes.get("draw", 0)) for g in ("warmup_posterior", "posterior")
               if g in trace.groups())


def fit(cohort: Cohort, config: ModelConfig | None = None, sampler: SamplerConfig | None = None,
        on_compiled: Callable[[], None] = lambda: None, on_progress: Progress | None = None,
        ) -> FittedModel:
    """Fit the hierarchical model to a validated cohort; diagnostics are always computed."""
    cfg, s = config or ModelConfig(), sampler or SamplerConfig()
    data = prepare(cohort, cfg)
    model = build_model(data, cfg)
    t0 = time.perf_counter()
    idata, compile_s, stopped = _sample(model, s, starting_values(data, cfg), on_compiled,
                                        on_progress)
    wall = time.perf_counter() - t0
    diag = summarise_diagnostics(idata, checked_names(model), s, (wall, compile_s),
                                 (len(data.patient_ids), len(data.y), len(cohort.sessions)),
                                 stopped)
    stored = stored_names(model)
    step = max(1, -(-diag.draws // s.keep_draws))  # ceil: at most keep_draws per chain
    thin = {"draw": slice(None, None, step)}
    idata = az.InferenceData(posterior=idata["posterior"][stored].isel(thin),
                             sample_stats=idata["sample_stats"][["diverging"]].isel(thin))
    return FittedModel(idata, cohort, cfg, data.kinds, diag, uuid.uuid4().hex[:12])


def checked_names(model: pm.Model) -> list[str]:
    """Variables whose convergence is checked: every sampled one, mu_pop and beta."""
    return [v.name for v in model.free_RVs] + ["mu_pop", "beta"]


def stored_names(model: pm.Model) -> list[str]:
    """Variables a model directory keeps: theta carries everything per patient, so the raw
    non-centred offsets (and the centred block, a slice of theta) are dropped once checked."""
    dropped = ("z_block", "z", "theta_centred", "beta_abs", "beta_free")
    extra = ["theta", *(["chol_corr"] if "chol_corr" in model.named_vars else [])]
    return [v for v in [*checked_names(model), *extra] if v not in dropped]


def _summary(idata: az.InferenceData, names: list[str], **kwargs: Any) -> pd.DataFrame:
    table = az.summary(idata, var_names=names, **kwargs)
    assert isinstance(table, pd.DataFrame)  # az.summary returns a Dataset only on request
    return table
