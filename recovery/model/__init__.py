"""Recovery's science: schedules, the trajectory kernel, simulation, the PyMC model and fitting.

The public API is small; everything else is private to its module.

    cohort = Cohort.load("data/demo_cohort")
    fitted = fit(cohort, ModelConfig(), SamplerConfig(draws=1000, random_seed=1))
    save(fitted, "models/m1");  fitted = load("models/m1")
"""

from recovery.model.cohort import Cohort
from recovery.model.config import PARAMS, ModelConfig, SamplerConfig
from recovery.model.errors import CohortError, ModelVersionError, RecoveryError, ScheduleError
from recovery.model.fit import Diagnostics, FittedModel, fit
from recovery.model.io import load, save
from recovery.model.schedules import PRESETS, Phase, Schedule, Session, preset
from recovery.model.simulate import Truth, simulate_cohort

__all__ = [
    "PARAMS",
    "PRESETS",
    "Cohort",
    "CohortError",
    "Diagnostics",
    "FittedModel",
    "ModelConfig",
    "ModelVersionError",
    "Phase",
    "RecoveryError",
    "SamplerConfig",
    "Schedule",
    "ScheduleError",
    "Session",
    "Truth",
    "fit",
    "load",
    "preset",
    "save",
    "simulate_cohort",
]
