"""Simulate a cohort, fit the model to it, read its diagnostics, evaluate it on held-out
scores and check the phenomena it must reproduce."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, cast

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

app = typer.Typer()


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the cohort tables")],
    patients: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    weeks: Annotated[float, typer.Option(min=1, max=156)] = 12,
    seed: Annotated[int, typer.Option()] = 1,
) -> None:
    """Draw a synthetic cohort (patients, sessions, pain CSVs) and truth.json."""
    from recovery.model import simulate_cohort

    cohort, truth = simulate_cohort(patients, weeks, np.random.default_rng(seed))
    cohort.save(out_dir)
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=1))
    out.print(f"[green]wrote[/] {out_dir}: {patients} patients, {len(cohort.sessions)} sessions, "
              f"{len(cohort.pain)} scores (kinds: {', '.join(cohort.kinds)})")


@app.command("fit")
def fit_cmd(
    cohort_dir: Annotated[Path, typer.Argument(help="directory with patients/sessions/pain")],
    out_dir: Annotated[Path, typer.Option("--out", help="model directory to write")],
    draws: Annotated[int, typer.Option(min=10)] = 1000,
    tune: Annotated[int, typer.Option(min=10)] = 1000,
    chains: Annotated[int, typer.Option(min=2, max=16,
                                        help="at least 2: R-hat compares chains")] = 2,
    seed: Annotated[int, typer.Option()] = 1,
    sampler: Annotated[str, typer.Option(
        help="nutpie (numba), nutpie-jax, numpyro (JAX; GPU if jax sees one) or pymc")] = "nutpie",
    keep_draws: Annotated[int, typer.Option(
        min=10, help="store at most this many draws per chain (evenly thinned)")] = 1000,
    max_draws: Annotated[int | None, typer.Option(
        min=10, help="keep sampling past --draws, up to this many per chain, until R-hat, ESS "
                     "and divergences pass (default 10 x draws; nutpie samplers)")] = None,
    max_minutes: Annotated[float | None, typer.Option(
        min=0.01, help="stop sampling after this many minutes and write what was drawn, with "
                       "how many more draws the measured ESS needs (nutpie samplers)")] = None,
    max_tree_depth: Annotated[int, typer.Option(
        min=3, max=15, help="NUTS tree depth cap (2^depth - 1 gradients per draw at most); "
                            "lower it to bound warm-up's cost on large cohorts")] = 10,
    quick: Annotated[bool, typer.Option(
        help="quick look: ADVI instead of NUTS, minutes instead of hours; never servable")] = False,
    iterations: Annotated[int, typer.Option(min=100, help="ADVI iterations (--quick)")] = 6000,
    allow_bad_diagnostics: Annotated[bool, typer.Option(
        help="exit 0 even when R-hat, ESS or divergences fail the gate")] = False,
    strategy: Annotated[str, typer.Option(
        help="full: NUTS on every patient; subsample: NUTS on a stratified subsample, then "
             "every patient updated on Dask (cost linear in patients); auto: subsample above "
             "600 patients")] = "auto",
    subsample: Annotated[int | None, typer.Option(
        min=5, help="patients NUTS samples with --strategy subsample (default: about 8,000 "
                    "scores' worth, 60 to 300)")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address for the per-patient updates; default: a local cluster")
    ] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, help="local cluster size for the updates (default one per CPU)")] = None,
) -> None:
    """Validate a cohort, fit the hierarchical model, write posterior, diagnostics and plots;
    a subsample fit also writes every patient's posterior and forecasts (patients/*.parquet)."""
    import tempfile

    from recovery.engine.cohort_fit import (
        STRATEGIES,
        CohortFitPlan,
        chosen_strategy,
        subsample_size,
    )
    from recovery.model import Cohort, CohortError, SamplerConfig
    from recovery.model.config import SAMPLERS, Sampler
    from recovery.model.inference.budget import BudgetError
    from recovery.model.inference.plots import save_with_plots
    from recovery.model.inference.quick import quick_fit

    if sampler not in SAMPLERS:
        fail(f"--sampler must be one of {', '.join(SAMPLERS)}, not {sampler!r}")
    if strategy not in STRATEGIES:
        fail(f"--strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    try:
        cohort = Cohort.load(cohort_dir)
    except CohortError as exc:
        fail(str(exc))
    plan = CohortFitPlan(cast("Any", strategy), subsample, address=scheduler, workers=workers)
    if chosen_strategy(cohort, plan) == "subsample" and not quick:
        out.print(f"NUTS on a stratified subsample of {subsample_size(cohort, plan)} of "
                  f"{len(cohort.patients)} "
                  "patients, then every patient updated on its population")
    out.print(f"fitting {len(cohort.patients)} patients, {len(cohort.pain)} scores, "
              f"{len(cohort.sessions)} sessions with "
              + (f"ADVI ({iterations} iterations)" if quick else
                 f"{sampler} ({chains} chains x {draws} draws, then on to at most "
                 f"{max_draws or min(10 * draws, 100_000)} until the gate passes"
                 + (f", for at most {max_minutes:g} minutes)" if max_minutes else ")")))
    with tempfile.TemporaryDirectory(prefix="recovery-fit-") as work:
        patients = Path(work) / "patients"
        if quick:
            fitted = quick_fit(cohort, iterations=iterations, draws=keep_draws, seed=seed)
        else:
            cfg = SamplerConfig(sampler=cast("Sampler", sampler), draws=draws, tune=tune,
                                chains=chains, random_seed=seed, keep_draws=keep_draws,
                                max_tree_depth=max_tree_depth, max_minutes=max_minutes,
                                max_draws=max_draws or min(10 * draws, 100_000))
            try:
                fitted = _fit_cohort(cohort, cfg, plan, patients)
            except BudgetError as exc:
                fail(str(exc))
        with out.status("posterior predictive check..."):
            save_with_plots(fitted, out_dir, seed,
                            {"patients": patients} if patients.is_dir() else None)
    report_fit(fitted.diagnostics.model_dump(), out_dir)
    if quick:
        return
    if not fitted.diagnostics.passed and not allow_bad_diagnostics:
        raise typer.Exit(EXIT_BAD_DIAGNOSTICS)


def _fit_cohort(cohort: Any, cfg: Any, plan: Any, patients: Path) -> Any:
    """The fit with a status line for NUTS and a progress bar for the per-patient updates."""
    from rich.progress import Progress

    from recovery.engine.cohort_fit import fit_cohort

    with Progress(transient=True) as bar:
        nuts = bar.add_task("compiling the model (about a minute)", total=1.0)
        each = bar.add_task("updating every patient", total=len(cohort.patients), visible=False)

        def on_progress(done: float, phase: str) -> None:
            bar.update(nuts, completed=done, description=phase)

        def on_patients(n: int) -> None:
            bar.update(nuts, visible=False)
            bar.update(each, advance=n, visible=True)

        return fit_cohort(cohort, cfg, plan, patients, on_progress=on_progress,
                          on_patients=on_patients)


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
    from recovery.model.checks.evaluate import evaluate as run_evaluate
    from recovery.model.checks.evaluate import write_report

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

    from recovery.model.checks.phenomena_report import (
        README_END,
        README_START,
        readme_block,
        write_report,
    )

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
