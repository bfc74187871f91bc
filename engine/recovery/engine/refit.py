"""One refit, whoever asks for it: the service's worker and `recovery fit` both call `refit`,
so a fit from either leaves the same artefacts (posterior, diagnostics, plots, the cohort,
every patient's tables after a subsample fit, and the held-out evaluation).

A full fit (or a quick look) keeps back a stratified tenth of the cohort, up to
`evaluated_patients`, and is evaluated on it; a subsample fit keeps none back and is evaluated
on patients NUTS did not see. A cohort under ten patients keeps none, and its evaluation says
it overlaps the training cohort.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recovery.engine.cohort_fit import CohortFitPlan, chosen_strategy, fit_cohort
from recovery.engine.refit_spec import RefitPlace, RefitSpec
from recovery.model import (
    Cohort,
    EvaluationReport,
    FittedModel,
    Forecaster,
    ModelConfig,
    SamplerConfig,
    evaluate,
    quick_fit,
    save_with_plots,
    stratified_subsample,
)

__all__ = ["FIT_SHARE", "RefitPlace", "RefitProgress", "RefitResult", "RefitSpec", "plan_of",
           "refit"]

# progress(fraction done, what is happening now)
RefitProgress = Callable[[float, str], None]
FIT_SHARE = 0.8  # of the progress: sampling and the per-patient updates; then the checks


@dataclass(frozen=True)
class RefitResult:
    """A finished refit: the fitted model, where it was written, and its evaluation."""

    fitted: FittedModel
    directory: Path
    evaluation: EvaluationReport

    @property
    def summary(self) -> str:
        """The fit's verdict in one line (a quick look's problems say QUICK LOOK)."""
        d = self.fitted.diagnostics
        if d.passed:
            return "diagnostics passed"
        return ("" if d.method == "advi" else "DIAGNOSTICS FAILED: ") + "; ".join(d.problems)


def plan_of(spec: RefitSpec, place: RefitPlace) -> CohortFitPlan:
    """The engine's plan for this spec, run where `place` says."""
    return CohortFitPlan(strategy=spec.strategy, subsample=spec.subsample,
                         above=place.subsample_above, address=place.address,
                         workers=place.workers)


def sampler_of(spec: RefitSpec) -> SamplerConfig:
    """The MCMC settings of a NUTS refit (progress goes to the refit's callback)."""
    return SamplerConfig(sampler=spec.sampler, draws=spec.draws, tune=spec.tune,
                         chains=spec.chains, random_seed=spec.seed, progress_bar=False,
                         keep_draws=spec.keep_draws, max_tree_depth=spec.max_tree_depth,
                         max_minutes=spec.max_minutes, max_draws=spec.draws_cap())


def refit(cohort: Cohort, spec: RefitSpec, out_dir: Path,
          progress: RefitProgress = lambda done, what: None,
          place: RefitPlace | None = None) -> RefitResult:
    """Fit `cohort` as `spec` says, write the model directory `out_dir` with its plots and
    evaluation.json, and evaluate it on held-out patients."""
    plan = plan_of(spec, place or RefitPlace())
    progress(0.0, "compiling the model")
    subsampled = spec.method == "nuts" and chosen_strategy(cohort, plan) != "full"
    training, held = _held_out(cohort, spec, subsampled)
    with tempfile.TemporaryDirectory(prefix="recovery-fit-") as work:
        patients = Path(work) / "patients"
        fitted = _fitted(training, spec, plan, patients, progress)
        progress(0.9, "checking: posterior predictive and held-out evaluation")
        save_with_plots(fitted, out_dir, spec.seed,
                        {"patients": patients} if patients.is_dir() else None)
    evaluated = held if held is not None else _evaluated(cohort, fitted, spec)
    report = evaluate(Forecaster(fitted), evaluated, holdout_days=spec.holdout_days,
                      draws=spec.evaluation_draws)
    (out_dir / "evaluation.json").write_text(report.model_dump_json(indent=1))
    return RefitResult(fitted, out_dir, report)


def _fitted(training: Cohort, spec: RefitSpec, plan: CohortFitPlan, patients: Path,
            progress: RefitProgress) -> FittedModel:
    """Sample (NUTS by the plan, or ADVI), reporting sampling as the first FIT_SHARE."""
    def sampling(done: float, what: str) -> None:
        progress(FIT_SHARE * done, what)

    if spec.method == "advi":
        return quick_fit(training, iterations=spec.iterations, draws=spec.keep_draws,
                         seed=spec.seed, progress_bar=False, on_progress=sampling)
    n, updated = len(training.patients), [0]

    def on_patients(k: int) -> None:
        updated[0] += k
        progress(FIT_SHARE, f"updating every patient ({updated[0]} of {n})")

    return fit_cohort(training, sampler_of(spec), plan, patients, on_progress=sampling,
                      on_patients=on_patients)


def _held_out(cohort: Cohort, spec: RefitSpec, subsampled: bool
              ) -> tuple[Cohort, Cohort | None]:
    """What the refit samples, and the patients kept back for its evaluation (none for a
    subsample fit, or a cohort under ten patients)."""
    n = min(spec.evaluated_patients, len(cohort.patients) // 10)
    if subsampled or n == 0:
        return cohort, None
    held = stratified_subsample(cohort, n, ModelConfig(), every_stratum=False)
    return cohort.only(set(cohort.patient_ids) - set(held.patient_ids)), held


def _evaluated(cohort: Cohort, fitted: FittedModel, spec: RefitSpec) -> Cohort:
    """The patients a refit that kept none back is evaluated on: those NUTS did not see (up
    to `evaluated_patients`, stratified), else the whole cohort."""
    rest = set(cohort.patient_ids) - set(fitted.cohort.patient_ids)
    if not rest or spec.evaluated_patients == 0:
        return cohort
    return stratified_subsample(cohort.only(rest), spec.evaluated_patients, fitted.config)
