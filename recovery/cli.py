"""The `recovery` command: simulate, fit, forecast, evaluate, serve, refit workers, users."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar, cast

import numpy as np
import typer
from rich.console import Console

# Known, harmless notices of the scientific stack (nutpie compiles with numba, not PyTensor's C).
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")

if TYPE_CHECKING:
    from pydantic import BaseModel

    from recovery.model.batch import BatchSpec
    from recovery.model.forecast import Forecaster
    from recovery.model.requests import ScheduleSpec

T = TypeVar("T")
R = TypeVar("R", bound="BaseModel")

app = typer.Typer(help="Recovery: pain-trajectory simulation, fitting and forecasting.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

EXIT_BAD_INPUT, EXIT_BAD_DIAGNOSTICS = 2, 3


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
    chains: Annotated[int, typer.Option(min=1, max=16)] = 2,
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
    from recovery.model.budget import BudgetError
    from recovery.model.config import SAMPLERS, Sampler
    from recovery.model.plots import save_with_plots
    from recovery.model.quick import quick_fit

    if sampler not in SAMPLERS:
        _fail(f"--sampler must be one of {', '.join(SAMPLERS)}, not {sampler!r}")
    if strategy not in STRATEGIES:
        _fail(f"--strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    try:
        cohort = Cohort.load(cohort_dir)
    except CohortError as exc:
        _fail(str(exc))
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
                _fail(str(exc))
        with out.status("posterior predictive check..."):
            save_with_plots(fitted, out_dir, seed,
                            {"patients": patients} if patients.is_dir() else None)
    _report(fitted.diagnostics.model_dump(), out_dir)
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
        _fail(f"{model_dir} is not a model directory (no diagnostics.json)")
    _report(json.loads(path.read_text()), model_dir)


@app.command()
def forecast(
    model_dir: Annotated[Path, typer.Option("--model", help="fitted model directory")],
    request: Annotated[Path, typer.Option(help="forecast request JSON (see README)")],
    out_json: Annotated[Path | None, typer.Option("--out", help="write the forecast JSON")] = None,
    plot: Annotated[Path | None, typer.Option(help="write a fan chart PNG")] = None,
) -> None:
    """Forecast one patient under candidate schedules, compared on the same draws."""
    from recovery.charts import save_fan_chart
    from recovery.model.requests import ForecastRequest

    req = _read_request(request, ForecastRequest)
    fc = _forecaster(model_dir)
    response = _guard(lambda: fc.forecast(req))
    _write(out_json, response.model_dump_json(indent=1))
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
    model_dir: Annotated[Path, typer.Option("--model", help="fitted model directory")],
    request: Annotated[Path, typer.Option(help="optimise request JSON (see README)")],
    out_json: Annotated[Path | None, typer.Option("--out", help="write the result JSON")] = None,
) -> None:
    """The cheapest schedule that keeps P(score <= target at the horizon) above a level."""
    from recovery.model.optimise import optimise as run_optimise
    from recovery.model.requests import OptimiseRequest

    req = _read_request(request, OptimiseRequest)
    fc = _forecaster(model_dir)
    result = _guard(lambda: run_optimise(fc, req))
    _write(out_json, result.model_dump_json(indent=1))
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
    model_dir: Annotated[Path, typer.Option("--model", help="fitted model directory")],
    request: Annotated[Path, typer.Option(help="explain request JSON (see README)")],
    out_json: Annotated[Path | None, typer.Option("--out", help="write the result JSON")] = None,
    plot: Annotated[Path | None, typer.Option(help="write the parts chart PNG")] = None,
) -> None:
    """Why one schedule's forecast looks as it does: the parts of expected pain."""
    from recovery.charts import parts_chart, save
    from recovery.model import ExplainRequest
    from recovery.model import explain as run_explain

    req = _read_request(request, ExplainRequest)
    result = _guard(lambda: run_explain(_forecaster(model_dir), req))
    _write(out_json, result.model_dump_json(indent=1))
    out.print(result.words)
    if plot is not None:
        out.print(f"parts chart: {save(parts_chart(result.model_dump()), plot)}")


@app.command()
def booking(
    model_dir: Annotated[Path, typer.Option("--model", help="fitted model directory")],
    request: Annotated[Path, typer.Option(help="booking request JSON (see README)")],
    out_json: Annotated[Path | None, typer.Option("--out", help="write the result JSON")] = None,
) -> None:
    """If sessions stop now, when pain comes back; and by when to book the next session."""
    from recovery.model import BookingRequest
    from recovery.model import booking as run_booking

    req = _read_request(request, BookingRequest)
    result = _guard(lambda: run_booking(_forecaster(model_dir), req))
    _write(out_json, result.model_dump_json(indent=1))
    out.print(result.words)


@app.command()
def frontier(
    model_dir: Annotated[Path, typer.Option("--model", help="fitted model directory")],
    request: Annotated[Path, typer.Option(help="optimise request JSON (see README)")],
    out_json: Annotated[Path | None, typer.Option("--out", help="write the result JSON")] = None,
    plot: Annotated[Path | None, typer.Option(help="write the frontier chart PNG")] = None,
) -> None:
    """About 60 schedules on the same draws: sessions or cost against pain at the horizon."""
    from recovery.charts import frontier_chart, save
    from recovery.model import OptimiseRequest
    from recovery.model import frontier as run_frontier

    req = _read_request(request, OptimiseRequest)
    result = _guard(lambda: run_frontier(_forecaster(model_dir), req))
    _write(out_json, result.model_dump_json(indent=1))
    for p in result.points:
        if p.on_frontier:
            out.print(f"[bold]{p.schedule.name}[/]: {p.sessions} sessions, cost {p.cost:g}, "
                      f"pain at the horizon {p.pain_at_horizon:.1f} ({p.pain_lo:.1f}-"
                      f"{p.pain_hi:.1f}), P(<= {req.target_score:g}) "
                      f"{p.p_target_at_horizon:.0%}")
    if plot is not None:
        out.print(f"frontier chart: {save(frontier_chart(result.model_dump()), plot)}")


@app.command()
def evaluate(
    model_dir: Annotated[Path, typer.Option("--model", help="fitted model directory")],
    cohort_dir: Annotated[Path, typer.Option("--cohort", help="cohort to evaluate on")],
    out_dir: Annotated[Path, typer.Option("--out", help="report directory")],
    holdout_days: Annotated[float, typer.Option(min=1, max=365)] = 42,
    draws: Annotated[int, typer.Option(min=100, max=20_000)] = 1000,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Hide each patient's last days of scores, forecast them, and score against baselines."""
    from rich.progress import track

    from recovery.model import Cohort, CohortError
    from recovery.model.evaluate import evaluate as run_evaluate
    from recovery.model.evaluate import write_report

    fc = _forecaster(model_dir)
    try:
        cohort = Cohort.load(cohort_dir, fc.config)
    except CohortError as exc:
        _fail(str(exc))
    report = _guard(lambda: run_evaluate(
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
    model_dir: Annotated[Path, typer.Option("--model", help="fitted model directory")],
    out_dir: Annotated[Path, typer.Option("--out", help="report directory")],
    readme: Annotated[Path | None, typer.Option(
        help="also rewrite this README's table between its phenomena markers")] = None,
) -> None:
    """Run the phenomena cases (does the model tell the articles' story?) and write
    phenomena.md, phenomena.json and a chart a case."""
    from rich.progress import Progress

    from recovery.model.phenomena_report import (
        README_END,
        README_START,
        readme_block,
        write_report,
    )

    fc = _forecaster(model_dir)
    with Progress(transient=True) as bar:
        task = bar.add_task("phenomena", total=None)

        def step(done: int, total: int, claim: str) -> None:
            bar.update(task, completed=done, total=total, description=claim)

        report = _guard(lambda: write_report(fc, out_dir, step))
    for r in report.cases:
        figures = ", ".join(f"{k} {v:g}" for k, v in r.measured.items())
        out.print(f"{'[green]pass[/]' if r.passed else '[red]fail[/]'}  {r.claim}: {figures}")
    out.print(f"{report.passed} of {report.total} claims hold; [green]wrote[/] "
              f"{out_dir}/phenomena.md, phenomena.json and {report.total} charts")
    if readme is not None:
        text = readme.read_text()
        if README_START not in text or README_END not in text:
            _fail(f"{readme} has no {README_START} ... {README_END} markers")
        head, rest = text.split(README_START, 1)
        readme.write_text(head + readme_block(report, out_dir.as_posix())
                          + rest.split(README_END, 1)[1])
        out.print(f"[green]rewrote[/] the phenomena table in {readme}")


@app.command("forecast-batch")
def forecast_batch(
    model_dir: Annotated[Path, typer.Option("--model", help="fitted model directory")],
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

    from recovery.engine import connect, run_batch
    from recovery.model import PRESETS, Cohort, CohortError
    from recovery.model.batch import BatchSpec

    specs = _batch_schedules(schedule, schedules_json, list(PRESETS))
    fc = _forecaster(model_dir)
    try:
        cohort = Cohort.load(cohort_dir, fc.config)
    except CohortError as exc:
        _fail(str(exc))
    spec = BatchSpec(tuple(specs), horizon_days, draws, target_score, seed)
    _check_batch(fc, spec)
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
        _fail(f"--schedule: unknown preset(s) {unknown}; presets: {', '.join(presets)}")
    specs = [ScheduleSpec(name=n) for n in names or []]
    if path is not None:
        try:
            specs += TypeAdapter(list[ScheduleSpec]).validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            _fail(f"--schedules {path}: {exc}")
    return specs or [ScheduleSpec(name=n) for n in presets]


def _check_batch(fc: Forecaster, spec: BatchSpec) -> None:
    """Refuse up front what would fail for every patient (work limits, unknown kinds)."""
    from pydantic import ValidationError

    from recovery.model import RecoveryError
    from recovery.model.requests import ForecastRequest
    from recovery.model.update import kind_indices

    try:
        ForecastRequest(schedules=list(spec.schedules), horizon_days=spec.horizon_days,
                        draws=spec.draws, start_day=0.0)
        for i, s in enumerate(spec.schedules):
            kind_indices(fc.kinds, [s.kind, *(p.kind for p in s.phases or [])],
                         f"schedules.{i}.kind")
    except (ValidationError, ValueError, RecoveryError) as exc:
        _fail(str(exc))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="server processes")] = 1,
) -> None:
    """Run the HTTP service (settings from RECOVERY_* environment variables)."""
    import uvicorn

    from recovery.service.logs import configure_logging
    from recovery.service.settings import Settings

    settings = _settings(Settings)
    if not settings.secret_key.get_secret_value():
        _fail("set RECOVERY_SECRET_KEY (a long random string) before serving; tokens are "
              "signed with it")
    configure_logging(settings.log_level)
    config = uvicorn.Config("recovery.service.main:app", host=host, port=port, workers=workers,
                            log_config=None, access_log=False)
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            raise typer.Exit(3)
        return
    import socket

    from uvicorn.supervisors import Multiprocess

    # uvicorn binds the shared socket with proto 0, so asyncio never sets TCP_NODELAY on its
    # connections and each keep-alive response waits ~40 ms for a delayed ACK (uvicorn #3149)
    bound = config.bind_socket()
    sock = socket.socket(bound.family, socket.SOCK_STREAM, socket.IPPROTO_TCP,
                         fileno=bound.detach())
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="exit when the queue is empty")] = False,
    poll: Annotated[float, typer.Option(min=0.1, help="seconds between queue polls")] = 2.0,
) -> None:
    """Claim and run refit jobs from the service's database."""
    from recovery.service.logs import configure_logging
    from recovery.service.settings import Settings
    from recovery.service.worker import Worker

    settings = _settings(Settings)
    configure_logging(settings.log_level)
    Worker(settings).run(poll_seconds=poll, once=once)


@app.command()
def dashboard(
    service: Annotated[str, typer.Option(envvar="RECOVERY_SERVICE_URL",
                                         help="the service's base URL")] = "http://127.0.0.1:8000",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8501,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
) -> None:
    """Run the Streamlit dashboard against a running service."""
    import os
    import sys

    script = Path(__file__).parent / "dashboard" / "app.py"
    env = {**os.environ, "RECOVERY_SERVICE_URL": service}
    # replaced by Streamlit, not its parent: stopping this PID stops the dashboard
    os.execve(sys.executable,
              [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
               "--server.address", host, "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"], env)


users = typer.Typer(help="Service accounts.", no_args_is_help=True)
app.add_typer(users, name="users")


@users.command("create")
def users_create(
    username: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="therapist | patient | analyst | admin")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          confirmation_prompt=True,
                                          envvar="RECOVERY_NEW_PASSWORD")],
    patient_id: Annotated[str | None, typer.Option(help="patient accounts: their record")] = None,
) -> None:
    """Create an account in the service's database (password prompted, never echoed)."""
    from fastapi import HTTPException
    from pydantic import ValidationError

    from recovery.service.api_auth import create
    from recovery.service.db import Database
    from recovery.service.schemas import UserIn
    from recovery.service.settings import Settings

    try:
        body = UserIn(username=username, password=password, role=role,  # type: ignore[arg-type]
                      patient_id=patient_id)
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    db = Database(Settings().database_url)
    db.migrate()
    try:
        with db.session() as s:
            user = create(s, body)
            out.print(f"[green]created[/] {user.role} {user.username!r} (id {user.id})")
    except HTTPException as exc:
        _fail(str(exc.detail))


@users.command("passwd")
def users_passwd(
    username: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          confirmation_prompt=True,
                                          envvar="RECOVERY_NEW_PASSWORD")],
) -> None:
    """Set a user's password; every token they hold stops working."""
    from recovery.service.api_auth import revise

    if not 10 <= len(password) <= 200:
        _fail("password: 10 to 200 characters")
    _change_user(username, lambda u: revise(u, password=password), "password changed")


@users.command("disable")
def users_disable(username: Annotated[str, typer.Option()]) -> None:
    """Disable an account (sign-in refused, tokens revoked); `enable` undoes it."""
    from recovery.service.api_auth import revise

    _change_user(username, lambda u: revise(u, active=False), "disabled")


@users.command("enable")
def users_enable(username: Annotated[str, typer.Option()]) -> None:
    """Re-enable a disabled account (its old tokens stay revoked)."""
    from recovery.service.api_auth import revise

    _change_user(username, lambda u: revise(u, active=True), "enabled")


@users.command("delete")
def users_delete(username: Annotated[str, typer.Option()]) -> None:
    """Delete an account for good (its id is never reused; records keep pointing at it)."""
    from recovery.service.api_auth import retire

    _change_user(username, retire, "deleted")


def _change_user(username: str, change: Callable[[Any], None], done: str) -> None:
    from fastapi import HTTPException

    from recovery.service.api_auth import by_name
    from recovery.service.db import Database
    from recovery.service.settings import Settings

    db = Database(Settings().database_url)
    db.migrate()
    try:
        with db.session() as s:
            change(by_name(s, username))
    except HTTPException as exc:
        _fail(str(exc.detail))
    finally:
        db.close()
    out.print(f"[green]{done}[/]: {username!r}")


@app.command()
def monitor(
    weeks: Annotated[int, typer.Option(min=1, max=104, help="weeks to show")] = 12,
    out_json: Annotated[Path | None, typer.Option("--out", help="write the report JSON")] = None,
) -> None:
    """The drift monitor of the served model (RECOVERY_DATABASE_URL): coverage of its bands
    by week and by therapist; exits 1 when a refit is suggested."""
    from datetime import date

    from recovery.service.db import Database
    from recovery.service.monitor import served_report
    from recovery.service.settings import Settings

    db = Database(_settings(Settings).database_url)
    db.migrate()
    try:
        with db.session() as s:
            report = served_report(s, date.today(), weeks)
    finally:
        db.close()
    if report is None:
        _fail("no model is served yet (start the service once, or promote one)")
    _write(out_json, report.model_dump_json(indent=1))
    for w in [*report.weeks, *report.therapists]:
        out.print(f"{w.label}: {w.scores} scores from {w.patients} patients, "
                  f"{w.coverage_50:.0%} inside the 50 % bands, {w.coverage_90:.0%} inside the "
                  f"90 % bands, quantile score {w.crps:.2f}")
    style = "bold red" if report.refit_suggested else "green" if report.judged else "yellow"
    out.print(f"[{style}]{' '.join(report.reasons)}[/]")
    if report.refit_suggested:
        raise typer.Exit(1)


@app.command("seed-demo")
def seed_demo(
    patients: Annotated[int, typer.Option(min=1, max=50)] = 3,
    credentials: Annotated[Path, typer.Option(help="write the demo logins here (JSON)")] = Path(
        "build/demo/logins.json"),
) -> None:
    """Create demo accounts and patients (from the bundled cohort); print the logins."""
    from recovery.service.demo import seed

    logins = seed(patients, credentials)
    for role, (user, pw) in logins.items():
        out.print(f"  {role:10s} user [bold]{user}[/]  password [bold]{pw}[/]")


def _settings(kind: type[R]) -> R:
    from pydantic import ValidationError

    try:
        return kind()
    except ValidationError as exc:
        _fail(f"bad RECOVERY_* setting: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}")


def _read_request(path: Path, schema: type[R]) -> R:
    from pydantic import ValidationError

    try:
        return schema.model_validate_json(path.read_bytes())
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")
    except ValidationError as exc:
        _fail(f"{path} is not a valid request:\n" + "\n".join(
            f"  - {'.'.join(str(x) for x in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors()))


def _forecaster(model_dir: Path) -> Forecaster:
    from recovery.model import ModelVersionError
    from recovery.model.forecast import Forecaster

    try:
        return Forecaster.from_directory(model_dir)
    except ModelVersionError as exc:
        _fail(str(exc))


def _guard(work: Callable[[], T]) -> T:
    """Run forecast work; a request the model cannot use exits 2 with the field named."""
    from recovery.model import RecoveryError

    try:
        return work()
    except RecoveryError as exc:
        _fail(str(exc))


def _write(path: Path | None, text: str) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        out.print(f"[green]wrote[/] {path}")


def _report(d: dict[str, object], where: Path) -> None:
    if d.get("method") == "advi":
        out.print(f"quick look (ADVI): {d['tune']} iterations, {d['wall_seconds']:.0f} s")
        for problem in d["problems"]:  # type: ignore[attr-defined]
            err.print(f"[yellow]{problem}[/]")
        out.print(f"model written to {where}")
        return
    out.print(f"max R-hat {d['max_rhat']:.3f} | min ESS bulk {d['min_ess_bulk']:.0f}, "
              f"tail {d['min_ess_tail']:.0f} | divergences {d['divergences']} | "
              f"{d['wall_seconds']:.0f} s")
    update = d.get("cohort_update")
    if isinstance(update, dict):
        out.print(f"R-hat and ESS are of NUTS on {d['n_patients']} of {update['patients']} "
                  f"patients (stratified subsample); every patient was then updated on its "
                  f"population in {update['seconds']:.0f} s on {update['workers']} worker(s): "
                  f"update ESS min {update['ess_min']:.0f}, median {update['ess_median']:.0f}; "
                  f"{update['low_ess']} with too few effective draws to trust, "
                  f"{update['failed']} failed (patients/updates.parquet, errors.parquet)")
    capped = d.get("depth_capped")
    if isinstance(capped, float) and capped > 0:
        out.print(f"{capped:.0%} of draws stopped at the tree depth cap "
                  f"({d.get('max_tree_depth', 10)})")
    if d["passed"]:
        out.print(f"[green]diagnostics passed[/]; model written to {where}")
    else:
        for problem in d["problems"]:  # type: ignore[attr-defined]
            err.print(f"[red]DIAGNOSTICS FAILED:[/] {problem}")
        err.print(f"[red]Do not trust or serve this posterior.[/] It was written to {where} "
                  "for inspection; refit with more draws/tuning or fix the model.")


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/] {message}")
    raise typer.Exit(EXIT_BAD_INPUT)

