"""Answers beyond the forecast, checked as their users would use them: the parts of expected
pain add up (to the kernel and to the forecast's mean), the booking day moves later when relief
lasts longer, and the frontier keeps exactly the schedules no other beats on both axes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from recovery.cli import app
from recovery.model import (
    BookingRequest,
    ExplainRequest,
    ForecastRequest,
    History,
    OptimiseRequest,
    booking,
    explain,
    frontier,
)
from recovery.model.data.schedules import SessionPlan
from recovery.model.likelihood.kernel import PARTS, build_design, expected_pain, pain_parts
from recovery.model.predict.booking import book_by, p_at_target
from recovery.model.predict.explain import relief_fade_days
from recovery.model.predict.forecast import Forecaster, paths
from recovery.model.predict.frontier import family, non_dominated
from recovery.service.questions import RecordView
from recovery.service.record_calendar import RecordCalendar
from recovery.service.tables import Patient
from tests.helpers import ROOT, Api, history_request

DIARY = {"pain": [{"day": d, "score": s} for d, s in
                  ((0, 7), (3, 7), (7, 6), (10, 5), (14, 5), (17, 4), (21, 4), (24, 3), (28, 3))],
         "sessions": [{"day": d, "kind": "massage"} for d in (0, 3, 7, 10, 14, 17, 21, 24)]}
PATIENT = {"covariates": {"chronic": 1}}


def test_parts_add_up_to_the_kernel(default_forecaster: Forecaster) -> None:
    """For any draws and any sessions of both kinds the parts sum to expected_pain; the relief
    parts take pain off and soreness adds it."""
    fc = default_forecaster
    rng = np.random.default_rng(3)
    g = fc.population.globals.take(rng.integers(0, len(fc.population.globals), 200))
    theta = fc.population.mu_pop[:200] + rng.normal(0, 1, (200, 8))
    s_t = np.sort(rng.uniform(0, 120, 25))
    design = build_design((np.zeros(25, int), s_t, rng.integers(0, 2, 25)),
                          (np.zeros(150, int), np.linspace(0, 200, 150)), 1, fc.kinds, fc.config)
    p, adherence = g.params(theta), np.array([0.7])
    parts = pain_parts(p, adherence, design, fc.config)
    assert list(parts) == list(PARTS)
    np.testing.assert_allclose(sum(parts.values()), expected_pain(p, adherence, design,
                                                                  fc.config), atol=1e-10)
    for name in ("course_relief", "short_relief", "durable_gain"):
        assert (parts[name] <= 1e-12).all(), name
        assert (parts[name] < -0.01).any(), name
    assert (parts["soreness"] >= 0).all()
    assert (parts["soreness"] > 0.01).any()


@pytest.mark.parametrize("schedule", ["none", "recovery_then_maintenance", "stop_start"])
def test_explained_parts_add_up_to_the_forecast_mean(default_forecaster: Forecaster,
                                                     schedule: str) -> None:
    body = {"patient": PATIENT, "history": DIARY, "start_day": 29, "horizon_days": 90,
            "draws": 500, "seed": 4}
    ex = explain(default_forecaster, ExplainRequest.model_validate(
        {**body, "schedule": {"name": schedule}, "since": "2 March"}))
    fc = default_forecaster.forecast(ForecastRequest.model_validate(
        {**body, "schedules": [{"name": schedule}]}))
    parts = np.sum([np.asarray(b.mean) for b in ex.parts.values()], axis=0)
    np.testing.assert_allclose(parts, ex.total, atol=1e-3)
    assert ex.days[:29] == list(range(29))
    assert ex.days[29:] == fc.forecasts[0].days
    np.testing.assert_allclose(ex.total[29:], fc.forecasts[0].mean, atol=2e-3)
    assert not np.any(ex.parts["recent_scores"].mean[:29])  # only the forecast's days
    assert sum(ex.shares[k] for k in ("natural_course", "relief", "durable_gain", "soreness",
                                      "recent_scores")) == pytest.approx(1.0, abs=0.01)
    assert "since 2 March" in ex.words
    assert ex.improvement > 2


def test_relief_is_zero_without_sessions(default_forecaster: Forecaster) -> None:
    ex = explain(default_forecaster, ExplainRequest.model_validate(
        {"patient": PATIENT, "history": {"pain": DIARY["pain"]}, "start_day": 29,
         "horizon_days": 30, "draws": 200}))
    for name in ("course_relief", "short_relief", "durable_gain", "soreness"):
        assert not np.any(ex.parts[name].mean), name
    assert ex.relief_fades_days is None
    assert "relief" not in ex.words.split("(")[0]


def _booking_day(fc: Forecaster, relief_shift: float) -> float | None:
    req = BookingRequest.model_validate({"patient": PATIENT, "history": DIARY, "start_day": 29,
                                         "level": 0.5, "target_score": 5, "draws": 400})
    patient, post, _ = fc.patient(req.patient, req.history, req.start_day, req.draws,
                             np.random.default_rng(0))
    theta = post.theta.copy()
    theta[:, 3] += relief_shift  # log of the course relief's time scale
    post = replace(post, theta=theta)
    days = req.start_day + np.arange(0.0, req.window_days + 1.0)
    stop = paths(post, patient, SessionPlan.of([], "massage"), days, len(days),
                 fc.config, fc.kinds)
    return book_by(post, patient, req, p_at_target(stop.m, stop.s, req.target_score), fc)[0]


def test_the_booking_day_moves_later_when_relief_lasts_longer(
        default_forecaster: Forecaster) -> None:
    short, usual, long = (_booking_day(default_forecaster, d) for d in (-1.0, 0.0, 1.0))
    assert short is not None
    assert usual is not None
    assert short < usual, (short, usual, long)
    assert (long is None or long > usual), (short, usual, long)


def test_booking_answers_in_days_and_words(default_forecaster: Forecaster) -> None:
    res = booking(default_forecaster, BookingRequest.model_validate(
        {"patient": PATIENT, "history": DIARY, "start_day": 29, "level": 0.5, "target_score": 5,
         "draws": 400}))
    assert res.gain > 1
    assert len(res.p_target) == len(res.days) == 183
    assert res.book_by_day is not None
    assert 29 <= res.book_by_day <= 29 + 182
    assert res.keeps_level
    p = np.asarray(res.p_target)
    assert (p[: int(res.book_by_day - 29) + 1] >= 0.5).all()  # held until the booked day
    assert res.p_returned is not None
    assert np.all(np.diff(res.p_returned) >= 0)
    assert "Book the next session by day" in res.words


def test_non_dominated_keeps_exactly_the_unbeaten() -> None:
    cost = np.array([0, 100, 100, 200, 300, 300])
    pain = np.array([5.0, 4.0, 4.5, 4.2, 3.0, 3.0])
    assert non_dominated(cost, pain).tolist() == [True, True, False, False, True, True]


def test_the_frontier_over_sixty_three_schedules(default_forecaster: Forecaster) -> None:
    """Sixty fixed schedules and three symptom-guided ones, on the same draws."""
    base = history_request()
    req = OptimiseRequest.model_validate({"patient": base["patient"], "history": base["history"],
                                          "start_day": 20, "horizon_days": 182, "draws": 300})
    res = frontier(default_forecaster, req)
    assert len(res.points) == len(family("massage", 182)) == 63
    assert sum(p.schedule.book_above is not None for p in res.points) == 3
    front = [p for p in res.points if p.on_frontier]
    assert front[0].cost == 0
    assert len(front) >= 3
    assert all(round(a.pain_at_horizon, 2) >= round(b.pain_at_horizon, 2) and a.cost <= b.cost
               for a, b in pairwise(front))  # pain compared to 0.01
    for p in res.points:
        assert p.pain_lo <= p.pain_at_horizon <= p.pain_hi
        if not p.on_frontier:  # something cheaper or as cheap is at least as good
            assert any(q.cost <= p.cost and q.pain_at_horizon <= p.pain_at_horizon + 0.005
                       for q in front)


def _with_diary(api: Api) -> None:
    c, h = api.client, api.as_("t1")
    first = 365 - 29  # the test records start a year ago
    scores = [{"day": first + x["day"], "score": x["score"], "client_id": f"s{i}"}
              for i, x in enumerate(DIARY["pain"])]
    sessions = [{"day": first + x["day"], "kind": "massage", "client_id": f"x{i}"}
                for i, x in enumerate(DIARY["sessions"])]
    assert c.post(f"/v1/patients/{api.own}/scores", json={"scores": scores},
                  headers=h).status_code == 200
    assert c.post(f"/v1/patients/{api.own}/sessions", json={"sessions": sessions},
                  headers=h).status_code == 200


def test_the_answers_over_http(api: Api) -> None:
    """A therapist asks all three about a stored record; the patient may ask too; dates come
    back in the record's calendar; bad input is a 422 naming the field."""
    _with_diary(api)
    c, url = api.client, f"/v1/patients/{api.own}"
    start = date.fromisoformat(c.get(url, headers=api.as_("t1")).json()["start_date"])
    ex = c.post(f"{url}/explain", json={"schedule": {"name": "recovery_then_maintenance"},
                                         "horizon_days": 60, "draws": 300},
                headers=api.as_("p1"))
    assert ex.status_code == 200, ex.text
    body = ex.json()
    assert f"since {start:%d %B %Y}" in body["words"]
    assert body["start_date"] == str(start)
    assert set(body["parts"]) == {*PARTS, "recent_scores"}
    bk = c.post(f"{url}/booking", json={"level": 0.5, "draws": 300}, headers=api.as_("t1"))
    assert bk.status_code == 200, bk.text
    b = bk.json()
    if b["book_by_day"] is not None:
        assert b["book_by_date"] == str(start + timedelta(days=int(b["book_by_day"])))
    fr = c.post(f"{url}/frontier", json={"horizon_days": 84, "draws": 200},
                headers=api.as_("t1"))
    assert fr.status_code == 200
    assert any(p["on_frontier"] for p in fr.json()["points"])
    bad = c.post(f"{url}/booking", json={"level": 1.5}, headers=api.as_("t1"))
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "level"]
    bad = c.post(f"{url}/explain", json={"schedule": {"name": "weekly-ish"}},
                 headers=api.as_("t1"))
    assert bad.status_code == 422
    assert "unknown preset" in bad.text
    assert c.post(f"/v1/patients/{api.other}/explain", json={},
                  headers=api.as_("t1")).status_code == 404


@pytest.mark.parametrize(("command", "request_file", "said"), [
    ("explain", "explain_request.json", "improvement since the first visit"),
    ("booking", "booking_request.json", "Book the next session"),
    ("frontier", "optimise_request.json", "sessions, cost")])
def test_the_answers_on_the_command_line(tmp_path: Path, command: str, request_file: str,
                                         said: str) -> None:
    args = [command, "--model", str(ROOT / "data" / "default_model"), "--request",
            str(ROOT / "examples" / request_file), "--out", str(tmp_path / "out.json")]
    if command != "booking":
        args += ["--plot", str(tmp_path / "chart.png")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert said in res.output
    assert json.loads((tmp_path / "out.json").read_text())
    if command != "booking":
        assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(app, [command, "--model", str(ROOT / "data" / "default_model"),
                                   "--request", str(tmp_path / "out.json")])
    assert bad.exit_code == 2
    assert "is not a valid request" in bad.output


def test_relief_that_outlasts_the_window_gets_no_fade_time(
        default_forecaster: Forecaster) -> None:
    """A fade time past the window it was looked for in is not reported as that window."""
    fc = default_forecaster
    req = ExplainRequest.model_validate({"patient": PATIENT, "history": DIARY, "start_day": 29})
    patient, post, _ = fc.patient(req.patient, req.history, 29, 300, np.random.default_rng(0))
    within_a_year = relief_fade_days(post, patient, 29, fc)
    assert within_a_year is not None
    assert within_a_year > 7
    assert relief_fade_days(post, patient, 29, fc, window=7) is None


def test_every_question_about_a_record_starts_by_one_rule(api: Api) -> None:
    """The day asked for, else the day after the record's last entry: /optimise and /frontier
    alike take the start_day of their body (one before the diary's last score is refused,
    naming it)."""
    _with_diary(api)  # entries up to yesterday, day 364 of the record
    c, url, h = api.client, f"/v1/patients/{api.own}", api.as_("t1")
    for route in ("optimise", "frontier"):
        r = c.post(f"{url}/{route}", json={"start_day": 300, "horizon_days": 28, "draws": 200},
                   headers=h)
        assert r.status_code == 422, (route, r.text)
        assert "start_day 300 is before the last score (day 364)" in r.text

    def first_day(**body: float) -> float:
        r = c.post(f"{url}/forecast", headers=h, json={
            "schedules": [{"name": "none"}], "horizon_days": 14, "draws": 200, **body})
        assert r.status_code == 200, r.text
        return float(r.json()["forecasts"][0]["days"][0])

    assert first_day() == 365  # the day after the diary's last score
    assert first_day(start_day=370) == 370
    assert c.post(f"{url}/scores", json=[{"day": 365, "score": 3, "client_id": "today"}],
                  headers=h).status_code == 200
    assert first_day() == 366  # today's score is history: the forecast starts tomorrow


def test_the_record_view_starts_after_the_last_entry() -> None:
    start = date(2026, 1, 1)
    old = History.model_validate({"pain": [{"day": 0, "score": 6}, {"day": 3, "score": 5}],
                                  "sessions": [{"day": 4, "kind": "massage"}]})
    cal = RecordCalendar(start)

    def view(history: History, today: float) -> RecordView:
        return RecordView(Patient(start_date=start), cal, history, [], today)

    assert view(old, 4.0).start_day() == 5.0  # the day after the session of day 4
    assert view(old, 40.0).start_day() == 5.0  # a stale record too: where its story stops
    assert view(old, 40.0).start_day(12.5) == 12.5
    assert view(History(), 0.0).start_day() == 0.0
    assert cal.date_of(31.0) == date(2026, 2, 1)
    assert cal.day_of(date(2026, 2, 1)) == 31.0
    assert cal.date_if(None) is None
    assert cal.words() == "01 January 2026"
