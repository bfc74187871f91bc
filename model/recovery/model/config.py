"""Typed, immutable configuration: what the model is (`ModelConfig`) and how to sample it."""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from recovery.model.priors import KindPrior, Priors, default_kind_priors

__all__ = ["PARAMS", "SAMPLERS", "Covariate", "ModelConfig", "Sampler", "SamplerConfig"]

# Patient-level parameters, in the order of the population MVN (see priors.py for scales).
PARAMS: tuple[str, ...] = ("base", "floor", "relief", "relief_tau", "flare", "durable", "quick",
                           "quick_tau")


class Covariate(BaseModel):
    """A patient covariate: standardised as (x - center) / scale; missing values -> center."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    center: float = 0.0
    scale: float = Field(default=1.0, gt=0)
    low: float | None = None
    high: float | None = None


def _default_covariates() -> dict[str, Covariate]:
    return {
        "chronic": Covariate(center=0.0, scale=1.0, low=0, high=1),
        "structural_cause": Covariate(center=0.0, scale=1.0, low=0, high=1),
        "adherence": Covariate(center=0.5, scale=0.25, low=0, high=1),
        "age": Covariate(center=45.0, scale=15.0, low=0, high=120),
        "stress": Covariate(center=5.0, scale=2.5, low=0, high=10),
    }


def _default_effects() -> dict[str, tuple[str, ...]]:
    # Where the project's evidence puts them (docs/evidence.md): chronic pain levels off higher and
    # its relief needs upkeep (fades faster); a structural cause caps what massage's relief
    # reaches (course relief, not the exercise gain); stress raises pain and speeds the fading
    # of relief; age moves the floor. Adherence scales the durable term itself (kernel).
    return {
        "base": ("stress",),
        "floor": ("chronic", "stress", "age"),
        "relief": ("structural_cause",),
        "relief_tau": ("chronic", "stress"),
        "quick": ("structural_cause",),
    }


class ModelConfig(BaseModel):
    """The model's structure, fixed constants and priors. Saved with every posterior."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    covariates: dict[str, Covariate] = Field(default_factory=_default_covariates)
    effects: dict[str, tuple[str, ...]] = Field(default_factory=_default_effects)
    priors: Priors = Field(default_factory=Priors)
    kind_priors: dict[str, KindPrior] = Field(default_factory=default_kind_priors)
    # Fixed constants (not identifiable from diaries; see kernel.py for their roles).
    relief_saturation: float = Field(default=2.5, gt=0)  # kappa: massage sessions to ~63% of max
    quick_saturation: float = Field(default=1.5, gt=0)  # the short relief's kappa
    quick_tau_min: float = Field(default=0.5, gt=0)
    # Massage with exercise: a session of the first kind with one of the second kind within
    # synergy_window_days before it adds `synergy` to the durable dose (kernel.paired_basis).
    synergy_kinds: tuple[str, str] = ("physio", "massage")
    synergy_window_days: float = Field(default=7.0, gt=0)
    durable_saturation: float = Field(default=10.0, gt=0)  # nu: adherent rehab sessions to ~63%
    flare_peak_days: float = Field(default=1.0, gt=0)  # flare peaks 24-72 h after (DOMS)
    flare_habituation_sessions: float = Field(default=3.0, gt=0)
    flare_habituation_floor: float = Field(default=0.3, ge=0, le=1)
    # Habituation is forgotten over weeks without sessions: a restart after a break flares again.
    flare_habituation_memory_days: float = Field(default=28.0, gt=0)
    relief_tau_min: float = Field(default=3.0, gt=0)
    adherence_default: float = Field(default=0.5, ge=0, le=1)
    # Parameters with a learnt between-patient correlation (LKJ); the rest are independent.
    # None by default: the floor is a fraction of the patient's own base, and its covariates
    # act given that base (docs/decisions/0015-the-course-of-pain.md).
    correlated: tuple[str, ...] = ()
    # Parameters sampled centred (theta itself, not offsets): right for those that weeks of
    # diary scores pin down, wrong for weakly informed ones (funnels). With a correlated block,
    # its first parameters. Measured in docs/decisions/0008-sampling-the-hierarchy.md.
    centred: tuple[str, ...] = ("base",)

    @model_validator(mode="after")
    def _check_effects(self) -> Self:
        if len(self.correlated) == 1 or any(p not in PARAMS for p in self.correlated):
            raise ValueError(f"correlated: give none or at least two of {list(PARAMS)}")
        if any(p not in PARAMS for p in self.centred):
            raise ValueError(f"centred: give parameters of {list(PARAMS)}")
        if self.correlated and self.correlated[: len(self.centred)] != self.centred:
            raise ValueError("centred: must be the first parameters of correlated")
        for param, names in self.effects.items():
            if param not in PARAMS:
                raise ValueError(f"effects: unknown parameter {param!r}; known: {list(PARAMS)}")
            unknown = [n for n in names if n not in self.covariates]
            if unknown:
                raise ValueError(f"effects[{param}]: covariates {unknown} are not configured")
        return self

    def kind_prior(self, kind: str) -> KindPrior:
        """Prior for a session kind, falling back to the 'default' entry."""
        return self.kind_priors.get(kind, self.kind_priors["default"])

    def param_split(self) -> tuple[list[int], list[int]]:
        """Indices (into PARAMS) of the correlated block, in its order, and of the rest."""
        block = [PARAMS.index(p) for p in self.correlated]
        return block, [i for i in range(len(PARAMS)) if i not in block]

    def centred_rest(self) -> tuple[list[int], list[int]]:
        """Without a correlated block: indices of the independent parameters sampled centred,
        and of those sampled as offsets (non-centred)."""
        rest = self.param_split()[1]
        centred = [] if self.correlated else [i for i in rest if PARAMS[i] in self.centred]
        return centred, [i for i in rest if i not in centred]

    def effect_pairs(self) -> list[tuple[str, str]]:
        """(parameter, covariate) pairs with a regression coefficient, in a fixed order."""
        return [(p, c) for p in PARAMS for c in self.effects.get(p, ())]

    def effect_map(self) -> np.ndarray:
        """(E, 8) one-hot: which parameter each covariate effect moves."""
        onehot = np.zeros((len(self.effect_pairs()), len(PARAMS)))
        for e, (param, _) in enumerate(self.effect_pairs()):
            onehot[e, PARAMS.index(param)] = 1.0
        return onehot


Sampler = Literal["nutpie", "nutpie-jax", "numpyro", "pymc"]
# nutpie: nutpie's NUTS on the numba-compiled model (the default, fastest on CPU);
# nutpie-jax: nutpie with a JAX-compiled model (uses a GPU when jax sees one);
# numpyro: PyMC's model converted to JAX and sampled by NumPyro's NUTS (GPU likewise);
# pymc: PyMC's own NUTS on the C-compiled model (the reference).
SAMPLERS: tuple[str, ...] = Sampler.__args__  # type: ignore[attr-defined]


class SamplerConfig(BaseModel):
    """How to run MCMC."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sampler: Sampler = "nutpie"
    draws: int = Field(default=1000, ge=10, le=100_000)
    tune: int = Field(default=1000, ge=10, le=100_000)
    chains: int = Field(default=2, ge=2, le=16)  # R-hat compares chains: at least 2
    target_accept: float = Field(default=0.9, gt=0.5, lt=1.0)
    # NUTS doubles its trajectory at most this many times (2^depth - 1 gradients per draw).
    # Every sampler's default is 10; on large cohorts warm-up's first trees reach it, and a
    # lower cap bounds their cost (bench/scale_fit.py measures it). R-hat and ESS still judge.
    max_tree_depth: int = Field(default=10, ge=3, le=15)
    random_seed: int = 1
    progress_bar: bool = True
    # nutpie only: keep sampling past `draws`, up to this many per chain, until R-hat, ESS and
    # divergences pass the gate (checked as it goes); None: exactly `draws`
    max_draws: int | None = Field(default=None, ge=10, le=100_000)
    # nutpie only: stop sampling after this many minutes, keeping the draws made so far
    max_minutes: float | None = Field(default=None, gt=0, le=7 * 24 * 60)
    # Diagnostics use every draw; the stored posterior is thinned evenly to at most this many
    # draws per chain (forecasts need no more, and it keeps a model directory a few MB).
    keep_draws: int = Field(default=1000, ge=10)
