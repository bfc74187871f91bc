"""The forecast JSON: request and response models shared by the CLI and the service.

Days are the patient's own calendar (day 0 is any day the clinic chooses; usually the first
visit). Schedules start at `start_day`; explicit `session_days` are absolute days.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from recovery.model.data.schedules import (
    MAX_PHASES,
    MAX_SESSIONS_PER_SCHEDULE,
    NO_CONTROL,
    PRESETS,
    KindName,
    Phase,
    Schedule,
    TherapySession,
)

__all__ = [
    "Comparison",
    "Covariates",
    "ForecastRequest",
    "ForecastResponse",
    "History",
    "OptimiseRequest",
    "OptimiseResponse",
    "PainScore",
    "PatientInfo",
    "Price",
    "ScheduleForecast",
    "ScheduleSpec",
    "Score",
    "Summary",
]

MAX_HORIZON_DAYS = 3 * 365
# Work limits (draws x days x schedules) so that one request cannot exhaust a server.
MAX_FORECAST_CELLS = 6_000_000
MAX_OPTIMISE_CELLS = 400_000
# One budget for every model route: draws x days forecast, summed over every schedule the
# answer forecasts (the frontier's candidates at MAX_OPTIMISE_CELLS each), and sessions per
# request; all checked by arithmetic before any schedule is expanded
# (docs/decisions/0017-no-request-costs-more-than-its-share.md).
CANDIDATES = 64  # at most this many schedules an optimisation or frontier forecasts
MAX_DRAW_DAYS = MAX_OPTIMISE_CELLS * CANDIDATES  # 25.6 M
MAX_SESSIONS_PER_REQUEST = 10_000
BOOKING_TRIES = 14  # booking days tried after the window (predict/booking.py's LOOK_BACK)
QUANTILES = (5, 25, 50, 75, 95)
Day = Annotated[float, Field(ge=0, le=36_500)]
Price = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]


def _whole_number(value: object) -> object:
    """A score sent as 6.0 is the score 6 (7.5 stays refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _yes_no(value: object) -> object:
    """true/false for a yes/no covariate is 1/0."""
    if isinstance(value, dict):
        return {k: float(v) if isinstance(v, bool) else v for k, v in value.items()}
    return value


Score = Annotated[int, BeforeValidator(_whole_number), Field(ge=0, le=10)]
Covariates = Annotated[dict[str, float | None], BeforeValidator(_yes_no)]


class PainScore(BaseModel):
    """One diary score on the 0-10 numeric rating scale."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
    day: Day
    score: Score


class History(BaseModel):
    """A patient's past: scores (days strictly increasing) and sessions (days not decreasing)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
    pain: list[PainScore] = Field(default_factory=list, max_length=5000)
    sessions: list[TherapySession] = Field(default_factory=list, max_length=2000)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        for name, days, strict in (("pain", [p.day for p in self.pain], True),
                                   ("sessions", [s.day for s in self.sessions], False)):
            for i in range(1, len(days)):
                if days[i] < days[i - 1] or (strict and days[i] == days[i - 1]):
                    raise ValueError(
                        f"{name}[{i}]: day {days[i]:g} follows day {days[i - 1]:g}; days must "
                        f"be in {'strictly ' if strict else ''}increasing order")
        return self

    @property
    def last_day(self) -> float:
        """Day of the last score or session (0 for an empty history)."""
        return max([0.0] + [p.day for p in self.pain] + [s.day for s in self.sessions])


class PatientInfo(BaseModel):
    """Covariates by name (see ModelConfig.covariates); missing ones take the centre value."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
    covariates: Covariates = Field(default_factory=dict)
    onset_day: float | None = Field(
        default=None, ge=-36_500, le=36_500,
        description="the day (on the history's calendar; negative: before day 0) the pain "
        "began; the natural course runs from it. None: unknown (a prior over durations)")


MAX_GUIDED_SESSIONS = 60  # sessions a symptom-guided schedule may book within its horizon


class ScheduleSpec(BaseModel):
    """A preset by name (with the kind of its sessions), or phases, or absolute session days,
    or symptom-guided care: a session whenever the forecast says pain has come back."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
    name: str = Field(min_length=1, max_length=80, pattern=NO_CONTROL)
    kind: KindName = "massage"
    phases: list[Phase] | None = Field(default=None, max_length=MAX_PHASES)
    session_days: list[Day] | None = Field(default=None, max_length=2000)
    book_above: float | None = Field(
        default=None, gt=0, lt=10, description="symptom-guided: book a session (of `kind`) on "
        "each day the forecast's expected pain reaches this score, min_gap_days apart")
    min_gap_days: float = Field(default=7.0, ge=1, le=365)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        forms = [self.phases, self.session_days, self.book_above]
        if sum(f is not None for f in forms) > 1:
            raise ValueError("give one of phases, session_days or book_above")
        if all(f is None for f in forms) and self.name not in PRESETS:
            raise ValueError(f"name: unknown preset (and no phases or session_days were "
                             f"given); presets: {sorted(PRESETS)}")
        if self.sessions > MAX_SESSIONS_PER_SCHEDULE:
            raise ValueError(f"phases: {self.sessions:,} sessions, over the limit of "
                             f"{MAX_SESSIONS_PER_SCHEDULE:,} a schedule")
        return self

    @property
    def sessions(self) -> int:
        """How many sessions the schedule holds, counted without expanding it."""
        if self.book_above is not None:
            return MAX_GUIDED_SESSIONS
        if self.session_days is not None:
            return len(self.session_days)
        if self.phases is not None:
            return sum(p.sessions for p in self.phases)
        return PRESETS[self.name].sessions

    @property
    def custom(self) -> bool:
        """Whether the schedule is given in full rather than by preset name."""
        return any(f is not None for f in (self.phases, self.session_days, self.book_above))

    def to_schedule(self, start_day: float) -> Schedule:
        """The Schedule to expand from `start_day` (session_days become relative to it); a
        symptom-guided one has no fixed sessions (the forecast books them: forecast.py)."""
        if self.book_above is not None:
            return Schedule(name=self.name, session_days=(), kind=self.kind)
        if self.session_days is not None:
            rel = tuple(sorted(d - start_day for d in self.session_days))
            return Schedule(name=self.name, session_days=rel, kind=self.kind)
        if self.phases is not None:
            return Schedule(name=self.name, phases=tuple(self.phases))
        return PRESETS[self.name].with_kind(self.kind).model_copy(update={"name": self.name})


class ForecastRequest(BaseModel):
    """What to forecast: a patient, their history, candidate schedules and the horizon."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False,
                              json_schema_extra={"examples": [{
        "patient": {"covariates": {"chronic": 1, "adherence": 0.6, "stress": 6}},
        "history": {"pain": [{"day": 0, "score": 7}, {"day": 3, "score": 6}],
                    "sessions": [{"day": 0, "kind": "massage"}]},
        "schedules": [{"name": "weekly_taper"},
                      {"name": "my plan", "phases": [{"kind": "massage", "every_days": 7,
                                                      "weeks": 4}]},
                      {"name": "dates", "session_days": [30, 37]}],
        "start_day": 28, "horizon_days": 180, "target_score": 3}]})
    patient: PatientInfo = Field(default_factory=PatientInfo)
    history: History = Field(default_factory=History)
    schedules: list[ScheduleSpec] = Field(min_length=1, max_length=12)
    start_day: Day = 0.0
    horizon_days: int = Field(default=180, ge=1, le=MAX_HORIZON_DAYS)
    target_score: float = Field(default=3.0, ge=0, le=10)
    prices: dict[str, Price] = Field(
        default_factory=lambda: {"massage": 60.0, "physio": 75.0},
        description="price per session by kind (kinds not listed cost 0)")
    draws: int = Field(default=1000, ge=100, le=20_000, description="predictive draws")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="random seed")
    meaningful_difference: float = Field(
        default=1.0, gt=0, le=10, description="the smallest difference in mean pain (NRS "
        "points) worth acting on; comparisons say how likely a gap at least this big is")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_start(self.history, self.start_day)
        cells = self.draws * (self.horizon_days + 1) * len(self.schedules)
        if cells > MAX_FORECAST_CELLS:
            raise ValueError(f"draws x (horizon_days + 1) x schedules = {cells:,} is over the "
                             f"limit of {MAX_FORECAST_CELLS:,}; ask for fewer draws or days")
        within_budget(cells, sum(s.sessions for s in self.schedules))
        names = [s.name for s in self.schedules]
        if len(set(names)) != len(names):
            raise ValueError("schedules: each schedule's name must be unique (one is repeated)")
        for i, s in enumerate(self.schedules):
            _check_schedule(f"schedules[{i}]", s, self.start_day, self.horizon_days)
        return self


def within_budget(draw_days: float, sessions: int = 0) -> None:
    """Refuse a request over the one budget of every model route (draw-days and sessions),
    before anything is expanded or drawn."""
    if draw_days > MAX_DRAW_DAYS:
        raise ValueError(f"draws x days forecast = {draw_days:,.0f} is over the limit of "
                         f"{MAX_DRAW_DAYS:,} a request; ask for fewer draws or days")
    if sessions > MAX_SESSIONS_PER_REQUEST:
        raise ValueError(f"schedules: {sessions:,} sessions in all, over the limit of "
                         f"{MAX_SESSIONS_PER_REQUEST:,} a request")


def _check_schedule(where: str, s: ScheduleSpec, start_day: float, horizon_days: int) -> None:
    if s.session_days is not None and any(d < start_day for d in s.session_days):
        raise ValueError(f"{where}.session_days: days before start_day {start_day:g}")
    if s.custom and s.book_above is None and not len(s.to_schedule(start_day).expand(start_day)
                            .until(start_day + horizon_days)):
        raise ValueError(f"{where} has no sessions within the horizon; use the preset 'none' "
                         "for no care")


def _check_start(history: History, start_day: float) -> None:
    last = max([p.day for p in history.pain], default=0.0)
    if start_day < last:
        raise ValueError(f"start_day {start_day:g} is before the last score (day {last:g}); "
                         "forecasts start on or after it")


class Summary(BaseModel):
    """Plain numbers a therapist reads off a forecast."""

    p_target_at_horizon: float = Field(description="P(score <= target on the horizon's last day)")
    p_improvement: float = Field(description="P(expected pain falls >= 30 % or >= 2 points "
                                 "below baseline within the horizon)")
    improvement_day: float | None = Field(description="median day of that improvement "
                                          "(None when under half the draws reach it)")
    improvement_from_now_day: float | None = Field(
        default=None, description="median day expected pain first falls >= 30 % or >= 2 "
        "points below its level on the forecast's first day (None when under half reach it)")
    p_relapse: float | None = Field(description="P(losing half the gain within 8 weeks of the "
                                    "last session in the horizon, if care stops there)")
    mean_pain: float = Field(description="mean predicted score over the horizon")
    sessions: int
    cost: float


class ScheduleForecast(BaseModel):
    """Forecast for one schedule: per-day predictive quantiles and mean of the 0-10 score."""

    name: str
    session_days: list[float]
    session_kinds: list[str]
    days: list[float]
    quantiles: dict[str, list[float]]
    mean: list[float]
    summary: Summary
    in_band: dict[str, list[float]] = Field(default_factory=dict, description=(
        "per day, the model's probability that the whole-point score falls inside the 50 % "
        "and 90 % bands (above 0.5 and 0.9 as scores are whole points)"))


class Comparison(BaseModel):
    """Paired comparison on the same posterior draws: A against B on mean pain."""

    a: str
    b: str
    p_a_better: float = Field(description="P(A gives lower mean pain over the horizon than B)")
    mean_difference: float = Field(description="E[mean pain under A - under B] (NRS)")
    meaningful_difference: float = Field(description="the margin asked for (NRS points)")
    p_a_meaningfully_better: float = Field(
        description="P(mean pain under A is lower than under B by at least the margin)")
    p_b_meaningfully_better: float = Field(
        description="P(mean pain under B is lower than under A by at least the margin)")
    verdict: str = Field(description="the comparison in one plain sentence")


class UpdateInfo(BaseModel):
    """How the patient was conditioned on their history, and how far to trust it."""

    method: Literal["importance", "smc"] = Field(
        description="importance sampling, or tempered SMC when that degenerates")
    stages: int = Field(description="importance stages, or SMC tempering steps")
    ess: float = Field(description="effective posterior draws the forecast rests on "
                       "(importance: Kish's ESS of the weights; SMC: distinct particles)")
    ess_share: float = Field(description="ess as a share of the particles used")
    acceptance: float | None = Field(default=None, description="SMC's Metropolis acceptance")
    low_ess: bool = Field(description="true when ess is below the trust threshold")
    warning: str | None = Field(default=None, description="plain words when low_ess")


class Calibration(BaseModel):
    """How honest this model's bands were on held-out future scores (its evaluation)."""

    coverage_50: float = Field(description="share of held-out scores inside the 50 % bands")
    coverage_90: float = Field(description="share of held-out scores inside the 90 % bands")
    crps: float
    holdout_days: float
    held_out_scores: int

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> Calibration:
        """From an evaluation report (recovery evaluate's report.json)."""
        m = report["methods"]["model"]
        return cls(coverage_50=m["coverage_50"], coverage_90=m["coverage_90"], crps=m["crps"],
                   holdout_days=report["holdout_days"],
                   held_out_scores=report["held_out_scores"])


class ForecastResponse(BaseModel):
    """Forecasts for every schedule, their comparisons and ranking, and provenance."""

    forecasts: list[ScheduleForecast]
    comparisons: list[Comparison]
    ranking: list[str] = Field(description="schedule names, lowest expected mean pain first")
    baseline: float = Field(description="the baseline used for improvement and relapse")
    model_version: str
    update: UpdateInfo = Field(description="how the patient was conditioned on history")
    calibration: Calibration | None = Field(
        default=None, description="the model's measured held-out calibration, when evaluated")
    notes: list[str] = Field(default_factory=list,
                             description="what the forecast left out or assumed, in plain words")


class OptimiseRequest(BaseModel):
    """Find the cheapest schedule that keeps P(score <= target at horizon) >= `level`."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    patient: PatientInfo = Field(default_factory=PatientInfo)
    history: History = Field(default_factory=History)
    kind: KindName = "massage"
    start_day: Day = 0.0
    horizon_days: int = Field(default=84, ge=7, le=MAX_HORIZON_DAYS)
    target_score: float = Field(default=3.0, ge=0, le=10)
    level: float = Field(default=0.8, gt=0, lt=1)
    minimise: str = Field(default="cost", pattern="^(cost|sessions)$")
    prices: dict[str, Price] = Field(default_factory=lambda: {"massage": 60.0, "physio": 75.0})
    draws: int = Field(default=1000, ge=100, le=20_000)
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="random seed")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_start(self.history, self.start_day)
        cells = self.draws * (self.horizon_days + 1)
        if cells > MAX_OPTIMISE_CELLS:
            raise ValueError(f"draws x (horizon_days + 1) = {cells:,} is over the limit of "
                             f"{MAX_OPTIMISE_CELLS:,} (every candidate schedule is forecast)")
        within_budget(cells * CANDIDATES)
        return self


class OptimiseResponse(BaseModel):
    """The chosen schedule (None when no candidate reaches the level) and the candidates."""

    best: ScheduleSpec | None
    best_summary: Summary | None
    candidates: list[dict[str, float | str]]
    model_version: str


class PatientQuestion(BaseModel):
    """One patient and their history, as a forecast takes them (for explain and booking)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    patient: PatientInfo = Field(default_factory=PatientInfo)
    history: History = Field(default_factory=History)
    start_day: Day = 0.0
    draws: int = Field(default=1000, ge=100, le=5000, description="predictive draws")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="random seed")

    @model_validator(mode="after")
    def _after_the_diary(self) -> Self:
        _check_start(self.history, self.start_day)
        return self


class ExplainRequest(PatientQuestion):
    """Why the forecast of one schedule looks as it does."""

    schedule: ScheduleSpec = Field(default_factory=lambda: ScheduleSpec(name="none"))
    horizon_days: int = Field(default=180, ge=1, le=MAX_HORIZON_DAYS)
    since: str = Field(default="the first record", max_length=40,
                       description="how the words name the first record's day, e.g. a date")

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        cells = self.draws * (self.start_day + self.horizon_days + 1)
        if cells > MAX_FORECAST_CELLS:
            raise ValueError(f"draws x (start_day + horizon_days + 1) = {cells:,.0f} is over "
                             f"the limit of {MAX_FORECAST_CELLS:,}; ask for fewer draws or days")
        within_budget(cells, self.schedule.sessions)
        _check_schedule("schedule", self.schedule, self.start_day, self.horizon_days)
        return self


class Band(BaseModel):
    """A curve over days: its mean over the posterior draws and the 5-95 % band."""

    mean: list[float]
    lo: list[float]
    hi: list[float]


class ExplainResponse(BaseModel):
    """Expected pain split into parts over the record and the forecast; the parts' means add
    up to the kernel's expected pain before the forecast and to the forecast's mean in it."""

    days: list[float] = Field(description="days of the record, the forecast's from start_day")
    start_day: float
    parts: dict[str, Band] = Field(description="natural_course (the level), course_relief, "
                                   "short_relief and durable_gain (negative: taken off), "
                                   "soreness (added), recent_scores (the latest scores' pull, "
                                   "forecast days only)")
    total: list[float] = Field(description="the parts' sum")
    improvement: float = Field(description="expected pain at the first record minus at "
                                           "start_day (NRS points; positive: better)")
    shares: dict[str, float] = Field(description="share of that improvement from the natural "
                                     "course, relief (course + short), the durable gain and "
                                     "soreness (negative when it adds pain)")
    relief_fades_days: float | None = Field(
        description="median days until three quarters of today's relief is gone if sessions "
        "stop (None when there is under 0.2 points of relief, or it lasts beyond a year)")
    words: str = Field(description="the explanation in one or two plain sentences")
    model_version: str
    update: UpdateInfo


class BookingRequest(PatientQuestion):
    """If sessions stop now, when does pain come back; and by when to book the next one."""

    kind: KindName = "massage"
    target_score: float = Field(default=3.0, ge=0, le=10)
    level: float = Field(default=0.7, gt=0, lt=1, description="the P(score <= target) to keep")
    lost_fraction: float = Field(default=0.5, gt=0, le=1, description="pain counts as back "
                                 "when this share of the gain (baseline minus today) is lost")
    window_days: int = Field(default=182, ge=14, le=730, description="how far to look ahead")
    follow_days: int = Field(default=28, ge=1, le=182, description="after the booked session, "
                             "how long P(score <= target) must stay at the level")

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        within_budget(self.draws * (self.window_days + 1 + BOOKING_TRIES * (self.follow_days + 1)))
        return self


class BookingResponse(BaseModel):
    """The return of pain after stopping, and the latest day for the next session."""

    days: list[float]
    gain: float = Field(description="baseline minus expected pain on start_day (NRS points)")
    return_level: float | None = Field(description="expected pain that counts as back (None "
                                       "when there is under half a point of gain to lose)")
    p_returned: list[float] | None = Field(description="P(pain is back by each day)")
    median_return_day: float | None
    p_target: list[float] = Field(description="P(score <= target) each day with no sessions")
    book_by_day: float | None = Field(description="the latest day for the next session that "
                                      "keeps P(score <= target) >= level until it and for "
                                      "follow_days after; None when none is needed in the "
                                      "window")
    keeps_level: bool = Field(description="false when no session day tried keeps the level "
                              "(then book_by_day is start_day: as soon as possible)")
    words: str
    model_version: str
    update: UpdateInfo


class FrontierPoint(BaseModel):
    """One schedule of the family: what it costs and where it leaves pain at the horizon."""

    schedule: ScheduleSpec
    sessions: int
    cost: float
    pain_at_horizon: float = Field(description="expected score on the horizon's last day")
    pain_lo: float = Field(description="5 % point of that expectation over the draws")
    pain_hi: float = Field(description="95 % point")
    p_target_at_horizon: float
    on_frontier: bool = Field(description="no other schedule is at most as costly and leaves "
                              "pain lower (or as low and costs less)")


class FrontierResponse(BaseModel):
    """The sessions-vs-pain trade-off over a family of schedules, non-dominated ones marked."""

    points: list[FrontierPoint] = Field(description="sorted by cost (or sessions), then pain")
    minimise: str
    model_version: str
