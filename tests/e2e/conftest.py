"""One `make demo` stack (scripts/demo.sh on free ports, its own database) and one Chromium
for the whole browser session: every browser test signs in to the same stack, each in a
fresh browser context at its own screen size."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT
from tests.live import free_port, wait_ok

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
SIZES = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}
Stack = tuple[str, dict, str]  # dashboard URL, logins by role, service URL


def _listening(port: int) -> bool:
    """Something still answers on the port (for up to 20 s while processes shut down)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return False
        time.sleep(0.5)
    return True


def _said(log: Path, what: str, timeout: float = 300) -> None:
    """Wait until the demo's output says `what` (its warm-up ends with "ready")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what in log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise AssertionError(f"the demo never said {what!r}: {log.read_text()[-2000:]}")


@contextmanager
def demo_stack(tmp: Path, **env_extra: str) -> Iterator[Stack]:
    """scripts/demo.sh (what `make demo` runs) on free ports with its own database, waited for
    until it says "ready"; stopped as a person would stop it (a TERM to the script's PID
    alone), leaving nothing behind."""
    port, dash = free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "DASH_PORT": str(dash),
           "BIN": str(Path(os.sys.executable).parent),
           "RECOVERY_DATABASE_URL": f"sqlite:///{tmp}/demo.db",
           "RECOVERY_MODELS_DIR": str(tmp / "models"), "RECOVERY_COHORTS_DIR": str(tmp / "c"),
           "LOGINS": str(tmp / "logins.json"), **env_extra}
    log = open(tmp / "demo.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([str(ROOT / "scripts" / "demo.sh")], cwd=ROOT, env=env,
                            stdout=log, stderr=log, start_new_session=True)
    try:
        wait_ok(f"http://127.0.0.1:{port}/readyz")
        wait_ok(f"http://127.0.0.1:{dash}/_stcore/health")
        _said(tmp / "demo.log", "] ready")
        logins = json.loads((tmp / "logins.json").read_text())
        yield f"http://127.0.0.1:{dash}", logins, f"http://127.0.0.1:{port}"
        proc.terminate()
        proc.wait(timeout=60)
        assert not _listening(port), "the demo left a process behind"
        assert not _listening(dash), "the demo left a process behind"
    finally:
        if proc.poll() is None or _listening(port) or _listening(dash):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The one demo stack of the browser session."""
    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("Debian's chromium is not installed (CI installs it)")
    with demo_stack(tmp_path_factory.mktemp("demo")) as stack:
        yield stack


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("Debian's chromium is not installed (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(autouse=True)
def _patient_expect() -> None:
    """Charts and reruns take seconds on a busy 2-core machine; Playwright's default is 5 s."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)


def sign_in(page: Any, url: str, login: dict[str, str]) -> None:
    """The sign-in form, filled and sent."""
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(login["username"])
    page.get_by_role("textbox", name="Password").fill(login["password"])
    page.get_by_role("button", name="Sign in").click()


def settled(page: Any) -> None:
    """Wait until a rerun has replaced every stale element (two copies of a widget otherwise)."""
    from playwright.sync_api import expect

    expect(page.locator("[data-stale='true']")).to_have_count(0, timeout=60_000)


def no_raw_error(page: Any) -> None:
    """No Streamlit exception box and no traceback anywhere on the page."""
    from playwright.sync_api import expect

    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    expect(page.get_by_text("Traceback")).to_have_count(0)


def page_text(page: Any) -> str:
    """Everything the page says (for words that must never appear)."""
    return str(page.locator("[data-testid='stMain']").inner_text())
