"""The forecast JSON refuses bad input with the field named."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from recovery.model.requests import ForecastRequest, ScheduleSpec
from tests.helpers import history_request


@pytest.mark.parametrize(("change", "where", "text"), [
    ({"history": {"pain": [{"day": 0, "score": 11}]}}, "history.pain.0.score", "less than"),
    ({"history": {"pain": [{"day": -1, "score": 5}]}}, "history.pain.0.day", "greater"),
    ({"history": {"pain": [{"day": 5, "score": 5}, {"day": 2, "score": 4}]}}, "history",
     "pain[1]: day 2 follows day 5"),
    ({"history": {"sessions": [{"day": 5}, {"day": 2}]}}, "history", "sessions[1]"),
    ({"schedules": [{"name": "weekly"}]}, "schedules.0", "name: unknown preset ("),
    ({"schedules": []}, "schedules", "at least 1"),
    ({"horizon_days": 0}, "horizon_days", "greater than or equal to 1"),
    ({"horizon_days": 1096}, "horizon_days", "less than or equal to 1095"),
    ({"start_day": 3}, "", "start_day 3 is before the last score"),
    ({"schedules": [{"name": "late", "session_days": [500]}]}, "", "no sessions within"),
    ({"schedules": [{"name": "none"}, {"name": "none"}]}, "", "unique"),
    ({"schedules": [{"name": "x", "session_days": [30], "phases": []}]}, "schedules.0",
     "one of phases, session_days or book_above"),
    ({"schedules": [{"name": "x", "book_above": 5, "session_days": [30]}]}, "schedules.0",
     "one of phases, session_days or book_above"),
    ({"schedules": [{"name": "x", "book_above": 10}]}, "schedules.0.book_above", "less than"),
    ({"schedules": [{"name": "x", "book_above": 5, "min_gap_days": 0.1}]},
     "schedules.0.min_gap_days", "greater than or equal to 1"),
    ({"patient": {"onset_day": -40_000}}, "patient.onset_day", "greater than or equal"),
    ({"target_score": 12}, "target_score", "less than or equal to 10"),
    ({"surprise": 1}, "surprise", "Extra inputs"),
])
def test_bad_request_names_the_field(change: dict[str, Any], where: str, text: str) -> None:
    with pytest.raises(ValidationError) as exc:
        ForecastRequest.model_validate(history_request() | change)
    errors = exc.value.errors()
    assert any(".".join(map(str, e["loc"])) == where and text in e["msg"] for e in errors), errors


def test_example_request_from_the_issue_is_valid() -> None:
    req = ForecastRequest.model_validate(ForecastRequest.model_json_schema()["examples"][0])
    dates = req.schedules[2].to_schedule(req.start_day).expand(req.start_day)
    assert list(dates.days) == [30.0, 37.0]  # session_days are absolute days


def test_preset_spec_keeps_its_name_and_kind() -> None:
    s = ScheduleSpec(name="weekly_taper", kind="physio").to_schedule(10.0)
    assert s.name == "weekly_taper"
    assert {p.kind for p in s.phases} == {"physio"}
