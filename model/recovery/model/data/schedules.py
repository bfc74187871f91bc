"""Session schedules: phases of regular sessions (or breaks), explicit session days, presets.

A `Schedule` expands to a `SessionPlan` (sorted session days with their kinds) from a start day.
Phases run back to back; a phase with `every_days=None` is a break of `weeks` weeks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Self

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from recovery.model.errors import ScheduleError

__all__ = ["MAX_PHASES", "MAX_SESSIONS_PER_SCHEDULE", "PRESETS", "Phase", "Schedule",
           "SessionPlan", "TherapySession", "describe", "preset"]

# Cost bounds, checked by arithmetic before anything is expanded: twice a day for three years
# is 2,184 sessions (docs/decisions/0017-no-request-costs-more-than-its-share.md).
MAX_SESSIONS_PER_SCHEDULE = 2_500
MAX_PHASES = 50


def _kind_name(value: object) -> object:
    """Kind names are matched case-insensitively: "Massage " is "massage"."""
    return value.strip().lower() if isinstance(value, str) else value


KindName = Annotated[str, BeforeValidator(_kind_name),
                     Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]


# names: one line of text: no control characters (C0, DEL, C1 with NEL) and no line or
# paragraph separators (U+2028, U+2029), which CSV readers and browsers take as line breaks
NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f" + "\u2028\u2029" + r"]+$"

class TherapySession(BaseModel):
    """One session: its day (fractional allowed) and its kind."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
    day: float = Field(ge=0)
    kind: KindName = "massage"


class Phase(BaseModel):
    """A block of `weeks` weeks with a session every `every_days` days (None: a break)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
    kind: KindName = "massage"
    every_days: float | None = Field(default=None, gt=0, le=365)
    weeks: float = Field(gt=0, le=156)

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        limit = MAX_SESSIONS_PER_SCHEDULE
        if self.every_days is not None and self._span() > self.every_days * limit:  # no division
            raise ValueError(f"every_days: weeks x 7 / every_days is over the limit of "
                             f"{MAX_SESSIONS_PER_SCHEDULE:,} sessions a schedule")
        return self

    def _span(self) -> float:
        return self.weeks * 7.0 - 1e-9

    @property
    def sessions(self) -> int:
        """How many sessions the phase holds, counted without expanding it."""
        if self.every_days is None:
            return 0
        return max(0, math.ceil(self._span() / self.every_days))

    def session_offsets(self) -> np.ndarray:
        """Days of this phase's sessions relative to the phase start."""
        if self.every_days is None:
            return np.empty(0)
        return np.arange(0.0, self.weeks * 7.0 - 1e-9, self.every_days)


class Schedule(BaseModel):
    """Either phases that run back to back, or explicit session days (relative to the start)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
    name: str = Field(default="custom", min_length=1, max_length=80, pattern=NO_CONTROL)
    phases: tuple[Phase, ...] = ()
    session_days: tuple[float, ...] | None = None
    kind: KindName = "massage"  # kind of the explicit session days

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if self.phases and self.session_days is not None:
            raise ValueError("give either phases or session_days, not both")
        if self.session_days is not None and any(d < 0 for d in self.session_days):
            raise ValueError("session_days must be >= 0 (days after the schedule starts)")
        if len(self.phases) > MAX_PHASES:
            raise ValueError(f"phases: more than {MAX_PHASES}")
        if self.sessions > MAX_SESSIONS_PER_SCHEDULE:
            raise ValueError(f"phases: {self.sessions:,} sessions, over the limit of "
                             f"{MAX_SESSIONS_PER_SCHEDULE:,} a schedule")
        return self

    @property
    def sessions(self) -> int:
        """How many sessions the schedule holds, counted without expanding it."""
        if self.session_days is not None:
            return len(self.session_days)
        return sum(p.sessions for p in self.phases)

    def expand(self, start_day: float = 0.0) -> SessionPlan:
        """Session days (absolute, sorted) and kinds when the schedule starts at `start_day`."""
        if self.session_days is not None:
            days = np.sort(np.asarray(self.session_days, dtype=float)) + start_day
            return SessionPlan(days, np.array([self.kind] * len(days), dtype=object))
        parts_d: list[np.ndarray] = []
        parts_k: list[np.ndarray] = []
        t0 = start_day
        for phase in self.phases:
            offs = phase.session_offsets()
            parts_d.append(t0 + offs)
            parts_k.append(np.array([phase.kind] * len(offs), dtype=object))
            t0 += phase.weeks * 7.0
        if not parts_d:
            return SessionPlan(np.empty(0), np.empty(0, dtype=object))
        return SessionPlan(np.concatenate(parts_d), np.concatenate(parts_k))

    @property
    def duration_days(self) -> float:
        """Length of the schedule's phases (0 for explicit days)."""
        return float(sum(p.weeks for p in self.phases)) * 7.0

    def with_kind(self, kind: str) -> Schedule:
        """The same timing with every session of `kind` (presets are kind-agnostic)."""
        phases = tuple(p.model_copy(update={"kind": kind}) for p in self.phases)
        return self.model_copy(update={"phases": phases, "kind": kind})


@dataclass(frozen=True)
class SessionPlan:
    """Expanded schedule: sorted absolute session days and their kinds."""

    days: np.ndarray
    kinds: np.ndarray

    @classmethod
    def of(cls, days: list[float], kind: str) -> SessionPlan:
        """Sessions of one kind on the given days (none: no sessions)."""
        return cls(np.array(days, dtype=float), np.array([kind] * len(days), dtype=str))

    def __len__(self) -> int:
        return len(self.days)

    def until(self, horizon_day: float) -> SessionPlan:
        """Only the sessions before `horizon_day`."""
        keep = self.days < horizon_day
        return SessionPlan(self.days[keep], self.kinds[keep])


def _ph(every: float | None, weeks: float) -> Phase:
    return Phase(every_days=every, weeks=weeks)


# The presets (docs/design.md); a long final phase stands for "and then on".
PRESETS: dict[str, Schedule] = {
    "recovery_then_stop": Schedule(name="recovery_then_stop", phases=(_ph(3.5, 6), _ph(None, 150))),
    "recovery_then_maintenance": Schedule(
        name="recovery_then_maintenance", phases=(_ph(3.5, 6), _ph(21, 150))
    ),
    "weekly_taper": Schedule(
        name="weekly_taper", phases=(_ph(7, 12), _ph(14, 8), _ph(28, 136))
    ),
    "stop_start": Schedule(
        name="stop_start",
        phases=tuple(p for _ in range(8) for p in (_ph(7, 4), _ph(None, 6))),
    ),
    "none": Schedule(name="none", phases=(_ph(None, 156),)),
}


def preset(name: str, kind: str = "massage") -> Schedule:
    """A preset schedule by name, with sessions of `kind`; unknown names list the valid ones."""
    if name not in PRESETS:
        raise ScheduleError(f"unknown schedule preset {name!r}; known presets: {sorted(PRESETS)}")
    return PRESETS[name].with_kind(kind)


def _every(days: float) -> str:
    named = {3.5: "twice a week", 7.0: "weekly", 1.0: "daily"}
    if days in named:
        return named[days]
    if days % 7 == 0:
        return f"every {days / 7:g} weeks"
    return f"every {days:g} days"


def _phase_words(p: Phase, last: bool) -> str:
    if p.every_days is None:
        return "stop" if last else f"a {p.weeks:g}-week break"
    span = "from then on" if last and p.weeks >= 52 else f"for {p.weeks:g} weeks"
    return f"{_every(p.every_days)} {span}"


def describe(schedule: Schedule) -> str:
    """The schedule in plain words ("twice a week for 6 weeks, then stop")."""
    if schedule.session_days is not None:
        n = len(schedule.session_days)
        return f"{n} {schedule.kind} session{'s' * (n != 1)} on chosen days"
    phases = list(schedule.phases)
    if not phases or all(p.every_days is None for p in phases):
        return "no sessions"
    cycle = phases[:2]
    if len(phases) > 2 and phases == cycle * (len(phases) // 2):
        on, off = cycle
        return f"{_phase_words(on, False)}, then a {off.weeks:g}-week break, repeated"
    return ", then ".join(_phase_words(p, i == len(phases) - 1) for i, p in enumerate(phases))
