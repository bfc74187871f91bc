"""Simulate a cohort, fit the model to it, read its diagnostics, evaluate it on held-out
scores and check the phenomena it must reproduce."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args

import numpy as np
import typer

from recovery.cli.common import (
    EXIT_BAD_DIAGNOSTICS,
    ModelDir,
    err,
    fail,
    forecaster_at,
    guarded,
    out,
    report_fit,
)
from recovery.engine.refit_spec import RefitPlace, RefitSpec

if TYPE_CHECKING:
    from recovery.engine.refit import RefitResult
    from recovery.model import Cohort, EvaluationReport

app = typer.Typer()


class World(StrEnum):
    """The simulated worlds (recovery.model.WORLDS)."""

    evidence = "evidence"
    articles = "articles"
SPEC = RefitSpec()  # the defaults of `recovery fit`'s options


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the cohort tables")],
    patients: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    weeks: Annotated[float, typer.Option(min=1, max=156)] = 12,
    seed: Annotated[int, typer.Option()] = 1,
    world: Annotated[World, typer.Option(help="the population truth: 'evidence' (published "
                                         "sizes) or 'articles' (the practitioners' world)")
                     ] = World.evidence,
) -> None:
    """Draw a synthetic cohort (patients, sessions, pain CSVs) and truth.json."""
    from recovery.model import WORLDS, simulate_cohort

    cohort, truth = simulate_cohort(patients, weeks, np.random.default_rng(seed),
                                    WORLDS[world.value])
    cohort.save(out_dir)
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=1))
    out.print(f"[green]wrote[/] {out_dir}: {patients} patients, {len(cohort.sessions)} sessions, "
              f"{len(cohort.pain)} scores (kinds: {', '.join(cohort.kinds)})")


def _opt(field: str, *names: str) -> Any:
    """A `recovery fit` option whose help is the refit spec's description of `field`."""
    return typer.Option(*names, help=RefitSpec.model_fields[field].description)


@app.command("fit")
def fit_cmd(  # the options are the refit spec's fields (bounds and defaults checked there)
    cohort_dir: Annotated[Path, typer.Argument(help="directory with patients/sessions/pain")],
    out_dir: Annotated[Path, typer.Option("--out", help="model directory to write")],
    draws: Annotated[int, _opt("draws")] = SPEC.draws,
    tune: Annotated[int, _opt("tune")] = SPEC.tune,
    chains: Annotated[int, _opt("chains")] = SPEC.chains,
    seed: Annotated[int, _opt("seed")] = SPEC.seed,
    sampler: Annotated[str, _opt("sampler")] = SPEC.sampler,
    keep_draws: Annotated[int, _opt("keep_draws")] = SPEC.keep_draws,
    max_draws: Annotated[int | None, _opt("max_draws")] = SPEC.max_draws,
    max_minutes: Annotated[float | None, _opt("max_minutes")] = SPEC.max_minutes,
    max_tree_depth: Annotated[int, _opt("max_tree_depth")] = SPEC.max_tree_depth,
    quick: Annotated[bool, typer.Option(
        help="quick look: ADVI instead of NUTS, minutes instead of hours; never servable")] = False,
    iterations: Annotated[int, _opt("iterations")] = SPEC.iterations,
    strategy: Annotated[str, _opt("strategy")] = SPEC.strategy,
    subsample: Annotated[int | None, _opt("subsample")] = SPEC.subsample,
    evaluated_patients: Annotated[int, _opt("evaluated_patients")] = SPEC.evaluated_patients,
    holdout_days: Annotated[float, _opt("holdout_days")] = SPEC.holdout_days,
    evaluation_draws: Annotated[int, _opt("evaluation_draws")] = SPEC.evaluation_draws,
    allow_bad_diagnostics: Annotated[bool, typer.Option(
        help="exit 0 even when R-hat, ESS or divergences fail the gate")] = False,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address for the per-patient updates; default: a local cluster")
    ] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, help="local cluster size for the updates (default one per CPU)")] = None,
) -> None:
    """Validate a cohort, fit the hierarchical model, write posterior, diagnostics, plots and
    the held-out evaluation (a subsample fit also every patient's posterior and forecasts,
    patients/*.parquet): the same refit as the service's worker."""
    from recovery.model import Cohort, CohortError

    options = {k: v for k, v in locals().items() if k in RefitSpec.model_fields}
    spec = _spec_of({**options, "method": "advi" if quick else "nuts"})
    try:
        cohort = Cohort.load(cohort_dir)
    except CohortError as exc:
        fail(str(exc))
    result = _refit(cohort, spec, out_dir, RefitPlace(address=scheduler, workers=workers))
    report_fit(result.fitted.diagnostics.model_dump(), out_dir)
    _report_evaluation(result.evaluation)
    if not quick and not result.fitted.diagnostics.passed and not allow_bad_diagnostics:
        raise typer.Exit(EXIT_BAD_DIAGNOSTICS)


def _spec_of(options: dict[str, Any]) -> RefitSpec:
    """The refit spec from the command's options; each bad one named as its option."""
    from pydantic import ValidationError

    try:
        return RefitSpec.model_validate(options)
    except ValidationError as exc:
        fail("; ".join(_option_problem(e) for e in exc.errors()))


def _option_problem(e: Any) -> str:
    """One validation error in the words of the command line."""
    name = str(e["loc"][0])
    option = "--quick" if name == "method" else "--" + name.replace("_", "-")
    if e["type"] == "literal_error":
        choices = get_args(RefitSpec.model_fields[name].annotation)
        return f"{option} must be one of {', '.join(choices)}, not {e['input']!r}"
    return f"{option}: {e['msg']}"


def _refit(cohort: Cohort, spec: RefitSpec, out_dir: Path, place: RefitPlace) -> RefitResult:
    """The refit with what it will do said first, and a progress bar while it runs."""
    from rich.progress import Progress

    from recovery.engine.cohort_fit import chosen_strategy, subsample_size
    from recovery.engine.refit import plan_of, refit
    from recovery.model import RecoveryError

    plan = plan_of(spec, place)
    if chosen_strategy(cohort, plan) == "subsample" and spec.method == "nuts":
        out.print(f"NUTS on a stratified subsample of {subsample_size(cohort, plan)} of "
                  f"{len(cohort.patients)} patients, then every patient updated on its "
                  "population")
    out.print(f"fitting {len(cohort.patients)} patients, {len(cohort.pain)} scores, "
              f"{len(cohort.sessions)} sessions with "
              + (f"ADVI ({spec.iterations} iterations)" if spec.method == "advi" else
                 f"{spec.sampler} ({spec.chains} chains x {spec.draws} draws, then on to at "
                 f"most {spec.draws_cap()} until the gate passes"
                 + (f", for at most {spec.max_minutes:g} minutes)" if spec.max_minutes
                    else ")")))
    with Progress(transient=True) as bar:
        task = bar.add_task("compiling the model (about a minute)", total=1.0)
        try:
            return refit(cohort, spec, out_dir, lambda done, what: bar.update(
                task, completed=done, description=what), place)
        except RecoveryError as exc:  # the time budget ran out before any draw was kept
            fail(str(exc))


def _report_evaluation(report: EvaluationReport) -> None:
    """The held-out evaluation in one line, and whether it overlaps the training cohort."""
    m = report.methods.get("model")
    if m is None:
        err.print(f"[yellow]warning:[/] no held-out scores to evaluate on ({report.patients} "
                  f"patients, none with scores in their last {report.holdout_days:g} days)")
        return
    out.print(f"held-out evaluation on {report.patients} patients' last "
              f"{report.holdout_days:g} days: 50 % bands held {m.coverage_50:.1%}, 90 % bands "
              f"{m.coverage_90:.1%}, CRPS {m.crps:.3f} (evaluation.json)")
    if report.overlaps_training_cohort:
        err.print("[yellow]warning:[/] evaluated on the training cohort (under ten patients, "
                  "or none kept back)")


@app.command()
def diagnostics(model_dir: Annotated[Path, typer.Argument()]) -> None:
    """Print a saved model's diagnostics."""
    path = model_dir / "diagnostics.json"
    if not path.exists():
        fail(f"{model_dir} is not a model directory (no diagnostics.json)")
    report_fit(json.loads(path.read_text()), model_dir)


@app.command()
def evaluate(
    model_dir: ModelDir,
    cohort_dir: Annotated[Path, typer.Option("--cohort", help="cohort to evaluate on")],
    out_dir: Annotated[Path, typer.Option("--out", help="report directory")],
    holdout_days: Annotated[float, typer.Option(min=1, max=365)] = 42,
    draws: Annotated[int, typer.Option(min=100, max=20_000)] = 1000,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Hide each patient's last days of scores, forecast them, and score against baselines."""
    from rich.progress import track

    from recovery.model import Cohort, CohortError
    from recovery.model import evaluate as run_evaluate
    from recovery.model import write_evaluation_report as write_report

    fc = forecaster_at(model_dir)
    try:
        cohort = Cohort.load(cohort_dir, fc.config)
    except CohortError as exc:
        fail(str(exc))
    report = guarded(lambda: run_evaluate(
        fc, cohort, holdout_days, draws, seed,
        progress=lambda it: track(it, total=len(cohort.patient_ids),
                                  description="forecasting held-out days")))
    write_report(report, out_dir)
    for name, s in report.methods.items():
        out.print(f"{name:28s} coverage 50 % {s.coverage_50:6.1%}  90 % {s.coverage_90:6.1%}  "
                  f"CRPS {s.crps:.3f}  MAE {s.mae_median:.2f}")
    if report.overlaps_training_cohort:
        err.print("[yellow]warning:[/] this is the model's own training cohort")
    out.print(f"[green]wrote[/] {out_dir}/report.md, report.json, calibration.png")


@app.command()
def phenomena(
    model_dir: ModelDir,
    out_dir: Annotated[Path, typer.Option("--out", help="report directory")],
    readme: Annotated[Path | None, typer.Option(
        help="also rewrite this README's table between its phenomena markers")] = None,
) -> None:
    """Run the phenomena cases (does the model tell the articles' story?) and write
    phenomena.md, phenomena.json and a chart a case."""
    from rich.progress import Progress

    from recovery.model import PHENOMENA_END as README_END
    from recovery.model import PHENOMENA_START as README_START
    from recovery.model import phenomena_readme_block as readme_block
    from recovery.model import write_phenomena_report as write_report

    fc = forecaster_at(model_dir)
    with Progress(transient=True) as bar:
        task = bar.add_task("phenomena", total=None)

        def step(done: int, total: int, claim: str) -> None:
            bar.update(task, completed=done, total=total, description=claim)

        report = guarded(lambda: write_report(fc, out_dir, step))
    for r in report.cases:
        figures = ", ".join(f"{k} {v:g}" for k, v in r.measured.items())
        out.print(f"{'[green]pass[/]' if r.passed else '[red]fail[/]'}  {r.claim}: {figures}")
    for t in report.trials:
        colour = "green" if t.verdict == "within" else "red"
        out.print(f"[{colour}]{t.verdict}[/]  {t.trial}, {t.outcome}: {t.measured:g} "
                  f"(published {t.published})")
    out.print(f"{report.passed} of {report.total} claims hold; [green]wrote[/] "
              f"{out_dir}/phenomena.md, phenomena.json and {report.total} charts")
    if readme is not None:
        text = readme.read_text()
        if README_START not in text or README_END not in text:
            fail(f"{readme} has no {README_START} ... {README_END} markers")
        head, rest = text.split(README_START, 1)
        links = Path(os.path.relpath(out_dir, readme.parent)).as_posix()  # from the page
        readme.write_text(head + readme_block(report, links)
                          + rest.split(README_END, 1)[1])
        out.print(f"[green]rewrote[/] the phenomena table in {readme}")
