"""A model question about a stored record, asked from a route: the record read (audited) and
viewed once, the transaction settled, the request built by the one builder, and the answer
worked out on the served model within the user's share of the server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from recovery.model import Forecaster
from recovery.service.api.deps import AppState, gated, patient_for, served, settle
from recovery.service.api.errors import run_model
from recovery.service.questions import RecordView, question, record_view
from recovery.service.tables import User

__all__ = ["Asked", "ask"]

Q = TypeVar("Q", bound=BaseModel)
R = TypeVar("R")


@dataclass(frozen=True)
class Asked(Generic[Q]):
    """A valid model request about a record, and the served model that will answer it."""

    view: RecordView
    request: Q
    forecaster: Forecaster
    model_id: str
    state: AppState
    user: User

    def answer(self, work: Callable[[Forecaster, Q], R], timed: bool = False) -> R:
        """`work(forecaster, request)` within the user's slot of the forecast gate."""
        return gated(self.state, self.user.id, lambda: work(self.forecaster, self.request),
                     timed=timed)


def ask(s: Session, user: User, state: AppState, patient_id: str, request: type[Q],
        options: BaseModel, start_day: float | None = None, since: bool = False,
        **extra: Any) -> Asked[Q]:
    """The record's request `request` from a route body's `options` (their start_day, if any,
    is the rule's to apply) and `extra` fields (`since`: the words name the record's start
    date); 404 for a record the user may not see, 422 for what the model refuses. No
    transaction is held from here on."""
    patient = patient_for(s, user, patient_id)
    loaded = served(state)
    view = record_view(s, patient, loaded.forecaster.kinds, state.settings.today())
    settle(s)  # the request is checked and answered outside any transaction
    fields = {**options.model_dump(exclude={"start_day"}, exclude_none=True), **extra,
              **({"since": view.calendar.words()} if since else {})}
    req = run_model(lambda: question(view, request, fields, start_day))
    return Asked(view, req, loaded.forecaster, loaded.model_id, state, user)
