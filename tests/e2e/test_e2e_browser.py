"""End to end in a real browser (Debian's chromium via Playwright) against `make demo`'s stack
on loopback, one test per role doing its job and meeting the bad inputs a person would give.
Screenshots go to docs/screenshots/ (shown in the README)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SHOTS, Stack, demo_stack, no_raw_error, settled, sign_in
from tests.helpers import ROOT

# one xdist worker runs every browser test, so the session has one demo stack and one browser
pytestmark = pytest.mark.xdist_group("browser")


def test_therapist_day_in_the_browser(demo: Stack, browser: Any) -> None:
    """Sign-in refused then accepted; a score added, confirmed and undone; a horizon too long
    named beside its field; a forecast drawn as an interactive chart with hover; screenshots."""
    from playwright.sync_api import expect

    url, logins, _ = demo
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    sign_in(page, url, {**logins["therapist"], "password": "not the password"})
    expect(page.get_by_text("Wrong username or password.")).to_be_visible(timeout=60_000)
    sign_in(page, url, logins["therapist"])
    expect(page.get_by_text("Your patients")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Deploy")).to_have_count(0)  # not Streamlit's
    expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible()
    page.screenshot(path=str(SHOTS / "therapist.png"), full_page=True)
    page.get_by_role("button", name="Add score").click()
    expect(page.get_by_text(re.compile(r"Stored the score 5 on \d+ \w+ \d{4}\."))
           ).to_be_visible(timeout=30_000)
    page.get_by_role("button", name=re.compile("^Undo: remove the score 5")).click()
    expect(page.get_by_text(re.compile("^Undone: remove the score 5"))).to_be_visible(
        timeout=30_000)
    settled(page)
    _blank_kind_is_named_and_blocks_the_forecast(page)
    horizon = page.get_by_role("spinbutton", name="Horizon (days)")
    horizon.fill("3650")
    horizon.press("Enter")
    expect(page.get_by_text("Horizon: choose 1 to 1095 days (three years); 3650 is "
                            "outside that.")).to_be_visible(timeout=30_000)
    forecast = page.get_by_role("button", name="Forecast", exact=True)
    expect(forecast).to_be_disabled()
    settled(page)
    horizon.fill("120")
    horizon.press("Enter")
    expect(forecast).to_be_enabled(timeout=30_000)
    settled(page)
    forecast.click()
    comparison = page.get_by_text("Difference in mean pain (")
    expect(comparison.first).to_be_visible(timeout=60_000)
    charts = page.locator("[data-testid='stVegaLiteChart']")
    expect(charts).to_have_count(5)  # the diary, the fan, one per plan (phones), parts
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
    page.get_by_text("Session kind for these").click()  # leave the chooser
    settled(page)
    expect(page.locator("[data-testid='stMultiSelect']").first.locator("[data-tag]")
           ).to_have_count(4)
    forecast.click()
    expect(charts).to_have_count(1 + 4 + 4 + 1, timeout=60_000)
    charts.nth(1).scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "small_multiples.png"), full_page=True)
    _why_when_and_how_much(page)
    no_raw_error(page)
    page.context.close()


def _why_when_and_how_much(page: Any) -> None:
    """The forecast's parts under it, the booking date and the frontier, each on screen."""
    from playwright.sync_api import expect

    settled(page)
    said = page.get_by_text(re.compile("expected pain on"))
    said.scroll_into_view_if_needed()
    expect(said).to_be_visible()
    page.mouse.wheel(0, 250)
    page.screenshot(path=str(SHOTS / "explain.png"))
    page.get_by_role("tab", name="When to book").click()
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
    picked = page.get_by_role("button", name=re.compile("^Forecast “"))
    expect(picked).to_be_visible()
    name = picked.inner_text().strip()[len("Forecast “"):-1]
    picked.click()  # the frontier's point becomes the forecast on screen, in its section
    expect(page.get_by_role("combobox", name="Schedule to explain")).to_have_value(name)


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
    no_raw_error(page)
    settled(page)  # a rerun redraws the grid and closes a drop-down opened during it
    _open_cell_menu(page, editor, kind_cell, option="physio")
    page.keyboard.type("massage")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Row 1: choose a session kind")).to_have_count(0)
    expect(page.get_by_role("button", name="Forecast", exact=True)).to_be_enabled()
    settled(page)


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
            settled(page)
    expect(shown).to_be_visible()


@pytest.fixture(scope="module")
def short_tokens(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Stack]:
    """The demo stack with one-minute sign-ins, to meet an expiry as a therapist would."""
    with demo_stack(tmp_path_factory.mktemp("short"), RECOVERY_TOKEN_MINUTES="1") as stack:
        yield stack


def test_an_expired_sign_in_asks_again_and_keeps_the_page(short_tokens: Stack, browser: Any
                                                           ) -> None:
    """The token lapses while the therapist works: the next click brings the sign-in back
    with one sentence, and signing in again restores what they had set."""
    from playwright.sync_api import expect

    url, logins, _ = short_tokens
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    sign_in(page, url, logins["therapist"])
    signed_in = time.monotonic()
    horizon = page.get_by_role("spinbutton", name="Horizon (days)")
    horizon.fill("91")
    horizon.press("Enter")
    settled(page)
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
    no_raw_error(page)
    page.context.close()


def test_analyst_sees_a_refused_cohort_by_line(demo: Stack, browser: Any, tmp_path: Path
                                               ) -> None:
    """A cohort with a bad score is refused with a table naming the CSV line; the drift
    monitor shows the scores entered after forecasts; a rollback with nothing to go back to is
    a sentence, not an error page."""
    from playwright.sync_api import expect

    url, logins, _ = demo  # the demo entered scores after a forecast (scripts/demo_warm.py)
    files = {"patients": "patient_id,chronic\nP1,True\nP2,no\n",
             "sessions": "patient_id,day,kind\nP1,1,massage\n",
             "pain": "patient_id,day,score\nP1,1,5\nP2,2,12\n"}
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text)
    page = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
    sign_in(page, url, logins["analyst"])
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
    no_raw_error(page)
    page.context.close()


@pytest.mark.slow  # an ADVI fit behind the click: `make test-fast` leaves it out
def test_analyst_uploads_a_cohort_and_runs_a_quick_look(demo: Stack, browser: Any) -> None:
    """The analyst's path: upload the three CSVs, choose the quick look, start it, and see the
    model arrive labelled QUICK LOOK (the demo's worker runs it)."""
    from playwright.sync_api import expect

    url, logins, _ = demo
    cohort = ROOT / "data" / "demo_cohort"
    page = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
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
    page.context.close()
