"""Priors as data, each citing the published figure it comes from (docs/evidence.md).

Patient parameters live on an unconstrained scale (see `kernel.PARAMS`):
  base        10 * sigmoid(x)           pain at the first record, NRS
  floor       base * sigmoid(x)          natural-course plateau, as a fraction of base; its
                                         population mean is that of the plateau as a fraction
                                         of pain at onset, shifted by how long the pain has
                                         lasted (kernel.floor_shift)
  relief      sigmoid(x)                 maximal course relief while sessions continue, fraction
  relief_tau  TAU_MIN + exp(x)           days for the course relief to fade by 1/e (weeks-months)
  flare       exp(x)                     post-session soreness, NRS at the peak of a first massage
  durable     sigmoid(x)                 maximal lasting gain from active rehab, fraction of pain
  quick       sigmoid(x)                 maximal short relief after a session, fraction of pain
  quick_tau   QUICK_MIN + exp(x)         days for the short relief to fade by 1/e (days)
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EffectPrior", "KindPrior", "NormalPrior", "Priors", "default_effect_priors",
           "default_kind_priors"]


class NormalPrior(BaseModel):
    """Normal(mu, sigma) on an unconstrained scale (log or logit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    mu: float
    sigma: float = Field(gt=0)


class KindPrior(BaseModel):
    """Per-session-kind potencies, all learnt from the cohort: course relief, durable (rehab)
    gain, short relief and post-session soreness (massage is the reference of the last two)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    log_relief_weight: NormalPrior
    log_durable_weight: NormalPrior
    log_quick_weight: NormalPrior
    log_flare_weight: NormalPrior


class EffectPrior(BaseModel):
    """A covariate effect with a known direction: sign * |b|, |b| ~ Normal(mu, sigma) cut at 0,
    so that the data can weaken the direction the evidence gives, never reverse it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sign: Literal[-1, 1]
    mu: float = Field(default=0.0, ge=0)
    sigma: float = Field(default=0.5, gt=0)


def default_effect_priors() -> dict[str, EffectPrior]:
    """Directions and sizes of the default covariate effects (docs/evidence.md, "Covariates").
    Keys are "parameter~covariate"; effects not listed get an unsigned Normal(0, sd)."""
    return {
        # Persistent course: higher plateau. Dunn 2006: 57 % of consulters in the two chronic
        # classes, 30 % recovering; 0.1 -> 0.3 of onset pain is +1.35 logit [derived].
        "floor~chronic": EffectPrior(sign=1, mu=1.35, sigma=0.5),
        # Distress predicts a worse course (Pincus 2002; Chou & Shekelle 2010) [unverified size].
        "floor~stress": EffectPrior(sign=1),
        "base~stress": EffectPrior(sign=1, sigma=0.3),
        # Older patients recover less (Chou & Shekelle 2010) [unverified size].
        "floor~age": EffectPrior(sign=1, sigma=0.3),
        # A structural cause limits what soft-tissue work relieves [unverified size].
        "relief~structural_cause": EffectPrior(sign=-1),
        "quick~structural_cause": EffectPrior(sign=-1),
        # Chronic pain and stress: relief needs upkeep, fades faster [unverified size].
        "relief_tau~chronic": EffectPrior(sign=-1, sigma=0.3),
        "relief_tau~stress": EffectPrior(sign=-1, sigma=0.3),
    }


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


class Priors(BaseModel):
    """Population-level priors. Means are for the reference patient (covariates at centre)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    # Baseline NRS ~5.3 (SD 1.7): Paanalahti 2014. 10*sigmoid(0.12) = 5.3.
    base: NormalPrior = NormalPrior(mu=_logit(0.53), sigma=0.25)
    # Plateau as a fraction of pain at onset, for a new episode: Henschke 2008: 72 % recovered
    # completely within a year; Pengel 2003: -58 % in a month, nearly constant after 3 months.
    # ~0.1 of onset pain [derived]; the chronic effect raises it (Dunn 2006). Costa 2012 is not
    # used here: it checks the natural course (checks/trials.py).
    floor: NormalPrior = NormalPrior(mu=_logit(0.10), sigma=0.6)
    # Course relief: Emax ~2.0 NRS (1.2-2.8) on ~5 NRS: Furlan 2015 SMD -0.75 [derived: ~40%,
    # of which the short relief below takes part]. Cherkin 2011 checks it, not sets it.
    relief: NormalPrior = NormalPrior(mu=_logit(0.35), sigma=0.5)
    # Course-effect half-life ~56 d (21-140): Perlman 2012, Sherman 2009 [derived]; tau = t½/ln 2.
    relief_tau: NormalPrior = NormalPrior(mu=math.log(56 / math.log(2) - 3.0), sigma=0.45)
    # Flare +1 to +2 NRS when it happens; after massage in ~10% of clients (Cambron 2007), so an
    # expected bump ~0.2-0.4 NRS at a first massage; manual therapy / physio more often
    # (Senstad 1997, Paanalahti 2014: 0.3-0.6 per patient) [unverified size].
    flare: NormalPrior = NormalPrior(mu=math.log(0.4), sigma=0.6)
    # Durable gain from exercise: no pooled figure; ~30% of pain at full adherence [unverified].
    durable: NormalPrior = NormalPrior(mu=_logit(0.30), sigma=0.7)
    # Short relief after a session: begins at once, lasts > 48 h (Cambron 2007); its size is
    # unpublished [unverified]: ~30% of pain at saturation, ~1 NRS after one session.
    quick: NormalPrior = NormalPrior(mu=_logit(0.30), sigma=0.6)
    # Its fading: half-life 2-4 days (Cambron 2007: > 48 h; EVIDENCE short-lived component),
    # tau = half-life / ln 2 ~ 4.3 d; with the patient spread, 90% of half-lives in 0.5-10 d.
    quick_tau: NormalPrior = NormalPrior(mu=math.log(3.0 / math.log(2) - 0.5), sigma=0.35)
    # Massage together with exercise: a physio session with massage in the week before counts
    # extra toward the durable gain (the articles: massage eases soreness so that exercise is
    # done); log of the extra share, wide: no trial measures it [unverified].
    log_synergy: NormalPrior = NormalPrior(mu=math.log(0.5), sigma=1.0)
    # Between-patient SD scales (see patient_sd_gamma), in PARAMS order. Baseline SD 1.7 NRS
    # -> ~0.7 logit (Paanalahti 2014). The floor's spread is wide: Dunn 2006's four classes
    # run from recovering to severe chronic, so a flat diary must be a common case.
    patient_sd_scale: tuple[float, ...] = (0.8, 2.0, 1.0, 0.5, 0.8, 0.8, 0.8, 0.5)
    lkj_eta: float = 4.0
    covariate_effect_sd: float = 0.5
    # Signed covariate effects (EffectPrior); unsigned ones: Normal(0, covariate_effect_sd).
    effects: dict[str, EffectPrior] = Field(default_factory=default_effect_priors)
    # Natural course from onset: the excess over the plateau falls as tau / (tau + u), u days
    # since onset, so tau is a new episode's half-time. Pengel 2003: -58 % in the first month
    # (with a plateau of 0.1: tau ~17 d); Henschke 2008: median recovery 58 days [derived].
    log_tau_natural: NormalPrior = NormalPrior(mu=math.log(20.0), sigma=0.4)
    # How long the pain has lasted at the first record, when the record does not say: days,
    # log-normal. Care-seekers: Dunn 2006 (over half persistent), Kongsted 2015 (most not
    # pain-free within a year) [unverified size]; a chronic patient has had it > 3 months.
    log_onset_unknown: NormalPrior = NormalPrior(mu=math.log(60.0), sigma=1.0)
    log_onset_unknown_chronic: NormalPrior = NormalPrior(mu=math.log(365.0), sigma=0.7)
    # Total residual SD of a diary score around the expected trajectory: Williams 2025 SEM
    # 0.58-1.01 (24 h retest, so day-to-day fluctuation included); Childs 2005 SEM 1.02.
    log_sigma: NormalPrior = NormalPrior(mu=math.log(1.0), sigma=0.3)
    # Share of residual variance that persists from day to day (AR part): ICC 0.75-0.94
    # (Williams 2025) -> Beta(8, 2). Plan 2012's day-to-day changes check it (trials.py).
    share_ab: tuple[float, float] = (8.0, 2.0)
    # Correlation time of the day-to-day fluctuation: days, so that it cannot carry a level the
    # mean should carry [unverified size].
    log_ell: NormalPrior = NormalPrior(mu=math.log(3.0), sigma=0.4)

    def patient_sd_gamma(self) -> tuple[float, np.ndarray]:
        """Shape and rates of the between-patient SDs' Gamma(2, 2.5 / scale) priors.

        The mean (0.8 scale) and spread are a HalfNormal(scale)'s, but the density is zero at
        zero: no published cohort has identical responders (Dunn 2006's classes), and a HalfNormal's
        mass there gave the SD of relief a long left tail that the data cannot rule out and
        NUTS crossed slowly (Chung et al. 2013 on boundary-avoiding priors).
        """
        return 2.0, 2.5 / np.array(self.patient_sd_scale)


def _normal(mu: float, sigma: float) -> NormalPrior:
    return NormalPrior(mu=mu, sigma=sigma)


def default_kind_priors() -> dict[str, KindPrior]:
    """Per-kind priors: massage is the reference for the relief, short relief and soreness;
    physio carries the durable gain and more soreness (Senstad 1997; the articles: feeling
    worse after physio, massage soothing soreness). Kinds not listed use the "default" entry.
    """
    log = math.log
    return {
        "massage": KindPrior(log_relief_weight=_normal(0.0, 0.1),
                             log_durable_weight=_normal(log(0.1), 0.5),
                             log_quick_weight=_normal(0.0, 0.1),
                             log_flare_weight=_normal(0.0, 0.1)),
        "physio": KindPrior(log_relief_weight=_normal(log(0.6), 0.4),
                            log_durable_weight=_normal(0.0, 0.3),
                            log_quick_weight=_normal(log(0.4), 0.6),
                            log_flare_weight=_normal(log(3.0), 0.5)),
        "default": KindPrior(log_relief_weight=_normal(log(0.5), 0.6),
                             log_durable_weight=_normal(log(0.3), 0.7),
                             log_quick_weight=_normal(log(0.5), 0.7),
                             log_flare_weight=_normal(0.0, 0.7)),
    }
