"""The record logic without HTTP: entries placed in the record's calendar, every bad one of a
batch named, and each domain error mapped to its status and body by the API layer."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from recovery.service import errors
from recovery.service.api.errors import refusal
from recovery.service.records import placed, today_of
from recovery.service.schemas import ScoreIn
from recovery.service.tables import Patient

TODAY = date(2026, 2, 27)  # any date: the service is given its calendar


def _record(started_days_ago: int) -> Patient:
    return Patient(name="x", covariates={}, therapist_id=1,
                   start_date=TODAY - timedelta(days=started_days_ago))


def test_entries_by_day_or_date_land_on_the_records_days() -> None:
    p = _record(10)
    items = [ScoreIn(day=3, score=4, client_id="a"),
             ScoreIn(date=p.start + timedelta(days=7), score=5, client_id="b")]
    assert placed(p, items, "scores", TODAY) == [3.0, 7.0]
    assert today_of(p, TODAY) == 10.0


def test_every_bad_entry_of_a_batch_is_named() -> None:
    p = _record(10)
    items = [ScoreIn(date=p.start - timedelta(days=1), score=4, client_id="a"),
             ScoreIn(day=2, score=4, client_id="ok"),
             ScoreIn(day=500, score=5, client_id="b")]
    with pytest.raises(errors.FieldError) as refused:
        placed(p, items, "scores", TODAY)
    body, status = refusal(refused.value)
    assert status == 422
    assert [x["loc"] for x in body] == [["body", "scores", 0, "date"], ["body", "scores", 2, "day"]]
    assert "before this record's start" in body[0]["msg"]
    assert "in the future: today is day 10" in body[1]["msg"]


@pytest.mark.parametrize(("error", "status"), [
    (errors.NotFoundError("no such patient"), 404), (errors.ForbiddenError("no"), 403),
    (errors.ConflictError("no earlier model"), 409), (errors.TooLargeError("too big"), 413),
    (errors.ServiceError("refused"), 400)])
def test_each_domain_error_has_its_status_and_says_why(error: errors.ServiceError, status: int
                                                       ) -> None:
    assert refusal(error) == (str(error), status)


def test_a_refused_field_is_in_fastapis_shape() -> None:
    body, status = refusal(errors.FieldError("patient_id", "needs an existing record"))
    assert status == 422
    assert body == [{"loc": ["body", "patient_id"], "msg": "needs an existing record",
                     "type": "value_error"}]
