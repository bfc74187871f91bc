"""The `recovery` command: simulate, fit, forecast, evaluate, serve, refit workers, users.

Each area's commands live in their own module and are merged here into one command line.
"""

from __future__ import annotations

import warnings

import typer

# Known, harmless notices of the scientific stack (nutpie compiles with numba, not PyTensor's C).
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")

from recovery.cli import fhir, fitting, forecasting, running, users  # noqa: E402

__all__ = ["app"]

app = typer.Typer(help="Recovery: pain-trajectory simulation, fitting and forecasting.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
for area in (fitting, forecasting, running):
    app.add_typer(area.app)
app.add_typer(users.app, name="users")
app.add_typer(fhir.app, name="fhir")
