"""A first day in the clinic, in a real browser at desktop (1400 x 900) and phone (390 x 844)
sizes against one `make demo` stack: each role's main screen (photographed for the README),
words that match the charts, a reload that keeps the work, records that stay right."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import SHOTS, SIZES, Stack, no_raw_error, page_text, settled, sign_in
from tests.helpers import ROOT

# one xdist worker runs every browser test, so the session has one demo stack and one browser
pytestmark = pytest.mark.xdist_group("browser")

NEVER = ("recovery_then", "effective posterior draws", "today is day", "by day ")
TIMINGS = ROOT / "build" / "e2e_timings.json"


def _page(browser: Any, size: str) -> Any:
    return browser.new_context(viewport=SIZES[size], device_scale_factor=1).new_page()


def _charts(page: Any, where: str) -> Any:
    return page.locator(f".st-key-{where} [data-testid='stVegaLiteChart']")


def _record_timing(name: str, seconds: float) -> None:
    TIMINGS.parent.mkdir(exist_ok=True)
    got = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    TIMINGS.write_text(json.dumps({**got, name: round(seconds, 2)}, indent=1))


@pytest.mark.parametrize("size", SIZES)
def test_therapist_forecasts_and_a_reload_keeps_the_work(demo: Stack, browser: Any,
                                                         size: str) -> None:
    """Sign in, Demo patient 1, Forecast: drawn within seconds (the demo compiled the model
    before saying ready), one chart per plan on a phone, a summary that fits, dates and names
    instead of day numbers and code names; a reload keeps the sign-in, the patient and the
    forecast."""
    from playwright.sync_api import expect

    url, logins, _ = demo
    page = _page(browser, size)
    sign_in(page, url, logins["therapist"])
    expect(page.get_by_role("heading", name="Your patients")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible()
    settled(page)
    page.screenshot(path=str(SHOTS / f"therapist_{size}.png"))
    patient = page.get_by_role("combobox", name="Patient", exact=True)
    patient.click()  # another than the first (the default): it goes in the URL
    page.get_by_role("option", name=re.compile("^Demo patient 2")).click()
    settled(page)
    forecast = page.get_by_role("button", name="Forecast", exact=True)
    expect(forecast).to_be_enabled()
    clicked = time.monotonic()
    forecast.click()
    shown = "narrow" if size == "phone" else "wide"
    expect(_charts(page, shown).first).to_be_visible(timeout=60_000)
    _record_timing(f"first forecast drawn ({size})", time.monotonic() - clicked)
    hidden = "wide" if size == "phone" else "narrow"
    expect(_charts(page, hidden).first).to_be_hidden()
    expect(_charts(page, shown)).to_have_count(2 if size == "phone" else 1)
    table = page.locator("[data-testid='stTable']").first
    expect(table).to_contain_text("cost (EUR)")
    if size == "desktop":  # every column on screen at 1400 px
        box = table.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= SIZES[size]["width"]
    expect(page.get_by_text(re.compile(r"expected pain on \d+ \w+ 20\d\d is"))).to_be_visible(
        timeout=60_000)
    said = page_text(page)
    assert not [w for w in NEVER if w in said], [w for w in NEVER if w in said]
    _charts(page, shown).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"therapist_forecast_{size}.png"))
    assert "patient=" in page.url
    page.reload()
    expect(page.get_by_role("heading", name="Your patients")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    expect(page.locator("[data-testid='stTable']").first).to_contain_text("cost (EUR)",
                                                                           timeout=60_000)
    expect(page.get_by_role("combobox", name="Patient", exact=True)).to_have_value(
        re.compile("^Demo patient 2"))
    no_raw_error(page)
    page.context.close()


def test_records_stay_right_in_the_browser(demo: Stack, browser: Any) -> None:
    """A double click on Create makes one patient; two scores on one date are warned about;
    an Undo goes away at the next action, so no stale button can remove an entry later."""
    from playwright.sync_api import expect

    url, logins, api = demo
    page = _page(browser, "desktop")
    sign_in(page, url, logins["therapist"])
    expect(page.get_by_role("heading", name="Your patients")).to_be_visible(timeout=60_000)
    page.get_by_text("New patient").click()
    page.get_by_role("textbox", name="Name").first.fill("Robin Twice")
    page.get_by_role("button", name="Create", exact=True).dblclick()
    # the second click lands during or after the first's rerun: either way, one record shown
    expect(page.get_by_role("combobox", name="Patient", exact=True)).to_have_value(
        re.compile("^Robin Twice"))
    settled(page)
    h = {"Authorization": "Bearer " + httpx.post(f"{api}/v1/token", data=logins["therapist"]
                                                  ).json()["access_token"]}
    named = [p for p in httpx.get(f"{api}/v1/patients", headers=h).json()
             if p["name"] == "Robin Twice"]
    assert len(named) == 1
    add = page.get_by_role("button", name="Add score")
    add.click()
    expect(page.get_by_role("button", name=re.compile("^Undo: remove the score 5"))
           ).to_be_visible()
    settled(page)
    add.click()
    expect(page.get_by_text(re.compile(r"2 scores on .* \(5, 5\): forecasts use the last"))
           .first).to_be_visible()
    settled(page)
    horizon = page.get_by_role("spinbutton", name="Horizon (days)")
    horizon.fill("119")
    horizon.press("Enter")
    settled(page)
    expect(page.get_by_role("button", name=re.compile("^Undo:"))).to_have_count(0)
    page.get_by_text("Manage this patient").click()
    expect(page.get_by_text("has no login yet")).to_be_visible()
    no_raw_error(page)
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_patient_compares_plans_one_chart_each_on_a_phone(demo: Stack, browser: Any,
                                                           size: str) -> None:
    """The patient's comparison in plain words with dates; on a phone each plan has its own
    chart instead of bands merged into one."""
    from playwright.sync_api import expect

    url, logins, _ = demo
    page = _page(browser, size)
    sign_in(page, url, logins["patient"])
    expect(page.get_by_role("heading", name="Your recovery")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Compare").click()
    said = page.get_by_text(re.compile(r"people like you are at 3 or below by \d+ \w+ 20\d\d"))
    expect(said.first).to_be_visible(timeout=60_000)
    shown = "narrow" if size == "phone" else "wide"
    expect(_charts(page, shown)).to_have_count(2 if size == "phone" else 1)
    for chart in _charts(page, shown).all():
        box = chart.bounding_box()
        assert box is not None
        assert box["width"] <= SIZES[size]["width"]
    said.first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"patient_{size}.png"))
    page.get_by_role("button", name="Tell me").click()
    expect(page.get_by_text(re.compile("expected pain on")).first).to_be_visible(
        timeout=60_000)
    assert not [w for w in NEVER if w in page_text(page)]
    no_raw_error(page)
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_analyst_sees_drift_and_calibration(demo: Stack, browser: Any, size: str) -> None:
    """The demo's drift monitor has scores to judge; the served model's calibration chart has
    its diagonal's caption; the models table fits."""
    from playwright.sync_api import expect

    url, logins, _ = demo
    page = _page(browser, size)
    sign_in(page, url, logins["analyst"])
    expect(page.get_by_role("heading", name="Cohorts, refits and models")).to_be_visible(
        timeout=60_000)
    entered = page.get_by_text(re.compile(r"\d+ scores entered after forecasts of model"))
    expect(entered).to_be_visible(timeout=60_000)
    page.screenshot(path=str(SHOTS / f"analyst_{size}.png"))
    page.get_by_text(re.compile(r"\(served\) — diagnostics passed")).click()
    shown = page.locator("p:visible").filter(has_text="dashed: perfect calibration")
    expect(shown.first).to_be_visible()
    no_raw_error(page)
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_admin_manages_accounts(demo: Stack, browser: Any, size: str) -> None:
    """An administrator's page is no dead end: the accounts and the audit trail."""
    from playwright.sync_api import expect

    url, logins, _ = demo
    page = _page(browser, size)
    sign_in(page, url, logins["admin"])
    expect(page.get_by_role("heading", name="Accounts and audit")).to_be_visible(
        timeout=60_000)
    expect(page.locator("[data-testid='stTable']").first).to_contain_text("demo-therapist")
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    page.screenshot(path=str(SHOTS / f"admin_{size}.png"))
    no_raw_error(page)
    page.context.close()
