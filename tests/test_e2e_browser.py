"""End to end in a real browser (Debian's chromium via Playwright) against `make demo`'s stack
on loopback: sign in as a therapist, forecast a demo patient under two schedules, see two fans
and the comparison; as an analyst, upload a cohort and run a quick look. Screenshots go to
docs/screenshots/ (shown in the README)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import free_port, wait_ok

ROOT = Path(__file__).parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (CI installs it)")


def _listening(port: int) -> bool:
    """Something still answers on the port (for up to 20 s while processes shut down)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return False
        time.sleep(0.5)
    return True


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    """scripts/demo.sh (what `make demo` runs) on free ports, its own database."""
    tmp = tmp_path_factory.mktemp("demo")
    port, dash = free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "DASH_PORT": str(dash),
           "BIN": str(Path(os.sys.executable).parent),
           "RECOVERY_DATABASE_URL": f"sqlite:///{tmp}/demo.db",
           "RECOVERY_MODELS_DIR": str(tmp / "models"), "RECOVERY_COHORTS_DIR": str(tmp / "c")}
    log = open(tmp / "demo.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([str(ROOT / "scripts" / "demo.sh")], cwd=ROOT, env=env,
                            stdout=log, stderr=log, start_new_session=True)
    try:
        wait_ok(f"http://127.0.0.1:{port}/readyz")
        wait_ok(f"http://127.0.0.1:{dash}/_stcore/health")
        logins = json.loads((ROOT / "build" / "demo" / "logins.json").read_text())
        yield f"http://127.0.0.1:{dash}", logins
        proc.terminate()  # as a person would stop it: a TERM to the script's PID alone
        proc.wait(timeout=60)
        assert not _listening(port) and not _listening(dash), "the demo left a process behind"
    finally:
        if proc.poll() is None or _listening(port) or _listening(dash):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


def test_therapist_forecasts_in_the_browser(demo: tuple[str, dict]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, logins = demo
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("textbox", name="Username").fill(logins["therapist"]["username"])
        page.get_by_role("textbox", name="Password").fill(logins["therapist"]["password"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Your patients")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Deploy")).to_have_count(0)  # not Streamlit's
        page.screenshot(path=str(SHOTS / "therapist.png"), full_page=True)
        page.get_by_role("button", name="Forecast", exact=True).click()
        comparison = page.get_by_text("Difference in mean pain (")
        expect(comparison).to_be_visible(timeout=60_000)
        chart = page.locator("[data-testid='stImage'] img, [data-testid='stPyplot'] img")
        expect(chart.first).to_be_visible()
        expect(page.get_by_text("recovery_then_maintenance").first).to_be_visible()
        expect(page.get_by_text("recovery_then_stop").first).to_be_visible()
        chart.last.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "forecast.png"))
        comparison.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "comparison.png"))
        browser.close()


@pytest.mark.slow  # an ADVI fit behind the click: run with the MCMC tests, not beside others
def test_analyst_uploads_a_cohort_and_runs_a_quick_look(demo: tuple[str, dict]) -> None:
    """The analyst's path: upload the three CSVs, choose the quick look, start it, and see the
    model arrive labelled QUICK LOOK (the demo's worker runs it)."""
    from playwright.sync_api import expect, sync_playwright

    url, logins = demo
    cohort = ROOT / "data" / "demo_cohort"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(url)
        page.get_by_role("textbox", name="Username").fill(logins["analyst"]["username"])
        page.get_by_role("textbox", name="Password").fill(logins["analyst"]["password"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Cohorts, refits and models")).to_be_visible(timeout=60_000)
        inputs = page.locator("input[type=file]")
        for i, table in enumerate(("patients", "sessions", "pain")):
            inputs.nth(i).set_input_files(str(cohort / f"{table}.csv"))
            # the upload is asynchronous: submitting before the file is listed sends nothing
            expect(page.get_by_text(f"{table}.csv", exact=True)).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Store cohort", exact=True).click()
        expect(page.get_by_text("Stored cohort")).to_be_visible(timeout=60_000)
        page.get_by_text("Quick look (ADVI").click()
        page.get_by_role("button", name="Start refit").click()
        label = page.get_by_text(re.compile("QUICK LOOK \\(ADVI approximation, not for serving"))
        expect(label).to_be_visible(timeout=300_000)
        page.screenshot(path=str(SHOTS / "quick_look.png"), full_page=True)
        browser.close()
