"""Recovery's science: schedules, the trajectory kernel, simulation, the PyMC model and fitting.

The public API is this module, with `config`, `errors` and `requests` (the JSON shapes); the
subpackages (data, likelihood, inference, predict, checks) are private to the model, and an
import contract keeps the service to this surface.

    cohort = Cohort.load("data/demo_cohort")
    fitted = fit(cohort, ModelConfig(), SamplerConfig(draws=1000, random_seed=1))
    save(fitted, "models/m1");  fitted = load("models/m1")
    response = Forecaster(fitted).forecast(ForecastRequest.model_validate(request_json))
"""

from recovery.model.checks.drift import (
    BANDS,
    QUANTILE_KEYS,
    DriftVerdict,
    band_scores,
    coverage_check,
    drift_verdict,
)
from recovery.model.checks.evaluate import EvaluationReport, evaluate
from recovery.model.checks.evaluate import write_report as write_evaluation_report
from recovery.model.checks.phenomena import CASES, PhenomenaReport
from recovery.model.checks.phenomena_report import README_END as PHENOMENA_END
from recovery.model.checks.phenomena_report import README_START as PHENOMENA_START
from recovery.model.checks.phenomena_report import readme_block as phenomena_readme_block
from recovery.model.checks.phenomena_report import write_report as write_phenomena_report
from recovery.model.config import PARAMS, ModelConfig, SamplerConfig
from recovery.model.data.cohort import Cohort
from recovery.model.data.schedules import (
    PRESETS,
    KindName,
    Phase,
    Schedule,
    TherapySession,
    describe,
    preset,
)
from recovery.model.data.subsample import stratified_subsample
from recovery.model.errors import CohortError, ModelVersionError, RecoveryError, ScheduleError
from recovery.model.inference.fit import Diagnostics, FittedModel, fit
from recovery.model.inference.io import evaluation_of, load, model_identity, save
from recovery.model.inference.plots import save_with_plots
from recovery.model.inference.quick import quick_fit
from recovery.model.predict.booking import booking
from recovery.model.predict.explain import explain
from recovery.model.predict.forecast import Forecaster
from recovery.model.predict.frontier import frontier
from recovery.model.predict.optimise import optimise
from recovery.model.predict.update import PatientError, covariate_problems
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
from recovery.model.simulation.simulate import WORLDS, Truth, simulate_cohort

__all__ = [
    "BANDS",
    "CASES",
    "PARAMS",
    "PHENOMENA_END",
    "PHENOMENA_START",
    "PRESETS",
    "QUANTILE_KEYS",
    "WORLDS",
    "BookingRequest",
    "BookingResponse",
    "Cohort",
    "CohortError",
    "Diagnostics",
    "DriftVerdict",
    "EvaluationReport",
    "ExplainRequest",
    "ExplainResponse",
    "FittedModel",
    "ForecastRequest",
    "ForecastResponse",
    "Forecaster",
    "FrontierResponse",
    "History",
    "KindName",
    "ModelConfig",
    "ModelVersionError",
    "OptimiseRequest",
    "OptimiseResponse",
    "PatientError",
    "Phase",
    "PhenomenaReport",
    "RecoveryError",
    "SamplerConfig",
    "Schedule",
    "ScheduleError",
    "TherapySession",
    "Truth",
    "band_scores",
    "booking",
    "covariate_problems",
    "coverage_check",
    "describe",
    "drift_verdict",
    "evaluate",
    "evaluation_of",
    "explain",
    "fit",
    "frontier",
    "load",
    "model_identity",
    "optimise",
    "phenomena_readme_block",
    "preset",
    "quick_fit",
    "save",
    "save_with_plots",
    "simulate_cohort",
    "stratified_subsample",
    "write_evaluation_report",
    "write_phenomena_report",
]
