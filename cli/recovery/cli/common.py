"""What every `recovery` command shares: the consoles, exit codes, reading settings and
requests, and failing with one plain line instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlalchemy.orm import Session

    from recovery.model import Forecaster

__all__ = ["EXIT_BAD_DIAGNOSTICS", "EXIT_BAD_INPUT", "ModelDir", "database", "err", "fail",
           "forecaster_at", "guarded", "out", "read_request", "report_fit", "settings_of",
           "write_out"]

T = TypeVar("T")
R = TypeVar("R", bound="BaseModel")

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

EXIT_BAD_INPUT, EXIT_BAD_DIAGNOSTICS = 2, 3

# A fitted model directory: given, or the service's default model setting.
ModelDir = Annotated[Path, typer.Option(
    "--model", envvar="RECOVERY_DEFAULT_MODEL_DIR",
    help="fitted model directory (default: the RECOVERY_DEFAULT_MODEL_DIR setting)")]


def settings_of(kind: type[R]) -> R:
    """The settings object from RECOVERY_* variables; a bad one fails with its name."""
    from pydantic import ValidationError

    try:
        return kind()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "_".join(map(str, first["loc"])).upper() or "*"
        fail(f"bad RECOVERY_{name} setting: {first['msg'].removeprefix('Value error, ')}")


@contextmanager
def database(read_only: bool = False) -> Iterator[Session]:
    """The service's database (RECOVERY_* settings), migrated, for one session: the one way a
    command opens it. A refusal of the service (no such user, a name taken) fails plainly."""
    from recovery.service.commands import database_session
    from recovery.service.errors import ServiceError
    from recovery.service.settings import Settings

    try:
        with database_session(settings_of(Settings), read_only) as s:
            yield s
    except ServiceError as exc:
        fail(str(exc))


def read_request(path: Path, schema: type[R]) -> R:
    """A request file validated against its schema; every bad field listed."""
    from pydantic import ValidationError

    try:
        return schema.model_validate_json(path.read_bytes())
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except ValidationError as exc:
        fail(f"{path} is not a valid request:\n" + "\n".join(
            f"  - {'.'.join(str(x) for x in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors()))


def forecaster_at(model_dir: Path) -> Forecaster:
    """A saved model ready to forecast; a directory that is not one fails plainly."""
    from recovery.model import Forecaster, ModelVersionError

    try:
        return Forecaster.from_directory(model_dir)
    except ModelVersionError as exc:
        fail(str(exc))


def guarded(work: Callable[[], T]) -> T:
    """Run forecast work; a request the model cannot use exits 2 with the field named."""
    from recovery.model import RecoveryError

    try:
        return work()
    except RecoveryError as exc:
        fail(str(exc))


def write_out(path: Path | None, text: str) -> None:
    """Write `text` to `path` (when given) and say so."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        out.print(f"[green]wrote[/] {path}")


def report_fit(d: dict[str, object], where: Path) -> None:
    """A fit's diagnostics in a few lines; failures in red, with what to do."""
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


def fail(message: str) -> NoReturn:
    """One red line on stderr and exit code 2: bad input, never a traceback (the message is
    printed as written: brackets in it are not markup)."""
    err.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(EXIT_BAD_INPUT)

