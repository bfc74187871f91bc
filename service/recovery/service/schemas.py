"""Request and response bodies of the HTTP API (the forecast JSON lives in model.requests)."""

from __future__ import annotations

import copy
import datetime as dt
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from recovery.engine.refit_spec import RefitSpec
from recovery.model import KindName
from recovery.model.requests import (
    NO_CONTROL,
    BookingRequest,
    BookingResponse,
    Covariates,
    ExplainRequest,
    ExplainResponse,
    ForecastRequest,
    OptimiseRequest,
    Price,
    ScheduleSpec,
    Score,
)
from recovery.service.auth import Role

__all__ = [
    "AccountIn",
    "AuditOut",
    "BatchResult",
    "BookingIn",
    "BookingOut",
    "CohortOut",
    "EntryOut",
    "ExplainIn",
    "ExplainOut",
    "FhirClientIn",
    "FhirClientOut",
    "FitIn",
    "HistoryOut",
    "JobOut",
    "ModelOut",
    "MonitorOut",
    "MonitorWindow",
    "PasswordIn",
    "PatientForecastIn",
    "PatientIn",
    "PatientOptimiseIn",
    "PatientOut",
    "PatientPatch",
    "PlanIn",
    "PlanOut",
    "ScoreIn",
    "ScoresIn",
    "SessionIn",
    "SessionsIn",
    "TokenOut",
    "UserIn",
    "UserOut",
    "UserPatch",
]

def _utc(d: datetime) -> datetime:
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d


# The database stores naive UTC; the API says so explicitly (RFC 3339 with an offset).
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]

MAX_ID = 2**63 - 1  # the database's integer ids: larger ones are refused, not a 500
ClientId = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                 description="client-chosen id: retrying an upload with it never duplicates "
                             "(without one, the entry's day and value stand in for it)")


def _iso_date(value: object) -> object:
    """A calendar date as JSON sends it, "YYYY-MM-DD" (a number is not a date)."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


def _not_reserved(name: str) -> str:
    if name.lower().startswith("deleted-"):
        raise ValueError("names starting with 'deleted-' are reserved for deleted accounts")
    return name


Username = Annotated[str, Field(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$"),
                     AfterValidator(_not_reserved)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class TokenOut(BaseModel):
    """A bearer token and the user it signs in."""
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserIn(_In):
    """A new account."""
    username: Username
    password: str = Field(min_length=10, max_length=200)
    role: Role = Field(strict=False)  # accept "therapist" from Python callers too
    patient_id: str | None = Field(default=None, description="for role patient: their record")


class UserOut(BaseModel):
    """An account as the API shows it (never its password)."""
    model_config = ConfigDict(from_attributes=True)  # built from its table row
    id: int
    username: str
    role: Role
    patient_id: str | None
    active: bool = True


class PasswordIn(_In):
    """A user changes their own password; every token they hold stops working."""

    current_password: str = Field(max_length=200)
    new_password: str = Field(min_length=10, max_length=200)


class UserPatch(_In):
    """An admin resets a password or disables / re-enables an account (revokes its tokens)."""

    password: str | None = Field(default=None, min_length=10, max_length=200)
    active: bool | None = None


class AuditOut(BaseModel):
    """One audited read or change of a record."""
    at: UtcDatetime
    user_id: int
    role: str
    action: str
    route: str
    patient_id: str | None
    reason: str | None


StartDate = Field(default=None, description="day 0 of the record's calendar (default: today)")
PainSince = Field(default=None, description="when the pain began (YYYY-MM-DD; unknown if "
                  "left out): forecasts run the natural course from it")


class PatientIn(_In):
    """A new patient record."""
    name: str = Field(min_length=1, max_length=120, pattern=NO_CONTROL)
    covariates: Covariates = Field(default_factory=dict)
    start_date: IsoDate | None = StartDate
    pain_since: IsoDate | None = PainSince
    therapist_id: int | None = Field(default=None, description="admins only: the therapist")


class PatientPatch(_In):
    """Changes to a patient record."""
    name: str | None = Field(default=None, min_length=1, max_length=120, pattern=NO_CONTROL)
    covariates: Covariates | None = None
    pain_since: IsoDate | None = PainSince


class AccountIn(_In):
    """A patient's own login, created by their therapist."""

    username: Username
    password: str = Field(min_length=10, max_length=200)


class PatientOut(BaseModel):
    """A patient record as the API shows it."""
    model_config = ConfigDict(from_attributes=True)  # built from its table row
    id: str
    name: str
    covariates: dict[str, float | None]
    therapist_id: int
    created_at: UtcDatetime
    start_date: dt.date = Field(validation_alias=AliasChoices("start_date", "start"))
    pain_since: dt.date | None = None
    login: str | None = Field(default=None, description="the patient's own username, if any "
                              "(therapists' lists only)")


class _Dated(_In):
    """An entry placed by `day` (days since the record's start) or by calendar `date`."""

    day: float | None = Field(default=None, ge=0, le=36_500)
    date: IsoDate | None = Field(default=None, description="instead of day (YYYY-MM-DD)")

    @model_validator(mode="after")
    def _day_or_date(self) -> Self:
        if (self.day is None) == (self.date is None):
            raise ValueError("give either day (days since the record's start) or date "
                             "(YYYY-MM-DD), not both")
        return self


class ScoreIn(_Dated):
    """A pain score (0-10)."""
    score: Score
    client_id: str | None = ClientId


class SessionIn(_Dated):
    """A session of a kind the served model knows."""
    kind: KindName = "massage"
    client_id: str | None = ClientId


class _Batch(_In):
    """Entries to add to a record; a bare JSON list of them is taken as the batch."""

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:
        return {next(iter(cls.model_fields)): data} if isinstance(data, list) else data


class ScoresIn(_Batch):
    """Scores to add to a record."""
    scores: list[ScoreIn] = Field(min_length=1, max_length=1000)


class SessionsIn(_Batch):
    """Sessions to add to a record."""
    sessions: list[SessionIn] = Field(min_length=1, max_length=1000)


class SameDay(BaseModel):
    """Several scores stored on one date: all are kept, forecasts use the last entered."""
    date: dt.date
    day: float
    scores: list[int] = Field(description="in the order they were entered")
    used: int = Field(description="the score forecasts use (the last entered)")


class BatchResult(BaseModel):
    """What an add did: entries stored, and those already there."""
    created: int
    duplicates: int = Field(description="items whose client_id was already stored (retries)")
    same_day: list[SameDay] = Field(default_factory=list, description="dates this add left "
                                    "with more than one score (a warning, not a refusal)")


class EntryOut(BaseModel):
    """One stored score or session, as entered."""

    entry: Literal["score", "session"]
    client_id: str
    day: float
    date: dt.date
    value: str = Field(description="the score, or the session's kind")
    stored_at: UtcDatetime


class HistoryOut(BaseModel):
    """A patient's scores and sessions, and entries the model cannot use."""
    patient_id: str
    start_date: dt.date = Field(description="day 0 of the record's calendar")
    today: float = Field(description="today's day number in the record's calendar")
    pain: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    left_out: list[str] = Field(default_factory=list, description="entries the served model "
                                "cannot use (forecasts leave them out), in plain words")
    same_day: list[SameDay] = Field(default_factory=list, description="dates with more than "
                                    "one score: all kept, forecasts use the last entered")


class PlanIn(_In):
    """A schedule the therapist proposes to this patient (phases or session days)."""

    schedule: ScheduleSpec
    note: str = Field(default="", max_length=500, description="for the patient, in plain words")


class PlanOut(BaseModel):
    """A schedule proposed to a patient."""
    id: str
    name: str
    schedule: dict[str, Any]
    note: str
    created_at: UtcDatetime


def _as_in(request: type[BaseModel], name: str) -> Any:
    """`request`'s own field `name` (type, bounds, default, description) for a body about a
    stored record, whose patient, history and start day come from the record: defined once,
    in the model's requests."""
    return copy.deepcopy(request.model_fields[name])


def _start_day() -> Any:
    """A record's start day: optional, the rule of recovery.service.questions by default."""
    return Field(default=None, ge=0, le=36_500, description="default: the day after the "
                 "record's last entry")


def _record_draws() -> Any:
    """Draws of a question about a stored record (fewer than a stateless forecast's)."""
    return Field(default=1000, ge=100, le=5000, description="predictive draws")


class PatientForecastIn(_In):
    """Forecast a stored patient: ForecastRequest's options; their history comes from the
    database."""

    schedules: list[ScheduleSpec] = _as_in(ForecastRequest, "schedules")
    start_day: float | None = _start_day()
    horizon_days: int = _as_in(ForecastRequest, "horizon_days")
    target_score: float = _as_in(ForecastRequest, "target_score")
    prices: dict[str, Price] | None = Field(default=None, description=(
        "price per session by kind; default: the service's prices"))
    draws: int = _record_draws()
    seed: int = _as_in(ForecastRequest, "seed")
    meaningful_difference: float = _as_in(ForecastRequest, "meaningful_difference")


class PatientOptimiseIn(_In):
    """What an optimisation (or the frontier) for a patient asks for: OptimiseRequest's
    options."""
    kind: str = _as_in(OptimiseRequest, "kind")  # KindName: its checks come with the field
    start_day: float | None = _start_day()
    horizon_days: int = _as_in(OptimiseRequest, "horizon_days")
    target_score: float = _as_in(OptimiseRequest, "target_score")
    level: float = _as_in(OptimiseRequest, "level")
    minimise: str = _as_in(OptimiseRequest, "minimise")
    draws: int = _record_draws()


class CohortOut(BaseModel):
    """A stored cohort."""
    model_config = ConfigDict(from_attributes=True)  # built from its table row
    id: str
    name: str
    fingerprint: str
    n_patients: int
    n_sessions: int
    n_scores: int
    created_at: UtcDatetime


class FitIn(RefitSpec):
    """A refit to queue: the cohort, and the spec `recovery fit` takes as options."""
    cohort_id: str = Field(min_length=1, max_length=32)


class JobOut(BaseModel):
    """A refit job and its progress."""
    model_config = ConfigDict(from_attributes=True)  # built from its table row
    id: str
    cohort_id: str
    status: str
    progress: float
    message: str
    attempts: int
    model_id: str | None
    params: dict[str, Any]
    created_at: UtcDatetime
    finished_at: UtcDatetime | None
    diagnostics: dict[str, Any] | None = None


class ModelOut(BaseModel):
    """A model version: diagnostics, evaluation, and whether it is served."""
    model_config = ConfigDict(from_attributes=True)  # built from its table row
    id: str
    passed: bool
    served: bool = False
    diagnostics: dict[str, Any]
    evaluation: dict[str, Any] | None
    cohort_id: str | None
    created_at: UtcDatetime
    narrow_bands: str | None = Field(default=None, description=(
        "set when its bands held too few held-out scores: then it is served only when "
        "promoted with accept_narrow_bands"))


class ExplainIn(_In):
    """Why the forecast of one schedule looks as it does, from the record's start to the
    horizon; the forecast starts the day after the record's last entry."""

    schedule: ScheduleSpec = _as_in(ExplainRequest, "schedule")
    horizon_days: int = _as_in(ExplainRequest, "horizon_days")
    draws: int = _as_in(ExplainRequest, "draws")
    seed: int = _as_in(ExplainRequest, "seed")


class ExplainOut(ExplainResponse):
    """An explanation of a patient's forecast, on the record's calendar."""
    start_date: dt.date = Field(description="the record's day 0")


class BookingIn(_In):
    """If sessions stop today: when pain comes back, and by when to book the next session."""

    kind: str = _as_in(BookingRequest, "kind")  # KindName: its checks come with the field
    target_score: float = _as_in(BookingRequest, "target_score")
    level: float = _as_in(BookingRequest, "level")
    lost_fraction: float = _as_in(BookingRequest, "lost_fraction")
    window_days: int = _as_in(BookingRequest, "window_days")
    follow_days: int = _as_in(BookingRequest, "follow_days")
    draws: int = _as_in(BookingRequest, "draws")
    seed: int = _as_in(BookingRequest, "seed")


class BookingOut(BookingResponse):
    """When to book a patient's next session, on the record's calendar."""
    start_date: dt.date = Field(description="the record's day 0")
    book_by_date: dt.date | None
    median_return_date: dt.date | None


class MonitorWindow(BaseModel):
    """The served model's forecasts against the scores entered after them, in one window."""

    label: str
    scores: int
    patients: int
    coverage_50: float
    coverage_90: float
    crps: float = Field(description="mean quantile score (a CRPS approximation), NRS points")


class MonitorOut(BaseModel):
    """Drift of the served model: by week and by therapist, the recent window, and a flag."""

    model_version: str
    scores: int
    weeks: list[MonitorWindow]
    therapists: list[MonitorWindow]
    recent: MonitorWindow | None
    reference_50: float = Field(description="the 50 % bands' coverage on held-out patients")
    reference_90: float = Field(description="the 90 % bands' coverage on held-out patients")
    judged: bool = Field(description="the recent window holds enough scores and patients to "
                         "judge")
    alert: bool
    refit_suggested: bool
    reasons: list[str]


class FhirClientIn(_In):
    """A clinic system that will sign in with its own key (SMART backend services)."""

    client_id: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = Field(min_length=1, max_length=120, pattern=NO_CONTROL)
    therapist_id: int = Field(ge=1, le=MAX_ID, description="the therapist it acts for")
    jwks: dict[str, Any] = Field(description="its public keys as a JWK Set (RSA or EC, each "
                                             "with a kid)")


class FhirClientOut(BaseModel):
    """A registered clinic system (its public keys' ids, never the keys' use)."""

    model_config = ConfigDict(from_attributes=True)
    client_id: str = Field(validation_alias="id")
    name: str
    therapist_id: int = Field(validation_alias="user_id")
    active: bool
    key_ids: list[str] = []
