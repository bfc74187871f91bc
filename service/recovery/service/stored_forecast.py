"""A forecast as the service keeps it (ForecastRow.response), read back as a type rather than by
string keys: the plans' outcome and the drift monitor read the same few fields of it. Fields
added to forecasts later have defaults, so rows stored before them still read."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from recovery.model import QUANTILE_KEYS

__all__ = ["StoredForecast", "StoredSchedule"]


class StoredSchedule(BaseModel):
    """One schedule's stored forecast: its days, planned sessions and band quantiles."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    days: list[float]
    session_days: list[float] = Field(default_factory=list)
    quantiles: dict[str, list[float]]
    in_band: dict[str, list[float]] = Field(default_factory=dict, description=(
        "per day, the probability the forecast gave each band (absent before it was kept)"))

    def at(self, day: float) -> int:
        """The index of `day` among the forecast's days (the nearest inside them)."""
        return int(np.clip(np.searchsorted(self.days, day), 0, len(self.days) - 1))

    def quantiles_on(self, day: float) -> list[float]:
        """The five band quantiles (QUANTILE_KEYS) on `day`."""
        i = self.at(day)
        return [self.quantiles[k][i] for k in QUANTILE_KEYS]

    def sessions_before(self, first: float, day: float) -> int:
        """Planned sessions from the forecast's first day up to (not including) `day`."""
        return sum(first <= d < day for d in self.session_days)


class StoredForecast(BaseModel):
    """A stored forecast response: a forecast per schedule, over the same days."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    forecasts: list[StoredSchedule] = Field(min_length=1)

    @classmethod
    def of(cls, response: dict[str, Any]) -> StoredForecast:
        """Read a stored response (a ForecastResponse as JSON)."""
        return cls.model_validate(response)

    @property
    def days(self) -> list[float]:
        """The forecast's days (every schedule's are the same)."""
        return self.forecasts[0].days

    def covers(self, day: float) -> bool:
        """Whether `day` falls within the forecast's days."""
        return bool(self.days) and self.days[0] <= day <= self.days[-1]

    def bands_on(self, day: float, sessions: list[float]
                 ) -> tuple[list[float], dict[str, float]] | None:
        """The five quantiles on `day` of the schedule whose planned session count up to it is
        closest to the `sessions` given, and the probabilities it gave its bands (None when the
        forecast does not cover the day)."""
        if not self.covers(day):
            return None
        first = self.days[0]
        given = sum(first <= d < day for d in sessions)
        f = min(self.forecasts, key=lambda f: abs(f.sessions_before(first, day) - given))
        i = f.at(day)
        return f.quantiles_on(day), {b: p[i] for b, p in f.in_band.items()}
