"""The `recovery` command: simulate, fit and inspect models (later: forecast, serve, ...)."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import typer
from rich.console import Console

# Known, harmless notices of the scientific stack (nutpie compiles with numba, not PyTensor's C).
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")

app = typer.Typer(help="Recovery: pain-trajectory simulation, fitting and forecasting.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
err = Console(stderr=True)
out = Console()

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
    sampler: Annotated[str, typer.Option(help="nutpie or pymc")] = "nutpie",
    allow_bad_diagnostics: Annotated[bool, typer.Option(
        help="exit 0 even when R-hat, ESS or divergences fail the gate")] = False,
) -> None:
    """Validate a cohort, fit the hierarchical model, write posterior, diagnostics and plots."""
    from recovery.model import Cohort, CohortError, SamplerConfig, fit, save
    from recovery.model.plots import plot_population, plot_ppc

    if sampler not in ("nutpie", "pymc"):
        _fail(f"--sampler must be 'nutpie' or 'pymc', not {sampler!r}")
    try:
        cohort = Cohort.load(cohort_dir)
    except CohortError as exc:
        _fail(str(exc))
    kind: Literal["nutpie", "pymc"] = "nutpie" if sampler == "nutpie" else "pymc"
    cfg = SamplerConfig(sampler=kind, draws=draws, tune=tune, chains=chains, random_seed=seed)
    out.print(f"fitting {len(cohort.patients)} patients, {len(cohort.pain)} scores, "
              f"{len(cohort.sessions)} sessions with {sampler} ({chains} x {draws} draws)")
    with out.status("compiling the model (numba; about a minute)...") as status:
        fitted = fit(cohort, sampler=cfg, on_compiled=status.stop)
    with tempfile.TemporaryDirectory() as tmp, out.status("posterior predictive check..."):
        ppc, pop = Path(tmp) / "ppc.png", Path(tmp) / "population.png"
        extra = plot_ppc(fitted, ppc, np.random.default_rng(seed))
        plot_population(fitted, pop)
        fitted.diagnostics = fitted.diagnostics.model_copy(update=extra)
        save(fitted, out_dir, {"ppc.png": ppc, "population.png": pop})
    _report(fitted.diagnostics.model_dump(), out_dir)
    if not fitted.diagnostics.passed and not allow_bad_diagnostics:
        raise typer.Exit(EXIT_BAD_DIAGNOSTICS)


@app.command()
def diagnostics(model_dir: Annotated[Path, typer.Argument()]) -> None:
    """Print a saved model's diagnostics."""
    path = model_dir / "diagnostics.json"
    if not path.exists():
        _fail(f"{model_dir} is not a model directory (no diagnostics.json)")
    _report(json.loads(path.read_text()), model_dir)


def _report(d: dict[str, object], where: Path) -> None:
    out.print(f"max R-hat {d['max_rhat']:.3f} | min ESS bulk {d['min_ess_bulk']:.0f}, "
              f"tail {d['min_ess_tail']:.0f} | divergences {d['divergences']} | "
              f"{d['wall_seconds']:.0f} s")
    if d["passed"]:
        out.print(f"[green]diagnostics passed[/]; model written to {where}")
    else:
        for problem in d["problems"]:  # type: ignore[attr-defined]
            err.print(f"[red]DIAGNOSTICS FAILED:[/] {problem}")
        err.print(f"[red]Do not trust or serve this posterior.[/] It was written to {where} "
                  "for inspection; refit with more draws/tuning or fix the model.")


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/] {message}")
    raise typer.Exit(EXIT_BAD_INPUT)

