"""What a refit asks for, validated once: the service's POST /v1/fits body and the `recovery
fit` options are both this spec. Light to import (pydantic only): the command line builds its
options from it without loading PyMC or Dask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SUBSAMPLE_ABOVE", "RefitPlace", "RefitSpec", "Sampler", "Strategy"]

# recovery.model.config's Sampler, spelt here so that reading the spec loads no model (a test
# keeps the two the same)
Sampler = Literal["nutpie", "nutpie-jax", "numpyro", "pymc"]

Strategy = Literal["auto", "full", "subsample"]
SUBSAMPLE_ABOVE = 600  # patients; above this "auto" samples a subsample (bench/scale_fit.py)


class RefitSpec(BaseModel):
    """A refit: how to sample (NUTS or the ADVI quick look), by which strategy, and how the
    result is evaluated on held-out patients."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
    method: Literal["nuts", "advi"] = Field(
        default="nuts", description="nuts: the full fit; advi: a quick look, never servable")
    draws: int = Field(default=1000, ge=10, le=20_000, description="NUTS draws per chain")
    tune: int = Field(default=1000, ge=10, le=20_000, description="NUTS tuning steps per chain")
    chains: int = Field(default=2, ge=2, le=8, description="at least 2: R-hat compares chains")
    seed: int = Field(default=1, ge=0, le=2**32 - 1, description="random seed")
    sampler: Sampler = Field(default="nutpie", description=(
        "nutpie (numba), nutpie-jax, numpyro (JAX; GPU if jax sees one) or pymc"))
    max_draws: int | None = Field(
        default=None, ge=10, le=100_000, description="keep sampling past `draws`, up to this "
        "many per chain, until R-hat, ESS and divergences pass (default: 10 x draws; nutpie "
        "samplers)")
    max_minutes: float | None = Field(
        default=None, gt=0, le=24 * 60, description="stop sampling after this many minutes "
        "and keep what was drawn, with how many more draws the measured ESS needs (the "
        "service's default: its fit_max_minutes)")
    max_tree_depth: int = Field(
        default=10, ge=3, le=15, description="NUTS tree depth cap (2^depth - 1 gradients per "
        "draw at most); lower it to bound warm-up's cost on large cohorts")
    keep_draws: int = Field(default=1000, ge=10, le=20_000, description=(
        "store at most this many draws per chain (evenly thinned; ADVI draws this many)"))
    iterations: int = Field(default=6000, ge=100, le=200_000,
                            description="ADVI iterations (method advi)")
    strategy: Strategy = Field(default="auto", description=(
        "full: NUTS on every patient; subsample: NUTS on a stratified subsample, then every "
        "patient updated on its population on Dask (cost linear in patients); auto: "
        "subsample above 600 patients (the service's fit_subsample_above)"))
    subsample: int | None = Field(
        default=None, ge=5, le=100_000, description="patients NUTS samples with strategy "
        "subsample (default: about 8,000 scores' worth, 60 to 300; the service's "
        "fit_subsample)")
    evaluated_patients: int = Field(
        default=200, ge=0, le=10_000, description="at most this many held-out patients the "
        "refit is evaluated on (a tenth of the cohort is kept back from a full fit; 0: none "
        "kept back, the evaluation then says it overlaps the training cohort)")
    holdout_days: float = Field(default=42.0, ge=1, le=365, description=(
        "the evaluation hides each patient's last this many days of scores and forecasts them"))
    evaluation_draws: int = Field(default=500, ge=100, le=20_000,
                                  description="predictive draws per evaluated patient")

    def draws_cap(self) -> int:
        """The most draws per chain NUTS may take: `max_draws`, else 10 x draws."""
        return self.max_draws or min(10 * self.draws, 100_000)


@dataclass(frozen=True)
class RefitPlace:
    """Where a refit runs, not what it fits: the Dask scheduler for the per-patient updates
    (None: a local cluster of `workers`) and the size above which "auto" subsamples."""

    address: str | None = None
    workers: int | None = None
    subsample_above: int = SUBSAMPLE_ABOVE
