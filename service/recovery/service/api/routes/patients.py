"""Patient records: scores and sessions (idempotent batch upload), history, forecasts."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import delete, select

from recovery.model import (
    Forecaster,
    ForecastRequest,
    ForecastResponse,
    OptimiseRequest,
    OptimiseResponse,
    optimise,
)
from recovery.service.accounts import create, retire
from recovery.service.api.deps import (
    BUSY,
    COMMON_RESPONSES,
    NOT_YOURS,
    CurrentUser,
    DbSession,
    State,
    Therapist,
    audit,
    check_covariates,
    patient_for,
    refuse_unknown_kinds,
    require,
    served,
)
from recovery.service.api.questions import ask
from recovery.service.auth import Role
from recovery.service.errors import FieldError, ForbiddenError
from recovery.service.questions import record_view
from recovery.service.record_calendar import calendar_of
from recovery.service.records import (
    delete_entry,
    insert_new,
    placed,
    same_day,
)
from recovery.service.schemas import (
    AccountIn,
    BatchResult,
    EntryOut,
    HistoryOut,
    PatientForecastIn,
    PatientIn,
    PatientOptimiseIn,
    PatientOut,
    PatientPatch,
    ScoresIn,
    SessionsIn,
    UserIn,
    UserOut,
)
from recovery.service.tables import (
    ForecastRow,
    PainRow,
    Patient,
    PatientIdentifier,
    PlanRow,
    SessionRow,
    User,
)

router = APIRouter(prefix="/v1/patients", tags=["patients"], responses=COMMON_RESPONSES)


@router.post("", response_model=PatientOut, status_code=201)
def create_patient(body: PatientIn, s: DbSession, user: Therapist, state: State) -> PatientOut:
    """A therapist creates a record for one of their patients."""
    if body.therapist_id not in (None, user.id):
        raise ForbiddenError("therapists create their own patients")
    check_covariates(state, body.covariates)
    today = state.settings.today()
    if body.start_date is not None and body.start_date > today:
        raise FieldError("start_date",
                         f"the record cannot start in the future ({body.start_date})")
    if body.pain_since is not None and body.pain_since > today:
        raise FieldError("pain_since", "pain cannot begin in the future")
    p = Patient(name=body.name, covariates=body.covariates, therapist_id=user.id,
                start_date=body.start_date or today, pain_since=body.pain_since)
    s.add(p)
    s.flush()
    audit(s, user, p.id, "write")
    return PatientOut.model_validate(p)


@router.get("", response_model=list[PatientOut])
def list_patients(s: DbSession, user: Annotated[User, Depends(require(Role.therapist,
                                                                      Role.patient))]
                  ) -> list[PatientOut]:
    """Therapists: their patients. Patients: their own record."""
    q = select(Patient).order_by(Patient.created_at)
    q = (q.where(Patient.therapist_id == user.id) if user.role == Role.therapist
         else q.where(Patient.id == user.patient_id))
    patients = list(s.scalars(q))
    for p in patients:
        audit(s, user, p.id, "read")
    logins = {pid: name for pid, name in s.execute(select(User.patient_id, User.username)
              .where(User.patient_id.in_([p.id for p in patients]), User.active))
              } if user.role == Role.therapist else {}
    return [PatientOut.model_validate(p).model_copy(update={"login": logins.get(p.id)})
            for p in patients]


@router.patch("/{patient_id}", response_model=PatientOut, responses=NOT_YOURS)
def patch_patient(patient_id: str, body: PatientPatch, s: DbSession, user: Therapist,
                  state: State) -> PatientOut:
    """Correct a record's name or covariates (a covariate sent as null is cleared)."""
    p = patient_for(s, user, patient_id, write=True)
    if body.name is not None:
        p.name = body.name
    if body.covariates is not None:
        merged = {**p.covariates, **body.covariates}
        check_covariates(state, merged)
        p.covariates = {k: v for k, v in merged.items() if v is not None}
    if body.pain_since is not None:
        if body.pain_since > state.settings.today():
            raise FieldError("pain_since", "pain cannot begin in the future")
        p.pain_since = body.pain_since
    return PatientOut.model_validate(p)


@router.delete("/{patient_id}", status_code=204, responses=NOT_YOURS)
def delete_patient(patient_id: str, s: DbSession, user: Therapist) -> Response:
    """Remove a record with its diary, sessions, plans and forecasts; the patient's logins are
    deleted too. The audit trail keeps every access, and this removal."""
    p = patient_for(s, user, patient_id, write=True)
    for table in (PainRow, SessionRow, PlanRow, ForecastRow, PatientIdentifier):
        s.execute(delete(table).where(table.patient_id == patient_id))
    for login in s.scalars(select(User).where(User.patient_id == patient_id)):
        retire(login)
        login.patient_id = None
    s.delete(p)
    audit(s, user, patient_id, "delete")
    return Response(status_code=204)


@router.post("/{patient_id}/account", response_model=UserOut, status_code=201,
             responses={**NOT_YOURS, 409: {"description": "username taken"}})
def create_account(patient_id: str, body: AccountIn, s: DbSession, user: Therapist) -> UserOut:
    """The patient's therapist creates the patient's own login, linked to this record."""
    patient_for(s, user, patient_id, write=True)
    created = create(s, UserIn(username=body.username, password=body.password,
                               role=Role.patient, patient_id=patient_id))
    return UserOut(id=created.id, username=created.username, role=Role.patient,
                   patient_id=patient_id)


@router.delete("/{patient_id}/scores/{client_id}", status_code=204, responses=NOT_YOURS)
def delete_score(patient_id: str, client_id: str, s: DbSession, user: CurrentUser) -> Response:
    """Remove a wrong diary score (by the client id it was sent with)."""
    patient_for(s, user, patient_id, write=True)
    delete_entry(s, PainRow, patient_id, client_id)
    return Response(status_code=204)


@router.delete("/{patient_id}/sessions/{client_id}", status_code=204, responses=NOT_YOURS)
def delete_session(patient_id: str, client_id: str, s: DbSession, user: Therapist
                   ) -> Response:
    """Remove a session recorded by mistake (by the client id it was sent with)."""
    patient_for(s, user, patient_id, write=True)
    delete_entry(s, SessionRow, patient_id, client_id)
    return Response(status_code=204)


@router.get("/{patient_id}", response_model=PatientOut, responses=NOT_YOURS)
def get_patient(patient_id: str, s: DbSession, user: CurrentUser) -> PatientOut:
    """A patient record (read audited)."""
    return PatientOut.model_validate(patient_for(s, user, patient_id))


@router.post("/{patient_id}/scores", response_model=BatchResult, responses=NOT_YOURS)
def add_scores(patient_id: str, body: ScoresIn, s: DbSession, user: CurrentUser,
               state: State) -> BatchResult:
    """Diary scores, by day or date; a retried batch (same client_ids) is stored once."""
    patient = patient_for(s, user, patient_id, write=True)
    days = placed(patient, body.scores, "scores", state.settings.today())
    rows = [{"patient_id": patient_id, "day": d, "score": x.score,
             "client_id": x.client_id or f"auto:score:{d:g}:{x.score}"}
            for d, x in zip(days, body.scores, strict=True)]
    done = insert_new(s, PainRow, rows)
    done.same_day = same_day(s, patient, days)
    return done


@router.post("/{patient_id}/sessions", response_model=BatchResult, responses=NOT_YOURS)
def add_sessions(patient_id: str, body: SessionsIn, s: DbSession, user: Therapist,
                 state: State) -> BatchResult:
    """Sessions given (therapists only); retried batches are stored once. Only kinds the
    served model knows are taken, so no entry can leave the record unforecastable."""
    patient = patient_for(s, user, patient_id, write=True)
    refuse_unknown_kinds(state, [(("sessions", i, "kind"), x.kind)
                                 for i, x in enumerate(body.sessions)])
    days = placed(patient, body.sessions, "sessions", state.settings.today())
    rows = [{"patient_id": patient_id, "day": d, "kind": x.kind,
             "client_id": x.client_id or f"auto:{x.kind}:{d:g}"}
            for d, x in zip(days, body.sessions, strict=True)]
    return insert_new(s, SessionRow, rows)


@router.get("/{patient_id}/history", response_model=HistoryOut, responses=NOT_YOURS)
def history(patient_id: str, s: DbSession, user: CurrentUser, state: State) -> HistoryOut:
    """The record's diary and sessions (days since its start date), and what forecasts leave
    out."""
    patient = patient_for(s, user, patient_id)
    view = record_view(s, patient, served(state).forecaster.kinds, state.settings.today())
    return HistoryOut(patient_id=patient_id, start_date=view.calendar.start, today=view.today,
                      pain=[p.model_dump() for p in view.history.pain],
                      sessions=[x.model_dump() for x in view.history.sessions],
                      left_out=view.left_out,
                      same_day=same_day(s, patient))


@router.get("/{patient_id}/entries", response_model=list[EntryOut], responses=NOT_YOURS)
def entries(patient_id: str, s: DbSession, user: CurrentUser,
            limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[EntryOut]:
    """The record's latest entries as stored, each with the client id that removes it."""
    on = calendar_of(patient_for(s, user, patient_id)).date_of
    rows: list[EntryOut] = []
    tables: tuple[tuple[Any, Any, Literal["score", "session"]], ...] = (
        (PainRow, PainRow.score, "score"), (SessionRow, SessionRow.kind, "session"))
    for table, value, what in tables:
        q = (select(table.client_id, table.day, value, table.created_at)
             .where(table.patient_id == patient_id).order_by(table.id.desc()).limit(limit))
        rows += [EntryOut(entry=what, client_id=c, day=d, date=on(d),
                          value=str(v), stored_at=t) for c, d, v, t in s.execute(q)]
    return sorted(rows, key=lambda e: e.stored_at, reverse=True)[:limit]


@router.post("/{patient_id}/forecast", response_model=ForecastResponse,
             responses={**NOT_YOURS, **BUSY})
def forecast_patient(patient_id: str, body: PatientForecastIn, s: DbSession, user: CurrentUser,
                     state: State) -> ForecastResponse:
    """Forecast a stored patient under the given schedules; the forecast is kept for audit.
    Sessions of kinds the served model does not know are left out, and the response says so."""
    asked = ask(s, user, state, patient_id, ForecastRequest, body, body.start_day,
                prices=body.prices if body.prices is not None else state.settings.prices)
    response = asked.answer(Forecaster.forecast, timed=True)
    response.notes += asked.view.left_out
    s.add(ForecastRow(patient_id=patient_id, user_id=user.id, model_version=asked.model_id,
                      request=body.model_dump(mode="json"), response=response.model_dump()))
    return response


@router.get("/{patient_id}/forecasts", responses=NOT_YOURS)
def past_forecasts(patient_id: str, s: DbSession, user: CurrentUser) -> list[dict[str, Any]]:
    """The audit trail: when, by whom, with which model version, asking what."""
    patient_for(s, user, patient_id)
    rows = s.scalars(select(ForecastRow).where(ForecastRow.patient_id == patient_id)
                     .order_by(ForecastRow.created_at.desc()).limit(100))
    return [{"id": r.id, "created_at": r.created_at.replace(tzinfo=UTC).isoformat(),
             "user_id": r.user_id, "model_version": r.model_version, "request": r.request,
             "ranking": r.response.get("ranking")} for r in rows]


@router.post("/{patient_id}/optimise", response_model=OptimiseResponse,
             responses={**NOT_YOURS, **BUSY})
def optimise_patient(patient_id: str, body: PatientOptimiseIn, s: DbSession, user: CurrentUser,
                     state: State) -> OptimiseResponse:
    """The cheapest schedule that keeps this patient's target likely enough."""
    asked = ask(s, user, state, patient_id, OptimiseRequest, body, body.start_day,
                prices=state.settings.prices)
    return asked.answer(optimise)
