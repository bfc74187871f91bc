"""Words against charts: every sentence beside a chart is computed from the numbers the chart
draws, so the two cannot disagree (the parts of expected pain, the booking curves, the
forecast's first day), and no sentence has parts larger than its whole."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest

from recovery.charts.frames import PART_WORDS, parts_frame
from recovery.dashboard.views import promotion_table, worse_on
from recovery.dashboard.words import booking_words, parts_at, parts_words, start_words
from tests.dashboard.conftest import PW
from tests.live import Server, token

START = date(2025, 1, 1)


def _ask(service: Server, question: str, body: dict) -> dict:
    h = token(service.url, "ther", PW)
    pid = httpx.get(f"{service.url}/v1/patients", headers=h).json()[0]["id"]
    r = httpx.post(f"{service.url}/v1/patients/{pid}/{question}", headers=h, json=body,
                   timeout=120)
    r.raise_for_status()
    return dict(r.json())


@pytest.mark.parametrize("schedule", ["recovery_then_stop", "recovery_then_maintenance"])
def test_the_parts_sentence_says_what_the_parts_chart_draws(service: Server, schedule: str
                                                            ) -> None:
    explained = _ask(service, "explain", {"schedule": {"name": schedule}, "horizon_days": 84})
    said = parts_words(explained, START, "the plan")
    frame = parts_frame(explained, START)
    last = frame[frame["day"] == explained["days"][-1]].set_index("part")
    at = parts_at(explained)
    total = re.search(r"expected pain on .+? is \*\*(\d+\.\d)\*\*", said)
    assert total is not None
    assert float(total.group(1)) == pytest.approx(explained["total"][-1], abs=0.05)
    natural = re.search(r"natural course\) it would be (\d+\.\d)", said)
    assert natural is not None
    assert float(natural.group(1)) == pytest.approx(last.loc["natural course", "y2"], abs=0.05)
    stated = 0.0
    for key, words in PART_WORDS.items():
        if key == "natural_course":
            continue
        found = re.search(rf"{words} (takes off|adds) (\d+\.\d)", said)
        value = last.loc[words, "value"]
        if found is None:  # too small to name
            assert abs(value) < 0.05
            continue
        sign = -1 if found.group(1) == "takes off" else 1
        assert sign * float(found.group(2)) == pytest.approx(value, abs=0.05)
        assert sign * value >= 0  # said in the direction the chart stacks it
        stated += sign * float(found.group(2))
    # the parts said add up to the total said (each rounded to a tenth)
    assert float(natural.group(1)) + stated == pytest.approx(float(total.group(1)), abs=0.3)
    assert at["total"] == pytest.approx(sum(v for k, v in at.items() if k != "total"),
                                        abs=1e-3)
    assert "day " not in said


def test_two_schedules_are_told_apart_from_their_first_sentence(service: Server) -> None:
    a = _ask(service, "explain", {"schedule": {"name": "recovery_then_stop"},
                                  "horizon_days": 84})
    b = _ask(service, "explain", {"schedule": {"name": "recovery_then_maintenance"},
                                  "horizon_days": 84})
    first = [parts_words(x, START, n).split(". ")[0] for x, n in ((a, "A"), (b, "B"))]
    assert first[0] != first[1]


def test_the_booking_sentence_agrees_with_its_curve(service: Server) -> None:
    booked = _ask(service, "booking", {"target_score": 3})
    said = booking_words(booked, 3, 0.7, START)
    peak = max(booked["p_returned"] or [0.0])
    if booked["median_return_date"] is None and booked["return_level"] is not None:
        assert ("unlikely to come back" in said) == (peak < 0.1)
        if peak >= 0.1:
            assert f"rises to {peak:.0%}" in said
    assert "day " not in said


def test_unlikely_is_never_said_of_a_curve_that_reaches_40_percent() -> None:
    curve = [i / 100 for i in range(0, 41)]
    booked = {"return_level": 5.0, "median_return_date": None, "days": list(range(28, 69)),
              "p_returned": curve, "book_by_date": None, "keeps_level": True}
    said = booking_words(booked, 3, 0.7, START)
    assert "unlikely" not in said
    assert "rises to 40% by 10 March 2025" in said


def test_a_forecast_that_starts_away_from_the_last_score_says_why() -> None:
    history = {"pain": [{"day": 40, "score": 4}], "start_date": "2025-01-01"}
    said = start_words(history, 5.1, START)
    assert said is not None
    assert "not at the last score (4 on 10 February 2025)" in said
    assert start_words(history, 4.2, START) is None


def _model(mid: str, crps: float, c50: float, c90: float, n: int, passed: bool = True
           ) -> dict:
    return {"id": mid, "passed": passed, "served": False,
            "diagnostics": {"n_patients": n},
            "evaluation": {"patients": 3, "methods": {"model": {
                "crps": crps, "coverage_50": c50, "coverage_90": c90}}}}


def test_a_worse_candidate_is_named_worse_on_each_measure() -> None:
    served = _model("served", 0.441, 0.57, 0.93, 30)
    candidate = _model("new", 0.503, 0.40, 0.80, 27)
    counts = {"served": (11, 16), "new": (9, 16)}
    worse = worse_on(candidate, served, counts)
    assert worse == ["CRPS 0.503 against 0.441 (higher is worse)",
                     "inside the 50 % band: 40% against 57% (further from 50%)",
                     "inside the 90 % band: 80% against 93% (further from 90%)",
                     "claims holding: 9 of 16 against 11 of 16"]
    assert worse_on(served, candidate, counts) == []
    table = promotion_table(candidate, served, counts)
    assert list(table.columns) == ["candidate new", "served served"]
    assert table.loc["CRPS (lower is better)"].tolist() == ["0.503", "0.441"]
    assert table.loc["patients fitted"].tolist() == [27, 30]


def test_a_schedule_keeps_its_colour_when_others_are_added() -> None:
    from recovery.charts.frames import PALETTE, Colours

    given = Colours()
    first = given.of(["b plan", "a plan"])
    later = Colours(given.given).of(["new plan", "a plan", "b plan"])
    assert later["a plan"] == first["a plan"]
    assert later["b plan"] == first["b plan"]
    assert later["new plan"] not in first.values()
    assert set(later.values()) <= set(PALETTE)


def test_the_exported_chart_and_table_name_patient_date_model_and_schedules() -> None:
    import io

    from matplotlib.image import imread

    from recovery.dashboard.common import chart_png
    from recovery.dashboard.views import export_name, forecast_csv

    days = [40.0, 41.0, 42.0]
    f = {"name": "recovery_then_stop", "days": days, "mean": [4.0, 3.9, 3.8],
         "session_days": [41.0], "summary": {"p_target_at_horizon": 0.4, "sessions": 1},
         "quantiles": {k: [4.0, 3.9, 3.8] for k in ("5", "25", "50", "75", "95")}}
    result = {"forecasts": [f], "model_version": "abc123"}
    names = {"recovery_then_stop": "twice a week for 6 weeks, then stop"}
    csv = forecast_csv(result, names, "=Alex", START, date(2025, 2, 20)).decode()
    assert csv.splitlines()[0].startswith("patient,model_version,made_on,schedule,date,mean")
    assert "'=Alex,abc123,2025-02-20,\"twice a week for 6 weeks, then stop\",2025-02-10" in csv
    assert export_name("Alex O'Neil", date(2025, 2, 20), "png") == (
        "forecast-alex-o-neil-2025-02-20.png")
    history = {"start_date": "2025-01-01", "pain": [{"day": 39.0, "score": 4}],
               "sessions": []}
    png = chart_png(history, result, 3.0, names, {"twice a week for 6 weeks, then stop":
                                                   "#4e79a7"}, "Alex · 2025-02-20 · abc123")
    assert imread(io.BytesIO(png)).shape[2] in (3, 4)


class _Past:
    """The one call model_changed makes, answering a patient's forecasts newest first."""

    def __init__(self, versions: list[str]) -> None:
        self.versions = versions

    def past_forecasts(self, pid: str) -> list[dict]:
        return [{"model_version": v, "created_at": f"2026-12-0{9 - i}T10:00:00"}
                for i, v in enumerate(self.versions)]


def test_therapists_are_told_when_the_model_changed_since_the_last_forecast() -> None:
    from recovery.dashboard.forecasting import model_changed

    said = model_changed(_Past(["new", "old", "old"]), "p", "new")  # type: ignore[arg-type]
    assert said is not None
    assert "model old on 2026-12-08, now new" in said
    assert model_changed(_Past(["new", "new"]), "p", "new") is None  # type: ignore[arg-type]
    assert model_changed(_Past(["new"]), "p", "new") is None  # type: ignore[arg-type]
