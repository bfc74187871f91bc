"""Priors as data, each citing the published figure it comes from (shared/EVIDENCE.md).

Patient parameters live on an unconstrained scale (see `kernel.PARAMS`):
  base        10 * sigmoid(x)           pain at the first record, NRS
  floor       base * sigmoid(x)          natural-course plateau, as a fraction of base
  relief      sigmoid(x)                 maximal relief while sessions continue, fraction of pain
  relief_tau  TAU_MIN + exp(x)           days for accumulated relief to fade by 1/e
  flare       exp(x)                     post-session soreness, NRS at the peak of a first session
  durable     sigmoid(x)                 maximal lasting gain from active rehab, fraction of pain
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["KindPrior", "NormalPrior", "Priors", "default_kind_priors"]


class NormalPrior(BaseModel):
    """Normal(mu, sigma) on an unconstrained scale (log or logit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    mu: float
    sigma: float = Field(gt=0)


class KindPrior(BaseModel):
    """Per-session-kind effects: relief potency, durable (rehab) potency, flare proneness."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    log_relief_weight: NormalPrior
    log_durable_weight: NormalPrior
    flare_weight: float = Field(default=1.0, ge=0)  # fixed: flare size is learnt per patient


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


class Priors(BaseModel):
    """Population-level priors. Means are for the reference patient (covariates at centre)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    # Baseline NRS ~5.3 (SD 1.7): Paanalahti 2014; Costa 2012 (52/100). 10*sigmoid(0.12) = 5.3.
    base: NormalPrior = NormalPrior(mu=_logit(0.53), sigma=0.25)
    # Plateau / baseline: acute ~0.12 (0.6 of 5.2), persistent ~0.45 (2.3 of 5.1): Costa 2012.
    # Reference is acute; the chronic effect below moves it to the persistent figure.
    floor: NormalPrior = NormalPrior(mu=_logit(0.15), sigma=0.5)
    # Emax ~2.0 NRS (1.2-2.8) on ~5 NRS: Furlan 2015 SMD -0.75; Cherkin 2011 [derived: ~40%].
    relief: NormalPrior = NormalPrior(mu=_logit(0.40), sigma=0.5)
    # Course-effect half-life ~56 d (21-140): Perlman 2012, Sherman 2009 [derived]; tau = t½/ln 2.
    relief_tau: NormalPrior = NormalPrior(mu=math.log(56 / math.log(2) - 3.0), sigma=0.45)
    # Flare +1 to +2 NRS when it happens, ~10-50% of sessions: Cambron 2007, Senstad 1997,
    # Paanalahti 2014 [unverified size]; expected bump ~0.5 NRS at a first session.
    flare: NormalPrior = NormalPrior(mu=math.log(0.5), sigma=0.6)
    # Durable gain from exercise: no pooled figure; ~30% of pain at full adherence [unverified].
    durable: NormalPrior = NormalPrior(mu=_logit(0.30), sigma=0.7)
    # Between-patient SD scales (see patient_sd_gamma). Baseline SD 1.7 NRS -> ~0.7 logit
    # (Paanalahti 2014); Plan 2012: placebo-effect variance 3.78 (logit), log half-time 0.35 ->
    # wide responders, so no SD near zero.
    patient_sd_scale: tuple[float, float, float, float, float, float] = (
        0.8, 0.8, 1.0, 0.5, 0.8, 0.8,
    )
    lkj_eta: float = 4.0
    covariate_effect_sd: float = 0.5
    # Chronic (persistent) vs acute floor: logit(0.45) - logit(0.15) = 1.5 (Costa 2012) [derived].
    chronic_floor_effect: NormalPrior = NormalPrior(mu=1.5, sigma=0.5)
    # Natural course: half-life ~28 d (tau ~40 d, 14-60 d half-life): Costa 2012, Artus 2014.
    log_tau_natural: NormalPrior = NormalPrior(mu=math.log(40.0), sigma=0.35)
    # Total residual SD of a diary score around the expected trajectory: SEM 1.02 (Childs 2005)
    # plus day-to-day fluctuation; Williams 2025 SEM 0.58-1.01.
    log_sigma: NormalPrior = NormalPrior(mu=math.log(1.2), sigma=0.3)
    # Share of residual variance that persists from day to day (AR part): Plan 2012 (P(same
    # score as yesterday) ~0.5) and ICC 0.75-0.94 (Williams 2025) -> Beta(6, 4).
    share_ab: tuple[float, float] = (6.0, 4.0)
    # Correlation time of the day-to-day fluctuation (days); weakly informed [unverified].
    log_ell: NormalPrior = NormalPrior(mu=math.log(7.0), sigma=0.5)

    def patient_sd_gamma(self) -> tuple[float, np.ndarray]:
        """Shape and rates of the between-patient SDs' Gamma(2, 2.5 / scale) priors.

        The mean (0.8 scale) and spread are a HalfNormal(scale)'s, but the density is zero at
        zero: no published cohort has identical responders (Plan 2012), and a HalfNormal's
        mass there gave the SD of relief a long left tail that the data cannot rule out and
        NUTS crossed slowly (Chung et al. 2013 on boundary-avoiding priors).
        """
        return 2.0, 2.5 / np.array(self.patient_sd_scale)


def default_kind_priors() -> dict[str, KindPrior]:
    """Per-kind priors: massage is the reference for relief; physio carries the durable gain.

    DESIGN.md: massage gives relief that fades and little durable change; exercise / physio gives
    slow change that lasts. Kinds not listed here use the "default" entry.
    """
    return {
        "massage": KindPrior(
            log_relief_weight=NormalPrior(mu=0.0, sigma=0.2),
            log_durable_weight=NormalPrior(mu=math.log(0.1), sigma=0.5),
            flare_weight=1.0,
        ),
        "physio": KindPrior(
            log_relief_weight=NormalPrior(mu=math.log(0.6), sigma=0.4),
            log_durable_weight=NormalPrior(mu=0.0, sigma=0.3),
            flare_weight=0.7,
        ),
        "default": KindPrior(
            log_relief_weight=NormalPrior(mu=math.log(0.5), sigma=0.6),
            log_durable_weight=NormalPrior(mu=math.log(0.3), sigma=0.7),
            flare_weight=1.0,
        ),
    }
