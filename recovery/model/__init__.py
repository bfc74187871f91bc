"""Recovery's science: schedules, the trajectory kernel, simulation, the PyMC model and fitting.

The public API is small; everything else is private to its module.

    cohort = Cohort.load("data/demo_cohort")
    fitted = fit(cohort, ModelConfig(), SamplerConfig(draws=1000, random_seed=1))
    save(fitted, "models/m1");  fitted = load("models/m1")
    response = Forecaster(fitted).forecast(ForecastRequest.model_validate(request_json))
"""

from recovery.model.booking import booking
from recovery.model.cohort import Cohort
from recovery.model.config import PARAMS, ModelConfig, SamplerConfig
from recovery.model.errors import CohortError, ModelVersionError, RecoveryError, ScheduleError
from recovery.model.evaluate import EvaluationReport, evaluate
from recovery.model.explain import explain
from recovery.model.fit import Diagnostics, FittedModel, fit
from recovery.model.forecast import Forecaster
from recovery.model.frontier import frontier
from recovery.model.io import load, save
from recovery.model.optimise import optimise
from recovery.model.requests import (
    BookingRequest,
    BookingResponse,
    ExplainRequest,
    ExplainResponse,
    ForecastRequest,
    ForecastResponse,
    FrontierResponse,
    History,
    OptimiseRequest,
    OptimiseResponse,
)
from recovery.model.schedules import PRESETS, Phase, Schedule, Session, describe, preset
from recovery.model.simulate import Truth, simulate_cohort
from recovery.model.update import PatientError, covariate_problems

__all__ = [
    "PARAMS",
    "PRESETS",
    "BookingRequest",
    "BookingResponse",
    "Cohort",
    "CohortError",
    "Diagnostics",
    "EvaluationReport",
    "ExplainRequest",
    "ExplainResponse",
    "FittedModel",
    "ForecastRequest",
    "ForecastResponse",
    "Forecaster",
    "FrontierResponse",
    "History",
    "ModelConfig",
    "ModelVersionError",
    "OptimiseRequest",
    "OptimiseResponse",
    "PatientError",
    "Phase",
    "RecoveryError",
    "SamplerConfig",
    "Schedule",
    "ScheduleError",
    "Session",
    "Truth",
    "booking",
    "covariate_problems",
    "describe",
    "evaluate",
    "explain",
    "fit",
    "frontier",
    "load",
    "optimise",
    "preset",
    "save",
    "simulate_cohort",
]
