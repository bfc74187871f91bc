"""One patient's forecasts from a saved model (forecast, optimise, explain, booking,
frontier), and a cohort's on a Dask cluster (forecast-batch)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from recovery.cli.common import (
    ModelDir,
    err,
    fail,
    forecaster_at,
    guarded,
    out,
    read_request,
    write_out,
)

if TYPE_CHECKING:
    from recovery.model.requests import ScheduleSpec

app = typer.Typer()


@app.command()
def forecast(
    model_dir: ModelDir,
    request: Annotated[Path, typer.Option(help="forecast request JSON (see README)")],
    out_json: Annotated[Path | None, typer.Option("--out", help="write the forecast JSON")] = None,
    plot: Annotated[Path | None, typer.Option(help="write a fan chart PNG")] = None,
) -> None:
    """Forecast one patient under candidate schedules, compared on the same draws."""
    from recovery.charts import save_fan_chart
    from recovery.model.requests import ForecastRequest

    req = read_request(request, ForecastRequest)
    fc = forecaster_at(model_dir)
    response = guarded(lambda: fc.forecast(req))
    write_out(out_json, response.model_dump_json(indent=1))
    if response.update.low_ess:
        out.print(f"[bold red]warning:[/] {response.update.warning}")
    if (cal := response.calibration) is not None:
        out.print(f"This model's bands on held-out scores: 90 % held {cal.coverage_90:.0%}, "
                  f"50 % held {cal.coverage_50:.0%} ({cal.held_out_scores} scores).")
    for f in response.forecasts:
        s = f.summary
        out.print(f"[bold]{f.name}[/]: P(<= {req.target_score:g} at day "
                  f"{f.days[-1]:g}) {s.p_target_at_horizon:.0%} | mean pain {s.mean_pain:.2f} | "
                  f"relapse risk {'-' if s.p_relapse is None else f'{s.p_relapse:.0%}'} | "
                  f"{s.sessions} sessions, cost {s.cost:g}")
    for c in response.comparisons:
        out.print(f"  {c.verdict} Difference in mean pain ({c.a} minus {c.b}): "
                  f"{c.mean_difference:+.2f}.")
    if plot is not None:
        path = save_fan_chart(req.history.model_dump(), response.model_dump(), req.target_score,
                              plot)
        out.print(f"fan chart: {path}")


@app.command()
def optimise(
    model_dir: ModelDir,
    request: Annotated[Path, typer.Option(help="optimise request JSON (see README)")],
    out_json: Annotated[Path | None, typer.Option("--out", help="write the result JSON")] = None,
) -> None:
    """The cheapest schedule that keeps P(score <= target at the horizon) above a level."""
    from recovery.model import optimise as run_optimise
    from recovery.model.requests import OptimiseRequest

    req = read_request(request, OptimiseRequest)
    fc = forecaster_at(model_dir)
    result = guarded(lambda: run_optimise(fc, req))
    write_out(out_json, result.model_dump_json(indent=1))
    if result.best is None or result.best_summary is None:
        err.print(f"[yellow]no candidate reaches P >= {req.level:.0%}[/]; closest:")
        top = max(result.candidates, key=lambda r: float(r["p_target_at_horizon"]))
        out.print(top)
        return
    s = result.best_summary
    out.print(f"[green]{result.best.name}[/]: {s.sessions} sessions, cost {s.cost:g}, "
              f"P(<= {req.target_score:g} at the horizon) {s.p_target_at_horizon:.0%}")


@app.command()
def explain(
    model_dir: ModelDir,
    request: Annotated[Path, typer.Option(help="explain request JSON (see README)")],
    out_json: Annotated[Path | None, typer.Option("--out", help="write the result JSON")] = None,
    plot: Annotated[Path | None, typer.Option(help="write the parts chart PNG")] = None,
) -> None:
    """Why one schedule's forecast looks as it does: the parts of expected pain."""
    from recovery.charts.figures import parts_figure, save
    from recovery.model import ExplainRequest
    from recovery.model import explain as run_explain

    req = read_request(request, ExplainRequest)
    result = guarded(lambda: run_explain(forecaster_at(model_dir), req))
    write_out(out_json, result.model_dump_json(indent=1))
    out.print(result.words)
    if plot is not None:
        out.print(f"parts chart: {save(parts_figure(result.model_dump()), plot)}")


@app.command()
def booking(
    model_dir: ModelDir,
    request: Annotated[Path, typer.Option(help="booking request JSON (see README)")],
    out_json: Annotated[Path | None, typer.Option("--out", help="write the result JSON")] = None,
) -> None:
    """If sessions stop now, when pain comes back; and by when to book the next session."""
    from recovery.model import BookingRequest
    from recovery.model import booking as run_booking

    req = read_request(request, BookingRequest)
    result = guarded(lambda: run_booking(forecaster_at(model_dir), req))
    write_out(out_json, result.model_dump_json(indent=1))
    out.print(result.words)


@app.command()
def frontier(
    model_dir: ModelDir,
    request: Annotated[Path, typer.Option(help="optimise request JSON (see README)")],
    out_json: Annotated[Path | None, typer.Option("--out", help="write the result JSON")] = None,
    plot: Annotated[Path | None, typer.Option(help="write the frontier chart PNG")] = None,
) -> None:
    """About 60 schedules on the same draws: sessions or cost against pain at the horizon."""
    from recovery.charts.figures import frontier_figure, save
    from recovery.model import OptimiseRequest
    from recovery.model import frontier as run_frontier

    req = read_request(request, OptimiseRequest)
    result = guarded(lambda: run_frontier(forecaster_at(model_dir), req))
    write_out(out_json, result.model_dump_json(indent=1))
    for p in result.points:
        if p.on_frontier:
            out.print(f"[bold]{p.schedule.name}[/]: {p.sessions} sessions, cost {p.cost:g}, "
                      f"pain at the horizon {p.pain_at_horizon:.1f} ({p.pain_lo:.1f}-"
                      f"{p.pain_hi:.1f}), P(<= {req.target_score:g}) "
                      f"{p.p_target_at_horizon:.0%}")
    if plot is not None:
        out.print(f"frontier chart: {save(frontier_figure(result.model_dump()), plot)}")


@app.command("forecast-batch")
def forecast_batch(
    model_dir: ModelDir,
    cohort_dir: Annotated[Path, typer.Option("--cohort", help="cohort whose patients to forecast")],
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the Parquet tables")],
    schedule: Annotated[list[str] | None, typer.Option(
        help="preset name, repeatable (default: every preset)")] = None,
    schedules_json: Annotated[Path | None, typer.Option(
        "--schedules", help="JSON list of schedule specs, as in a forecast request")] = None,
    horizon_days: Annotated[int, typer.Option(min=1, max=730)] = 180,
    draws: Annotated[int, typer.Option(min=100, max=20_000)] = 1000,
    target_score: Annotated[float, typer.Option(min=0, max=10)] = 3.0,
    seed: Annotated[int, typer.Option()] = 0,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address (tcp://host:8786); default: a local cluster")] = None,
    workers: Annotated[int | None, typer.Option(
        min=0, help="local cluster size (default one per CPU); 0 runs in this process")] = None,
    chunk_size: Annotated[int, typer.Option(min=1, help="patients per task")] = 25,
) -> None:
    """Forecast every patient of a cohort under every schedule, on Dask, into tidy Parquet."""
    from rich.progress import Progress

    from recovery.engine import BatchSpec, check_batch, connect, run_batch
    from recovery.model import PRESETS, Cohort, CohortError, RecoveryError

    specs = _batch_schedules(schedule, schedules_json, list(PRESETS))
    fc = forecaster_at(model_dir)
    try:
        cohort = Cohort.load(cohort_dir, fc.config)
    except CohortError as exc:
        fail(str(exc))
    spec = BatchSpec(tuple(specs), horizon_days, draws, target_score, seed)
    try:
        check_batch(fc, spec)
    except (ValueError, RecoveryError) as exc:  # a ValidationError is a ValueError
        fail(str(exc))
    n = len(cohort.patient_ids)
    with Progress() as bar:
        task = bar.add_task(f"forecasting {n} patients x {len(specs)} schedules", total=n)
        step = lambda k: bar.advance(task, k)  # noqa: E731
        if workers == 0 and scheduler is None:
            result = run_batch(fc, cohort, spec, out_dir, None, chunk_size, step)
        else:
            with connect(scheduler, workers) as client:
                result = run_batch(fc, cohort, spec, out_dir, client, chunk_size, step)
    out.print(f"[green]wrote[/] {out_dir}: {result.trajectory_rows} trajectory rows, "
              f"{n - result.failed} patients in {result.seconds:.0f} s on {result.workers} "
              f"worker(s) ({n / result.seconds:.1f} patients/s)")
    if result.failed:
        err.print(f"[yellow]{result.failed} patient(s) could not be forecast[/]; see "
                  f"{out_dir}/errors.parquet")


def _batch_schedules(names: list[str] | None, path: Path | None, presets: list[str]
                     ) -> list[ScheduleSpec]:
    """Schedules from --schedule names and/or a --schedules JSON file, validated."""
    from pydantic import TypeAdapter, ValidationError

    from recovery.model.requests import ScheduleSpec

    unknown = [n for n in names or [] if n not in presets]
    if unknown:
        fail(f"--schedule: unknown preset(s) {unknown}; presets: {', '.join(presets)}")
    specs = [ScheduleSpec(name=n) for n in names or []]
    if path is not None:
        try:
            specs += TypeAdapter(list[ScheduleSpec]).validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            fail(f"--schedules {path}: {exc}")
    return specs or [ScheduleSpec(name=n) for n in presets]
