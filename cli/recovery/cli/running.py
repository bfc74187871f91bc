"""Run the product: the HTTP service, refit workers, the dashboard, the drift monitor and
the demo accounts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recovery.cli.common import database, fail, out, settings_of, write_out

app = typer.Typer()


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

    settings = settings_of(Settings)
    if not settings.secret_key.get_secret_value():
        fail("set RECOVERY_SECRET_KEY (a long random string) before serving; tokens are "
              "signed with it")
    configure_logging(settings.log_level)
    config = uvicorn.Config("recovery.service.main:app", host=host, port=port, workers=workers,
                            log_config=None, access_log=False, server_header=False,
                            proxy_headers=bool(settings.trusted_proxies),
                            forwarded_allow_ips=",".join(settings.trusted_proxies) or None)
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

    settings = settings_of(Settings)
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
    from importlib.util import find_spec

    spec = find_spec("recovery.dashboard.app")  # wherever the dashboard part is installed
    assert spec is not None
    assert spec.origin is not None
    from recovery.service.settings import Settings

    env = {**os.environ, "RECOVERY_SERVICE_URL": service}
    # replaced by Streamlit, not its parent: stopping this PID stops the dashboard
    os.execve(sys.executable, streamlit_args(spec.origin, port, host,
                                             settings_of(Settings).max_upload_bytes), env)


def streamlit_args(script: str, port: int, host: str, upload_bytes: int) -> list[str]:
    """The dashboard's Streamlit command line; its uploader refuses files the service would
    (the upload limit in whole MiB, as Streamlit counts it)."""
    import sys

    return [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
            "--server.address", host, "--server.headless", "true",
            "--server.maxUploadSize", str(max(1, upload_bytes // 2**20)),
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]


@app.command()
def monitor(
    weeks: Annotated[int, typer.Option(min=1, max=104, help="weeks to show")] = 12,
    out_json: Annotated[Path | None, typer.Option("--out", help="write the report JSON")] = None,
) -> None:
    """The drift monitor of the served model (RECOVERY_DATABASE_URL): coverage of its bands
    by week and by therapist; exits 1 when a refit is suggested."""
    from recovery.service.monitor import served_report
    from recovery.service.settings import Settings

    with database(read_only=True) as s:
        report = served_report(s, settings_of(Settings).today(), weeks)
    if report is None:
        fail("no model is served yet (start the service once, or promote one)")
    write_out(out_json, report.model_dump_json(indent=1))
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
