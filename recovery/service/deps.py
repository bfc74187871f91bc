"""Per-app state and the dependencies routes share: database session, current user, roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from recovery.service.auth import Role, TokenError, read_token
from recovery.service.db import Database
from recovery.service.metrics import Metrics
from recovery.service.registry import Loaded, Registry
from recovery.service.settings import Settings
from recovery.service.tables import Patient, User

__all__ = ["COMMON_RESPONSES", "AppState", "CurrentUser", "DbSession", "get_state", "patient_for",
           "require"]

# Responses any /v1 route may give, documented on every one of them.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed request body"},
    401: {"description": "not signed in, or the token expired"},
    403: {"description": "your role may not do this"},
    413: {"description": "request body over the size limit"},
}

oauth2 = OAuth2PasswordBearer(tokenUrl="/v1/token", auto_error=False)


@dataclass
class AppState:
    settings: Settings
    db: Database
    registry: Registry
    metrics: Metrics


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.recovery
    return state


State = Annotated[AppState, Depends(get_state)]


def get_session(state: State) -> Iterator[Session]:
    with state.db.session() as s:
        yield s


# scope="function": the transaction commits before the response is sent, so a client is
# never told "stored" about a write that a crash could still lose (tests/test_crash.py).
DbSession = Annotated[Session, Depends(get_session, scope="function")]

UNAUTHORISED = HTTPException(status.HTTP_401_UNAUTHORIZED, "not signed in or token expired",
                             headers={"WWW-Authenticate": "Bearer"})


def current_user(state: State, s: DbSession,
                 token: Annotated[str | None, Depends(oauth2)]) -> User:
    if not token:
        raise UNAUTHORISED
    try:
        user_id, _ = read_token(token, state.settings.secret_key.get_secret_value())
    except TokenError:
        raise UNAUTHORISED from None
    user = s.get(User, user_id)
    if user is None:
        raise UNAUTHORISED
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(*roles: Role) -> Callable[[User], User]:
    """Dependency: the current user, if their role is one of `roles` (else 403)."""
    allowed = {r.value for r in roles}

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {user.role!r} may not do this; needs one of "
                                f"{sorted(allowed)}")
        return user

    return check


def patient_for(s: Session, user: User, patient_id: str, write: bool = False) -> Patient:
    """The patient record if this user may see it (write: may change it); else 404.

    404 rather than 403 so nobody learns which record ids exist.
    """
    patient = s.get(Patient, patient_id)
    visible = patient is not None and (
        (user.role == Role.therapist and patient.therapist_id == user.id)
        or (user.role == Role.patient and user.patient_id == patient.id))
    if not visible or patient is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no patient {patient_id!r} for you")
    if write and user.role not in (Role.therapist, Role.patient):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "read-only")
    return patient


def served(state: AppState) -> Loaded:
    loaded = state.registry.current
    if loaded is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no model loaded yet")
    return loaded
