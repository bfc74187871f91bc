"""build_model(cohort, config) -> pm.Model: the hierarchical model (no I/O, no sampling).

Patient parameters theta_i (8, see priors.py) come from a population normal whose mean depends
on covariates, mu_pop + B x_i, with an LKJ-correlated block on cfg.correlated and the rest
independent (`_patient_theta`). Non-centred, except the block's first cfg.centred parameters,
which diaries pin down. The independent parameters' population means are sampled as
natural-scale averages (`_mean_preserving`), which a cohort informs better than a logit mean.
Chains start from the data (`starting_values`). Scores are interval-censored around the
kernel's mean plus a filtered AR(1) residual (residual.py, filter_op.py), so a diary week is
not counted as seven independent facts. Why this parametrisation, and what else was measured:
docs/decisions/0008-sampling-the-hierarchy.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from recovery.model.config import PARAMS, ModelConfig
from recovery.model.data.cohort import Cohort
from recovery.model.likelihood.filter_op import filtered_loglik
from recovery.model.likelihood.kernel import (
    LOG_SCALE,
    EventDesign,
    Params,
    build_design,
    floor_shift,
)
from recovery.model.likelihood.kernel_op import expected_pain_op
from recovery.model.likelihood.residual import ScoreGrid, score_grid

__all__ = ["DATA_STARTED", "KIND_WEIGHTS", "CohortData", "beta_prior", "build_model",
           "covariate_matrix",
           "prepare", "starting_values"]

DATA_STARTED = ("theta_centred",)  # free variables starting_values sets from the scores
# Per-kind weights in kernel.Params order: (name in the posterior, KindPrior field).
KIND_WEIGHTS = (("relief", "log_relief_weight"), ("durable", "log_durable_weight"),
                ("quick", "log_quick_weight"), ("flare", "log_flare_weight"))


@dataclass(frozen=True)
class CohortData:
    """A cohort as the arrays the model needs; days are shifted to each patient's first record."""

    patient_ids: list[str]
    kinds: list[str]
    effects: list[str]
    design: EventDesign
    y: np.ndarray  # (N,) scores
    grid: ScoreGrid  # each patient's scores in time order, for the residual filter
    adherence: np.ndarray  # (P,)
    x_effect: np.ndarray  # (P, E) standardised covariate of each effect
    effect_param: np.ndarray  # (E, 8) one-hot: which parameter each effect moves
    t0: np.ndarray  # (P,) day of each patient's first record
    onset: np.ndarray  # (P,) days of pain at the first record (unknown: the prior's median)


def covariate_matrix(patients: pd.DataFrame, cfg: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """Standardised covariates per effect (missing -> centre) and the effect->parameter map."""
    pairs = cfg.effect_pairs()
    x = np.zeros((len(patients), len(pairs)))
    for e, (_, cov) in enumerate(pairs):
        c = cfg.covariates[cov]
        col = patients[cov].to_numpy(dtype=float) if cov in patients else np.full(len(x), np.nan)
        x[:, e] = np.nan_to_num((col - c.center) / c.scale, nan=0.0)
    return x, cfg.effect_map()


def onset_days(patients: pd.DataFrame, t0: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """Days of pain at each patient's first record, from `onset_day` (the cohort's day the
    pain began); unknown: the median of the prior over durations (chronic or not)."""
    pr = cfg.priors
    day = patients["onset_day"].to_numpy(dtype=float) if "onset_day" in patients \
        else np.full(len(t0), np.nan)
    chronic = patients["chronic"].to_numpy(dtype=float) if "chronic" in patients \
        else np.zeros(len(t0))
    unknown = np.where(chronic == 1, np.exp(pr.log_onset_unknown_chronic.mu),
                       np.exp(pr.log_onset_unknown.mu))
    return np.where(np.isnan(day), unknown, np.maximum(t0 - day, 0.0))


def adherence_of(patients: pd.DataFrame, cfg: ModelConfig) -> np.ndarray:
    """Home-exercise adherence 0-1 per patient (missing -> the configured default)."""
    col = patients["adherence"] if "adherence" in patients else pd.Series(np.nan, patients.index)
    return col.fillna(cfg.adherence_default).to_numpy(dtype=float)


def prepare(cohort: Cohort, cfg: ModelConfig, kinds: list[str] | None = None) -> CohortData:
    """Turn a validated cohort into model arrays (vectorised)."""
    ids = cohort.patient_ids
    kinds = kinds or cohort.kinds
    index = pd.Series(np.arange(len(ids)), index=ids)
    s_pid = index[cohort.sessions["patient_id"]].to_numpy()
    o_pid = index[cohort.pain["patient_id"]].to_numpy()
    t0 = np.full(len(ids), np.inf)
    np.minimum.at(t0, s_pid, cohort.sessions["day"].to_numpy())
    np.minimum.at(t0, o_pid, cohort.pain["day"].to_numpy())
    t0 = np.where(np.isfinite(t0), t0, 0.0)
    s_t = cohort.sessions["day"].to_numpy() - t0[s_pid]
    o_t = cohort.pain["day"].to_numpy() - t0[o_pid]
    kind_idx = cohort.sessions["kind"].map({k: i for i, k in enumerate(kinds)}).to_numpy()
    design = build_design((s_pid, s_t, kind_idx), (o_pid, o_t), len(ids), kinds, cfg)
    x, onehot = covariate_matrix(cohort.patients, cfg)
    return CohortData(
        patient_ids=ids, kinds=kinds, effects=[f"{p}~{c}" for p, c in cfg.effect_pairs()],
        design=design, y=cohort.pain["score"].to_numpy(dtype=float),
        grid=score_grid(o_pid, o_t, len(ids)),  # pain is sorted by patient, then day
        adherence=adherence_of(cohort.patients, cfg), x_effect=x, effect_param=onehot, t0=t0,
        onset=onset_days(cohort.patients, t0, cfg),
    )


def _whiten(d: Any, chol: Any, k: int) -> list[Any]:
    """Columns of solve(chol[:k, :k], d.T) by forward substitution on the small triangular
    chol: elementwise ops only, which nutpie's numba backend compiles and differentiates far
    faster than a batched solve."""
    w: list[Any] = []
    for j in range(k):
        r = d[:, j]
        for i in range(j):
            r = r - chol[j, i] * w[i]
        w.append(r / chol[j, j])
    return w


def correlated_block(mean: Any, chol: Any, k: int, n_centred: int) -> Any:
    """Patients' correlated block ~ MvNormal(mean, chol chol^T), its first n_centred columns
    centred (sampled directly) and the rest non-centred given them: the same distribution,
    split so that well-informed parameters avoid the inverted funnel and weakly informed ones
    the ordinary funnel."""
    cols: list[Any] = []
    w: list[Any] = []
    if n_centred:
        c = pm.Flat("theta_centred", dims=("patient", "param_centred"))
        w = _whiten(c - mean[:, :n_centred], chol, n_centred)
        log_det = pt.sum(pt.log(pt.diag(chol)[:n_centred]))
        pm.Potential("theta_centred_prior", -0.5 * pt.sum(pt.stack(w) ** 2)
                     - c.shape[0] * (log_det + 0.5 * n_centred * np.log(2 * np.pi)))
        cols = [c[:, j] for j in range(n_centred)]
    if k > n_centred:
        z = pm.Normal("z_block", 0.0, 1.0, dims=("patient", "param_block_nc"))
        for j in range(n_centred, k):
            w.append(z[:, j - n_centred])
            cols.append(mean[:, j] + sum(chol[j, i] * w[i] for i in range(j + 1)))
    return pt.stack(cols, axis=1)


def beta_prior(data: CohortData, pr: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each covariate effect's sign (+1, -1; 0 for an unsigned one) and the mean and SD of its
    normal prior (of the magnitude, cut at 0, for a signed one)."""
    known = [pr.effects.get(e) for e in data.effects]
    sign = np.array([0.0 if k is None else float(k.sign) for k in known])
    mu = np.array([0.0 if k is None else k.mu for k in known])
    sd = np.array([pr.covariate_effect_sd if k is None else k.sigma for k in known])
    return sign, mu, sd


def _beta(data: CohortData, pr: Any) -> Any:
    """The covariate effects: sign * |b| for those with a known direction (the data can
    weaken a direction, not reverse it), free normals for the rest."""
    sign, mu, sd = beta_prior(data, pr)
    signed, free = np.flatnonzero(sign != 0), np.flatnonzero(sign == 0)
    beta = pt.zeros(len(sign))
    if len(signed):
        mag = pm.TruncatedNormal("beta_abs", mu=mu[signed], sigma=sd[signed], lower=0.0,
                                 shape=len(signed))
        beta = pt.set_subtensor(beta[signed], sign[signed] * mag)
    if len(free):
        beta = pt.set_subtensor(beta[free], pm.Normal("beta_free", 0.0, sd[free],
                                                      shape=len(free)))
    return pm.Deterministic("beta", beta, dims="effect")


def starting_values(data: CohortData, cfg: ModelConfig, days: float = 14.0
                    ) -> dict[str, np.ndarray]:
    """Where fit's chains start (before the sampler's jitter; passed to the sampler, since
    PyMC cannot freeze a model with initvals for JAX): population means at their priors
    (relief_tau ~80 days, not the 4 days a zero would give), each centred patient base at
    its first `days` of scores and each floor at its prior mean for the pain's duration, so
    that warm-up's first, deepest trees do not walk every patient in from a score of 5."""
    pr, n = cfg.priors, len(data.patient_ids)
    sign, mu, _ = beta_prior(data, pr)
    pop = np.array([getattr(pr, p).mu for p in PARAMS]) \
        + (data.x_effect.mean(axis=0) * sign * mu) @ data.effect_param
    theta = np.tile(pop, (n, 1))
    theta[:, PARAMS.index("floor")] += floor_shift(data.onset, np.exp(pr.log_tau_natural.mu))
    early = data.design.t < days
    total = np.bincount(data.design.patient[early], data.y[early], minlength=n)
    count = np.bincount(data.design.patient[early], minlength=n)
    p = np.clip(np.where(count > 0, total / np.maximum(count, 1), 5.0) / 10.0, 0.05, 0.95)
    theta[:, PARAMS.index("base")] = np.log(p / (1.0 - p))
    centred = cfg.param_split()[0][:len(cfg.centred)] or cfg.centred_rest()[0]
    return {"mu_pop_centred": pop, "theta_centred": theta[:, centred]}


def _mean_preserving(free: Any, sd: Any, rest: list[int]) -> tuple[Any, Any]:
    """The population means of the independent parameters from sampled ones that fix the
    mean on the natural scale: with weak information per patient a cohort pins down the
    average relief (say), not its logit mean and spread apart, and sampling those two makes a
    thin curved ridge that grows thinner with every patient. E sigmoid(m + s Z) is about
    sigmoid(m / k), k = sqrt(1 + pi s^2 / 8); E exp(m + s Z) = exp(m + s^2 / 2). So
    m = free * k (log-Jacobian log k) or m = free - s^2 / 2 (unit Jacobian)."""
    if not rest:
        return free, pt.constant(0.0)
    cols, log_jac = [], []
    for j, i in enumerate(rest):
        if PARAMS[i] in LOG_SCALE:
            cols.append((i, free[i] - sd[j] ** 2 / 2))
        else:
            k = pt.sqrt(1.0 + np.pi / 8.0 * sd[j] ** 2)
            cols.append((i, free[i] * k))
            log_jac.append(pt.log(k))
    idx = np.array([i for i, _ in cols])
    total = pt.sum(pt.stack(log_jac)) if log_jac else pt.constant(0.0)
    return pt.set_subtensor(free[idx], pt.stack([c for _, c in cols])), total


def _patient_theta(mean: Any, cfg: ModelConfig, n_patients: int, sd: Any,
                   sd_prior: tuple[float, np.ndarray]) -> Any:
    """theta (patient x param): an LKJ-correlated block on cfg.correlated (cfg.centred of it
    centred), with Gamma(shape, rates) SDs sd_prior; the rest independent with SDs sd, those
    in cfg.centred sampled centred and the others as offsets."""
    shape, rate = sd_prior
    block, rest = cfg.param_split()
    theta = pt.zeros((n_patients, len(PARAMS)))
    if block:
        chol, _, _ = pm.LKJCholeskyCov(
            "chol", n=len(block), eta=cfg.priors.lkj_eta, compute_corr=True,
            sd_dist=pm.Gamma.dist(alpha=shape, beta=rate[block], shape=len(block)))
        theta = pt.set_subtensor(theta[:, block],
                                 correlated_block(mean[:, block], chol, len(block),
                                                  len(cfg.centred)))
    centred, offsets = cfg.centred_rest()
    pos = {i: j for j, i in enumerate(rest)}
    if centred:
        c = pm.Normal("theta_centred", mean[:, centred], sd[[pos[i] for i in centred]],
                      dims=("patient", "param_centred"))
        theta = pt.set_subtensor(theta[:, centred], c)
    if offsets:
        z = pm.Normal("z", 0.0, 1.0, dims=("patient", "param_nc"))
        theta = pt.set_subtensor(theta[:, offsets],
                                 mean[:, offsets] + z * sd[[pos[i] for i in offsets]])
    return pm.Deterministic("theta", theta, dims=("patient", "param"))


def build_model(data: CohortData, cfg: ModelConfig) -> pm.Model:
    """The PyMC model with named dims (patient, param, effect, kind)."""
    pr = cfg.priors
    coords = {"patient": data.patient_ids, "param": list(PARAMS), "effect": data.effects,
              "kind": data.kinds, "param_block": list(cfg.correlated),
              "param_centred": list(cfg.centred) if cfg.correlated
              else [PARAMS[i] for i in cfg.centred_rest()[0]],
              "param_nc": [PARAMS[i] for i in cfg.centred_rest()[1]],
              "param_block_nc": [p for p in cfg.correlated if p not in cfg.centred],
              "param_other": [p for p in PARAMS if p not in cfg.correlated]}
    with pm.Model(coords=coords) as model:
        beta = _beta(data, pr)
        # Sample the intercept at the cohort's mean covariates (decorrelates it from beta);
        # mu_pop, the reference patient's mean, is a shift of it with unit Jacobian, so its
        # prior applies as a potential, with _mean_preserving's Jacobian added.
        x_mean = data.x_effect.mean(axis=0)
        rest = cfg.param_split()[1]
        shape, rate = pr.patient_sd_gamma()
        sd_other = pm.Gamma("patient_sd_other", alpha=shape, beta=rate[rest],
                            dims="param_other") if rest else None
        offsets = cfg.centred_rest()[1]
        sd_offsets = None if sd_other is None else sd_other[[rest.index(i) for i in offsets]]
        mu_c, log_jac = _mean_preserving(pm.Flat("mu_pop_centred", dims="param"), sd_offsets,
                                         offsets)
        mu_pop = pm.Deterministic("mu_pop", mu_c - (x_mean * beta) @ data.effect_param,
                                  dims="param")
        pop_prior = [getattr(pr, p) for p in PARAMS]
        prior = pm.Normal.dist(mu=[q.mu for q in pop_prior], sigma=[q.sigma for q in pop_prior])
        pm.Potential("mu_pop_prior", pm.logp(prior, mu_pop).sum() + log_jac)
        tau_nat = pm.LogNormal("tau_nat", pr.log_tau_natural.mu, pr.log_tau_natural.sigma)
        mean = mu_pop[None, :] + (data.x_effect * beta[None, :]) @ data.effect_param
        mean = pt.inc_subtensor(mean[:, PARAMS.index("floor")],
                                floor_shift(data.onset, tau_nat, pt))
        theta = _patient_theta(mean, cfg, len(data.patient_ids), sd_other, (shape, rate))
        kp = [cfg.kind_prior(k) for k in data.kinds]
        weights = [pt.exp(pm.Normal(f"log_{name}_w", mu=[getattr(k, field).mu for k in kp],
                                    sigma=[getattr(k, field).sigma for k in kp], dims="kind"))
                   for name, field in KIND_WEIGHTS]
        synergy = pm.LogNormal("synergy", pr.log_synergy.mu, pr.log_synergy.sigma)
        sigma = pm.LogNormal("sigma", pr.log_sigma.mu, pr.log_sigma.sigma)
        share = pm.Beta("share", *pr.share_ab)
        ell = pm.LogNormal("ell", pr.log_ell.mu, pr.log_ell.sigma)
        w, v, u, f = weights
        params = Params(theta, tau_nat, w, v, u, f, synergy, data.onset)
        mu = expected_pain_op(params, data.adherence, data.design, cfg)
        pm.Potential("loglik", filtered_loglik(mu, data.y, data.grid, (sigma, share, ell)))
    return model
