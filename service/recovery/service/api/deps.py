"""Per-app state and the dependencies routes share: database session, current user, roles."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from recovery.model import covariate_problems
from recovery.service.api.errors import run_model
from recovery.service.auth import Role, TokenError, read_token
from recovery.service.db import Database
from recovery.service.errors import ForbiddenError, NotFoundError, Place, refuse_fields
from recovery.service.metrics import Metrics
from recovery.service.registry import Loaded, Registry
from recovery.service.settings import Settings
from recovery.service.tables import AuditRow, Patient, User
from recovery.service.throttle import ForecastGate

__all__ = ["BUSY", "COMMON_RESPONSES", "NOT_YOURS", "Admin", "AppState", "CurrentUser",
           "DbSession",
           "Therapist", "audit", "check_covariates", "gated", "get_state", "patient_for",
           "refuse_unknown_kinds", "require", "settle"]

# Responses any /v1 route may give, documented on every one of them.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed request body"},
    401: {"description": "not signed in, or the token expired"},
    403: {"description": "your role may not do this"},
    413: {"description": "request body over the size limit"},
}

# Routes on one patient's record (patient_for's 404 never says which of the two it was).
NOT_YOURS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such patient, or not yours"}}

# Forecast routes: the per-user rate and the bounded queue (recovery.service.throttle).
BUSY: dict[int | str, dict[str, Any]] = {
    429: {"description": "over your forecasts per minute; see Retry-After"},
    503: {"description": "the forecast queue is full; see Retry-After"},
}

oauth2 = OAuth2PasswordBearer(tokenUrl="/v1/token", auto_error=False)


@dataclass
class AppState:
    """What the routes share: settings, database, registry, metrics and gates."""
    settings: Settings
    db: Database
    registry: Registry
    metrics: Metrics
    gate: ForecastGate


def get_state(request: Request) -> AppState:
    """The application's shared state."""
    state: AppState = request.app.state.recovery
    return state


State = Annotated[AppState, Depends(get_state)]
LOG = logging.getLogger(__name__)
MODEL_NICENESS = 10  # model work's CPU priority below the event loop's (0)


def get_session(state: State) -> Iterator[Session]:
    """The request's session; committed (with its audit rows) before the response is sent.
    A refused or failed request's changes are rolled back, but its audit rows are kept.

    Routes that compute for long commit their reads first (`settle`), so no transaction, and
    on SQLite no lock, is held while they compute."""
    with state.db.sessions() as s:
        try:
            yield s
            s.add_all(s.info.pop("audit", []))
            s.commit()
        except BaseException:
            s.rollback()
            if rows := s.info.pop("audit", []):
                try:
                    s.add_all(rows)
                    s.commit()
                except Exception:  # the request's own error is the one to raise
                    s.rollback()
                    LOG.exception("the audit rows of a failed request could not be written")
            raise


def settle(s: Session) -> None:
    """End the request's transaction before long work; later writes start a new one."""
    s.commit()


# scope="function": the transaction commits before the response is sent, so a client is
# never told "stored" about a write that a crash could still lose (tests/test_crash.py).
DbSession = Annotated[Session, Depends(get_session, scope="function")]

UNAUTHORISED = HTTPException(status.HTTP_401_UNAUTHORIZED, "not signed in or token expired",
                             headers={"WWW-Authenticate": "Bearer"})


def current_user(request: Request, state: State, s: DbSession,
                 token: Annotated[str | None, Depends(oauth2)]) -> User:
    """The signed-in user; their token must carry their current token version.

    Read without the request's transaction (on SQLite, without the write lock), so that no
    lock is held while the body is validated: the route's session starts its transaction
    only when the route first uses it."""
    if not token:
        raise UNAUTHORISED
    try:
        user_id, version = read_token(token, state.settings.secret_key.get_secret_value())
    except TokenError:
        raise UNAUTHORISED from None
    with state.db.reading() as r:
        found = r.get(User, user_id)
        if found is not None:
            r.expunge(found)
    if found is None or not found.active or found.token_version != version:
        raise UNAUTHORISED
    user = s.merge(found, load=False)  # the route's own session, without a query
    request.state.user_id = user.id  # for the request log
    route = getattr(request.scope.get("route"), "path", request.url.path)
    s.info["route"] = f"{request.method} {route}"[:200]
    s.info["reason"] = (request.headers.get("X-Access-Reason") or "").strip()[:300]
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(*roles: Role) -> Callable[[User], User]:
    """Dependency: the current user, if their role is one of `roles` (else 403)."""
    allowed = {r.value for r in roles}

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise ForbiddenError(f"role {user.role!r} may not do this; needs one of "
                                f"{sorted(allowed)}")
        return user

    return check


Therapist = Annotated[User, Depends(require(Role.therapist))]
Admin = Annotated[User, Depends(require(Role.admin))]


def patient_for(s: Session, user: User, patient_id: str, write: bool = False) -> Patient:
    """The patient record if this user may see it (write: may change it), audited; else 404.

    404 rather than 403 so nobody learns which record ids exist. An admin reads a record only
    with an X-Access-Reason header, which the audit trail keeps; admins never write records.
    """
    reason = s.info.get("reason") or None
    if user.role == Role.admin and (write or not reason):
        audit(s, user, patient_id[:32], "denied")
        raise ForbiddenError("admins read a patient's record only with an X-Access-Reason "
                            "header (kept in the audit trail), and never change it")
    patient = s.get(Patient, patient_id)
    visible = patient is not None and (
        (user.role == Role.therapist and patient.therapist_id == user.id)
        or (user.role == Role.patient and user.patient_id == patient.id)
        or user.role == Role.admin)
    if not visible or patient is None:
        audit(s, user, patient_id[:32], "denied")
        raise NotFoundError("patient_id: no such patient for you")
    audit(s, user, patient.id, "write" if write else "read")
    return patient


def audit(s: Session, user: User, patient_id: str | None, action: str) -> None:
    """One audit row, written when the request's transaction commits (never while it computes)."""
    s.info.setdefault("audit", []).append(AuditRow(
        user_id=user.id, role=user.role, action=action, patient_id=patient_id,
        route=s.info.get("route", "?"),
        reason=s.info.get("reason") if user.role == Role.admin else None))


def served(state: AppState) -> Loaded:
    loaded = state.registry.current
    if loaded is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no model loaded yet")
    return loaded


def refuse_unknown_kinds(state: AppState, sent: list[tuple[Place, str]]) -> None:
    """Refuse each (place in the body, kind) the served model does not know, all named."""
    known = served(state).forecaster.kinds
    refuse_fields([(loc, f"unknown session kind; the served model knows {known}")
                   for loc, kind in sent if kind not in known])


def check_covariates(state: AppState, covariates: dict[str, float | None]) -> None:
    """Refuse covariates the served model does not know or outside its configured ranges."""
    problems = covariate_problems(covariates, served(state).forecaster.config)
    refuse_fields([(tuple(field.split(".")), msg) for field, msg in problems])


T = TypeVar("T")


def gated(state: AppState, user_id: int, work: Callable[[], T], timed: bool = False) -> T:
    """Model work inside the user's slot of the forecast gate (429/503 when it is full), its
    refusals as 422s; `timed` work (forecasts) is observed in the forecast-latency metric.
    Work past `forecast_seconds` is answered 503 and its slot freed for the next request."""
    with state.gate.enter(user_id):
        t0 = time.perf_counter()
        result = run_model(lambda: within(state.settings.forecast_seconds, work))
        if timed:
            state.metrics.forecast.observe(time.perf_counter() - t0)
    return result


class Cancelled(BaseException):
    """Raised inside model work that ran past its time limit (never caught by model code,
    which catches Exception at most)."""


def within(seconds: float, work: Callable[[], T]) -> T:
    """`work`'s result, or 503 when it has not finished within `seconds`. Work past its limit
    is stopped: Cancelled is raised in its thread at its next Python step (numpy calls in
    the model's loops each take well under a second), and the slot waits for it to end."""
    out: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            yield_to_requests()
            out.append(work())
        except Cancelled:
            pass
        except BaseException as exc:  # handed to the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="model-work", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        cancel(thread)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"the model did not answer within {seconds:g} s; try a shorter "
                            "horizon or fewer schedules", headers={"Retry-After": "5"})
    if failed:
        raise failed[0]
    return out[0]


def yield_to_requests() -> None:
    """Lower the calling thread's CPU priority (Linux: nice is per thread), so the event loop
    and short requests go first when model work and they want the same core."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), MODEL_NICENESS)


def cancel(thread: threading.Thread, grace: float = 10.0) -> None:
    """Stop `thread` by raising Cancelled in it, and wait up to `grace` seconds for it."""
    deadline = time.monotonic() + grace
    while thread.is_alive() and thread.ident is not None:
        if time.monotonic() > deadline:
            LOG.error("model work did not stop within %g s of its time limit", grace)
            return
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                   ctypes.py_object(Cancelled))
        thread.join(1.0)  # again only if a single call outlasted a second
