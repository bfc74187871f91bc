"""One settings object, read from the environment (prefix RECOVERY_)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MIN_SECRET_BITS", "MIN_SECRET_CHARS", "Settings", "get_settings", "secret_bits"]

MIN_SECRET_CHARS = 32
# a key's entropy as its characters' frequencies estimate it: 32 random hex digits give about
# 90-120 bits, secrets.token_urlsafe(32) about 200; 32 spaces give 0
MIN_SECRET_BITS = 80
MIN_SECRET_DISTINCT = 8


def secret_bits(key: str) -> float:
    """The key's length times the Shannon entropy of its character frequencies, in bits."""
    counts = Counter(key).values()
    return -sum(n * math.log2(n / len(key)) for n in counts)


class Settings(BaseSettings):
    """Service configuration; every field can be set as RECOVERY_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="RECOVERY_", extra="ignore",
                                      hide_input_in_errors=True)  # never echo the key
    database_url: str = "sqlite:///build/recovery.db"
    default_model_dir: Path = Path("data/default_model")
    models_dir: Path = Path("build/models")  # fitted versions live here, one folder each
    cohorts_dir: Path = Path("build/cohorts")  # uploaded cohorts, validated, as CSV
    secret_key: SecretStr = Field(
        default=SecretStr(""), description="HMAC key for bearer tokens; required to serve")
    token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    max_body_bytes: int = Field(default=2_000_000, ge=1000)  # any route but a cohort upload
    max_upload_bytes: int = Field(default=20_000_000, ge=1000)  # a cohort's three files
    # rows per uploaded table: 2,000 patients x 26 weeks of daily scores is 364,000
    max_upload_rows: int = Field(default=500_000, ge=1)
    # sign-in lockout: this many failures within the hour for one username from one client
    # address lock that pair for a minute, doubling with each further such run of failures
    # (the same username from another address still signs in)
    login_max_failures: int = Field(default=10, ge=1)
    # forecasts and optimisations one user may ask for per minute, per server process
    forecasts_per_minute: int = Field(default=120, ge=1)
    # forecasts computed at once per process (each already uses every core), and how many
    # may be admitted (computing or waiting) before the next is told 503 and Retry-After
    forecast_slots: int = Field(default=1, ge=1)
    forecast_queue: int = Field(default=16, ge=1)
    # model work (forecast, optimisation, answer) past this is told 503 and its slot freed
    forecast_seconds: float = Field(default=60.0, gt=0)
    # a refit's sampling stops after this many minutes unless the request sets its own budget
    fit_max_minutes: float = Field(default=120.0, gt=0)
    # refits of cohorts above `fit_subsample_above` patients sample `fit_subsample` of them by
    # NUTS, then update every patient on that population (cost linear in patients)
    fit_subsample: int | None = Field(default=None, ge=5)  # None: about 8,000 scores' worth
    fit_subsample_above: int = Field(default=600, ge=5)
    job_heartbeat_seconds: float = Field(default=10.0, gt=0)
    job_stale_seconds: float = Field(default=120.0, gt=0)
    job_max_attempts: int = Field(default=2, ge=1)
    model_poll_seconds: float = Field(default=5.0, gt=0)
    # Dask scheduler (tcp://host:8786) that refit workers hand fits to; unset: fit in-process.
    engine_address: str | None = None
    # what a session costs, by kind, in `currency` (forecasts and schedule suggestions)
    prices: dict[str, float] = Field(default_factory=lambda: {"massage": 60.0, "physio": 75.0})
    currency: str = Field(default="EUR", min_length=1, max_length=8)
    log_level: str = "INFO"
    # the calendar date the service works on (records' "today", the monitor's weeks); unset:
    # the system's date. Tests and replays of past data set it.
    clock_date: date | None = None
    # addresses of reverse proxies whose X-Forwarded-For names the client (sign-in lockouts
    # count by client address); none by default, so no client can claim another's address
    trusted_proxies: list[str] = Field(default_factory=list)
    # the service's address as its clients reach it (scheme, host, port; no path): FHIR
    # fullUrls, the SMART token endpoint and the `aud` an assertion must name are built from
    # it, never from a request's Host header
    public_url: str = Field(default="http://localhost:8000", pattern=r"^https?://[^/\s]+$")

    @model_validator(mode="after")
    def _long_secret(self) -> Self:
        """A short or guessable key is refused (after validation, so the error never shows
        the key)."""
        key = self.secret_key.get_secret_value()
        if not key:
            return self
        if len(key) < MIN_SECRET_CHARS:
            raise ValueError(f"secret_key must be at least {MIN_SECRET_CHARS} characters (a "
                             "long random string)")
        if len(set(key)) < MIN_SECRET_DISTINCT or secret_bits(key) < MIN_SECRET_BITS:
            raise ValueError(f"secret_key has too little entropy: it needs at least "
                             f"{MIN_SECRET_DISTINCT} distinct characters and about "
                             f"{MIN_SECRET_BITS} bits; use a long random string, such as "
                             "python -c 'import secrets; print(secrets.token_urlsafe(48))'")
        return self

    def today(self) -> date:
        """The service's calendar date."""
        return self.clock_date or date.today()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own Settings instead)."""
    return Settings()
