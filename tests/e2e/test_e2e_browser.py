"""End to end in a real browser (Debian's chromium via Playwright) against `make demo`'s stack
on loopback, one test per role doing its job and meeting the bad inputs a person would give.
Screenshots go to docs/screenshots/ (shown in the README)."""

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
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT
from tests.live import free_port, wait_ok

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


@contextmanager
def _stack(tmp: Path, **env_extra: str) -> Iterator[tuple[str, dict, str]]:
    """scripts/demo.sh (what `make demo` runs) on free ports with its own database; stopped as
    a person would stop it (a TERM to the script's PID alone), leaving nothing behind."""
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


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict, str]]:
    with _stack(tmp_path_factory.mktemp("demo")) as stack:
        yield stack


@pytest.fixture(autouse=True)
def _patient_expect() -> None:
    """Charts and reruns take seconds on a busy 2-core machine; Playwright's default is 5 s."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)


def _sign_in(page: Any, url: str, login: dict[str, str]) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(login["username"])
    page.get_by_role("textbox", name="Password").fill(login["password"])
    page.get_by_role("button", name="Sign in").click()


def _settled(page: Any) -> None:
    """Wait until a rerun has replaced every stale element (two copies of a widget otherwise)."""
    from playwright.sync_api import expect

    expect(page.locator("[data-stale='true']")).to_have_count(0, timeout=60_000)


def _no_raw_error(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    expect(page.get_by_text("Traceback")).to_have_count(0)


def test_therapist_day_in_the_browser(demo: tuple[str, dict, str]) -> None:
    """Sign-in refused then accepted; a score added, confirmed and undone; a horizon too long
    named beside its field; a forecast drawn as an interactive chart with hover; screenshots."""
    from playwright.sync_api import expect, sync_playwright

    url, logins, _ = demo
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        _sign_in(page, url, {**logins["therapist"], "password": "not the password"})
        expect(page.get_by_text("Wrong username or password.")).to_be_visible(timeout=60_000)
        _sign_in(page, url, logins["therapist"])
        expect(page.get_by_text("Your patients")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Deploy")).to_have_count(0)  # not Streamlit's
        expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible()
        page.screenshot(path=str(SHOTS / "therapist.png"), full_page=True)
        page.get_by_role("button", name="Add score").click()
        expect(page.get_by_text(re.compile(r"Stored the score 5 on \d{4}-\d\d-\d\d\."))
               ).to_be_visible(timeout=30_000)
        page.get_by_role("button", name=re.compile("^Undo: remove the score 5")).click()
        expect(page.get_by_text(re.compile("^Undone: remove the score 5"))).to_be_visible(
            timeout=30_000)
        _settled(page)
        _blank_kind_is_named_and_blocks_the_forecast(page)
        horizon = page.get_by_role("spinbutton", name="Horizon (days)")
        horizon.fill("3650")
        horizon.press("Enter")
        expect(page.get_by_text("Horizon: choose 1 to 1095 days (three years); 3650 is "
                                "outside that.")).to_be_visible(timeout=30_000)
        forecast = page.get_by_role("button", name="Forecast", exact=True)
        expect(forecast).to_be_disabled()
        _settled(page)
        horizon.fill("120")
        horizon.press("Enter")
        expect(forecast).to_be_enabled(timeout=30_000)
        _settled(page)
        forecast.click()
        comparison = page.get_by_text("Difference in mean pain (")
        expect(comparison.first).to_be_visible(timeout=60_000)
        charts = page.locator("[data-testid='stVegaLiteChart']")
        expect(charts).to_have_count(3)  # the diary, the fan and its parts
        expect(page.get_by_text("twice a week for 6 weeks, then stop").first).to_be_visible()
        fan = charts.nth(1)
        fan.scroll_into_view_if_needed()
        box = fan.bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
        expect(page.locator("#vg-tooltip-element")).to_contain_text("median", timeout=10_000)
        page.screenshot(path=str(SHOTS / "forecast.png"))
        comparison.first.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "comparison.png"))
        with page.expect_download() as download:  # the PNG for reports, made on demand
            page.get_by_role("button", name="Download chart (PNG)").click()
        assert Path(download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        chooser = page.locator("[data-testid='stMultiSelect']").filter(
            has_text="Schedules to compare").locator("input")  # four schedules: small multiples
        for words in ("weekly for 12 weeks", "weekly for 4 weeks"):
            chooser.press_sequentially(words)
            page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        page.get_by_role("heading", name="Forecast").click()  # leave the chooser
        _settled(page)
        expect(page.locator("[data-testid='stMultiSelect']").first.locator("[data-tag]")
               ).to_have_count(4)
        forecast.click()
        expect(charts).to_have_count(1 + 4 + 1, timeout=60_000)
        charts.nth(1).scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "small_multiples.png"), full_page=True)
        _why_when_and_how_much(page)
        _no_raw_error(page)
        browser.close()


def _why_when_and_how_much(page: Any) -> None:
    """The forecast's parts under it, the booking date and the frontier, each on screen."""
    from playwright.sync_api import expect

    _settled(page)
    said = page.get_by_text(re.compile("improvement since|has not improved"))
    said.scroll_into_view_if_needed()
    expect(said).to_be_visible()
    page.mouse.wheel(0, 250)
    page.screenshot(path=str(SHOTS / "explain.png"))
    page.get_by_role("button", name="When to book").click()
    booked = page.get_by_text(re.compile(
        "Book the next session|No session is needed|not yet low enough"))
    expect(booked).to_be_visible(timeout=60_000)
    booked.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "booking.png"))
    page.get_by_role("tab", name="Sessions against pain").click()
    page.get_by_role("button", name="Draw the frontier").click()
    drawn = page.get_by_text(re.compile("no other beats on both"))
    expect(drawn).to_be_visible(timeout=60_000)
    drawn.scroll_into_view_if_needed()
    page.mouse.wheel(0, 200)
    page.screenshot(path=str(SHOTS / "frontier.png"))
    _click_the_cheapest_point(page, page.locator("[data-testid='stVegaLiteChart']").last)
    picked = page.get_by_role("button", name="Forecast “none”")
    expect(picked).to_be_visible()
    picked.click()  # the frontier's point becomes the forecast on screen
    expect(page.get_by_role("combobox", name="Schedule to explain")).to_have_value(
        "no sessions")


def _click_the_cheapest_point(page: Any, chart: Any) -> None:
    """Find the no-care schedule (cost 0: the plot's left edge) by its tooltip and click it;
    the chart is a canvas, so its points are found by hovering."""
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    tip = page.locator("#vg-tooltip-element")
    for x in range(int(box["x"]) + 30, int(box["x"]) + 130, 4):
        for y in range(int(box["y"]) + 4, int(box["y"] + box["height"]) - 60, 4):
            page.mouse.move(x, y)
            if tip.is_visible() and "cost" in tip.inner_text():
                page.mouse.click(x, y)
                return
    raise AssertionError("no point of the frontier answered a hover")


def _blank_kind_is_named_and_blocks_the_forecast(page: Any) -> None:
    """A built schedule's kind cell emptied (the old traceback): named by row, Forecast off
    until a kind is chosen again."""
    from playwright.sync_api import expect

    page.get_by_text("Build your own schedule").click()
    editor = page.locator("[data-testid='stDataFrame']")
    editor.scroll_into_view_if_needed()
    expect(editor.locator("canvas").first).to_be_visible()
    kind_cell = {"x": 150, "y": 35 + 17}  # past the row markers, first row under the header
    editor.click(position=kind_cell)
    page.keyboard.press("Delete")
    expect(page.get_by_text("Row 1: choose a session kind (massage, physio).")).to_be_visible()
    expect(page.get_by_role("button", name="Forecast", exact=True)).to_be_disabled()
    _no_raw_error(page)
    _settled(page)  # a rerun redraws the grid and closes a drop-down opened during it
    _open_cell_menu(page, editor, kind_cell, option="physio")
    page.keyboard.type("massage")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Row 1: choose a session kind")).to_have_count(0)
    expect(page.get_by_role("button", name="Forecast", exact=True)).to_be_enabled()
    _settled(page)


def _open_cell_menu(page: Any, editor: Any, cell: dict, option: str) -> None:
    """Double-click a grid cell until its drop-down shows `option` (a late rerun can close it)."""
    from playwright.sync_api import expect

    shown = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):
        editor.dblclick(position=cell)
        try:
            expect(shown).to_be_visible(timeout=10_000)
            return
        except AssertionError:
            page.keyboard.press("Escape")
            _settled(page)
    expect(shown).to_be_visible()


@pytest.fixture(scope="module")
def short_tokens(tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[tuple[str, dict, str]]:
    """The demo stack with one-minute sign-ins, to meet an expiry as a therapist would."""
    with _stack(tmp_path_factory.mktemp("short"), RECOVERY_TOKEN_MINUTES="1") as stack:
        yield stack


def test_an_expired_sign_in_asks_again_and_keeps_the_page(
        short_tokens: tuple[str, dict, str]) -> None:
    """The token lapses while the therapist works: the next click brings the sign-in back
    with one sentence, and signing in again restores what they had set."""
    from playwright.sync_api import expect, sync_playwright

    url, logins, _ = short_tokens
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        _sign_in(page, url, logins["therapist"])
        signed_in = time.monotonic()
        horizon = page.get_by_role("spinbutton", name="Horizon (days)")
        horizon.fill("91")
        horizon.press("Enter")
        _settled(page)
        time.sleep(max(0.0, 65 - (time.monotonic() - signed_in)))
        page.get_by_role("button", name="Forecast", exact=True).click()
        expect(page.get_by_text("Your session expired. Sign in again as demo-therapist")
               ).to_be_visible()
        expect(page.get_by_text("Signed in as")).to_have_count(0)
        page.screenshot(path=str(SHOTS / "expired.png"))
        page.get_by_role("textbox", name="Password").fill(logins["therapist"]["password"])
        page.get_by_role("textbox", name="Username").fill(logins["therapist"]["username"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("spinbutton", name="Horizon (days)")).to_have_value("91")
        _no_raw_error(page)
        browser.close()


def test_patient_on_a_phone(demo: tuple[str, dict, str]) -> None:
    """A patient at 390 px: sign in, compare plans in plain words, read the chart."""
    from playwright.sync_api import expect, sync_playwright

    url, logins, _ = demo
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        _sign_in(page, url, logins["patient"])
        expect(page.get_by_text("Your recovery")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Compare").click()
        expect(page.get_by_text("people like you are at 3 or below").first).to_be_visible(
            timeout=60_000)
        charts = page.locator("[data-testid='stVegaLiteChart']")
        expect(charts).to_have_count(2)
        box = charts.nth(1).bounding_box()
        assert box is not None
        assert box["width"] <= 390
        charts.nth(1).scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "patient_phone.png"))
        page.get_by_role("button", name="Tell me").click()
        said = page.get_by_text(re.compile("improvement since|has not improved"))
        expect(said).to_be_visible(timeout=60_000)
        said.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "patient_why.png"))
        _no_raw_error(page)
        browser.close()


def _scores_after_forecasts(api: str, login: dict[str, str]) -> int:
    """As a therapist would: a record started eight weeks ago with four weeks of diary, a
    forecast from then, and the scores of the weeks since entered after it. Returns how many
    scores the forecast covers."""
    import httpx

    r = httpx.post(f"{api}/v1/token", data=login)
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}
    start = date.today() - timedelta(days=56)
    pid = httpx.post(f"{api}/v1/patients", headers=h, json={
        "name": "Sam (monitored)", "start_date": str(start), "covariates": {"chronic": 1}}
                     ).json()["id"]
    diary = [{"day": d, "score": 7 - d // 10, "client_id": f"m{d}"} for d in range(0, 28, 2)]
    httpx.post(f"{api}/v1/patients/{pid}/scores", headers=h, json={"scores": diary})
    made = httpx.post(f"{api}/v1/patients/{pid}/forecast", headers=h, timeout=60, json={
        "schedules": [{"name": "none"}], "start_day": 28, "horizon_days": 28, "draws": 300})
    band = made.json()["forecasts"][0]["quantiles"]
    later = [{"day": 28 + i, "score": round(m), "client_id": f"n{i}"}
             for i, m in enumerate(band["50"]) if i % 2 == 0]
    httpx.post(f"{api}/v1/patients/{pid}/scores", headers=h, json={"scores": later}
               ).raise_for_status()
    return len(later)


def test_analyst_sees_a_refused_cohort_by_line(demo: tuple[str, dict, str], tmp_path: Path
                                               ) -> None:
    """A cohort with a bad score is refused with a table naming the CSV line; the drift
    monitor shows the scores entered after forecasts; a rollback with nothing to go back to is
    a sentence, not an error page."""
    from playwright.sync_api import expect, sync_playwright

    url, logins, api = demo
    assert _scores_after_forecasts(api, logins["therapist"]) > 0
    files = {"patients": "patient_id,chronic\nP1,True\nP2,no\n",
             "sessions": "patient_id,day,kind\nP1,1,massage\n",
             "pain": "patient_id,day,score\nP1,1,5\nP2,2,12\n"}
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        _sign_in(page, url, logins["analyst"])
        expect(page.get_by_text("Cohorts, refits and models")).to_be_visible(timeout=60_000)
        inputs = page.locator("input[type=file]")
        for i, table in enumerate(files):
            inputs.nth(i).set_input_files(str(tmp_path / f"{table}.csv"))
            expect(page.get_by_text(f"{table}.csv", exact=True)).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Store cohort", exact=True).click()
        expect(page.get_by_text("The cohort was refused; nothing was stored.")).to_be_visible(
            timeout=60_000)
        drift = page.get_by_text("Drift: do the served model's forecasts still hold?")
        expect(drift).to_be_visible()
        entered = page.get_by_text(re.compile(r"\d+ scores entered after forecasts of model"))
        expect(entered).to_be_visible()
        entered.scroll_into_view_if_needed()
        page.mouse.wheel(0, 300)
        page.screenshot(path=str(SHOTS / "drift.png"))
        page.get_by_role("button", name="Roll back to the previously served model").click()
        expect(page.get_by_text("no previously served model")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(SHOTS / "analyst.png"), full_page=True)
        _no_raw_error(page)
        browser.close()


@pytest.mark.slow  # an ADVI fit behind the click: `make test-fast` leaves it out
def test_analyst_uploads_a_cohort_and_runs_a_quick_look(demo: tuple[str, dict, str]) -> None:
    """The analyst's path: upload the three CSVs, choose the quick look, start it, and see the
    model arrive labelled QUICK LOOK (the demo's worker runs it)."""
    from playwright.sync_api import expect, sync_playwright

    url, logins, _ = demo
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
