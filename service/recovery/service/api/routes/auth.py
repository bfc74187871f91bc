"""Sign-in (OAuth2 password flow) with a lockout, the current user, and user administration:
create, change password, disable, delete (each revokes the user's tokens at once)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from recovery.service.accounts import create, retire, revise
from recovery.service.api.deps import (
    COMMON_RESPONSES,
    Admin,
    CurrentUser,
    DbSession,
    State,
    settle,
)
from recovery.service.auth import Role, hash_password, issue_token, verify_password
from recovery.service.errors import ConflictError, FieldError, NotFoundError
from recovery.service.lockout import locked_for
from recovery.service.schemas import (
    MAX_ID,
    AuditOut,
    PasswordIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
)
from recovery.service.tables import AuditRow, LoginFailure, User, now

router = APIRouter(prefix="/v1", tags=["auth"], responses=COMMON_RESPONSES)
NO_USER: dict[int | str, dict[str, Any]] = {404: {"description": "no such user"}}
UserId = Annotated[int, FastApiPath(ge=1, le=MAX_ID)]


@router.post("/token", response_model=TokenOut,
             responses={401: {"description": "bad login"},
                        429: {"description": "too many failed sign-ins; see Retry-After"}})
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request,
          state: State, s: DbSession) -> TokenOut:
    """Exchange username and password for a short-lived bearer token.

    Repeated failures for one username from one address lock that username's sign-in from that
    address for a while, doubling each time; a locked attempt is refused before the password
    is checked. The same username from another address is not locked, so nobody can lock the
    rightful user out, and nobody behind a shared address locks out the others."""
    client = _client(request)
    _refuse_if_locked(s, form.username[:80], client, state.settings.login_max_failures)
    user = s.scalars(select(User).where(User.username == form.username)).first()
    settle(s)  # no transaction (no SQLite lock) is held while the password hash is checked
    if (not verify_password(form.password, user.password_hash if user else None) or not user
            or not user.active):
        s.add(LoginFailure(username=form.username[:80], client=client))
        # returned, not raised: the request's transaction commits, so the failure is kept
        return JSONResponse({"detail": "wrong username or password"}, 401,  # type: ignore[return-value]
                            headers={"WWW-Authenticate": "Bearer"})
    s.execute(delete(LoginFailure).where(LoginFailure.username == user.username,
                                         LoginFailure.client == client))
    minutes = state.settings.token_minutes
    return TokenOut(access_token=issue_token(user.id, user.role, user.token_version,
                                             state.settings.secret_key.get_secret_value(),
                                             minutes), expires_in=60 * minutes)


def _client(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


def _refuse_if_locked(s: Session, username: str, client: str, max_failures: int) -> None:
    """429 with Retry-After while failed attempts lock this username or address."""
    wait = _lockout(s, username, client, max_failures)
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many failed attempts; try again in {wait} s",
                            headers={"Retry-After": str(wait)})


def _lockout(s: Session, username: str, client: str, max_failures: int) -> int:
    """Seconds this sign-in must wait: the lock of this username from this address."""
    since = now() - timedelta(hours=1)
    s.execute(delete(LoginFailure).where(LoginFailure.at < since))
    n, last = s.execute(select(func.count(), func.max(LoginFailure.at)).where(
        LoginFailure.username == username, LoginFailure.client == client,
        LoginFailure.at >= since)).one()
    return locked_for(n, last, max_failures, now())


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    """The signed-in user."""
    return UserOut.model_validate(user)


@router.post("/me/password", status_code=204, responses={
    401: {"description": "bad password"},
    429: {"description": "too many wrong passwords; see Retry-After"}})
def change_password(body: PasswordIn, user: CurrentUser, s: DbSession, request: Request,
                    state: State) -> Response:
    """Change your own password; every token you hold (this one too) stops working. Wrong
    current passwords count towards the same lockout as failed sign-ins."""
    client = _client(request)
    _refuse_if_locked(s, user.username, client, state.settings.login_max_failures)
    hashed = user.password_hash
    settle(s)
    if not verify_password(body.current_password, hashed):
        s.add(LoginFailure(username=user.username, client=client))
        return JSONResponse({"detail": "the current password is wrong"}, 401)
    user.password_hash = hash_password(body.new_password)
    user.token_version += 1
    return Response(status_code=204)


@router.post("/users", response_model=UserOut, status_code=201,
             responses={409: {"description": "username taken"}})
def create_user(body: UserIn, s: DbSession, _: Admin) -> UserOut:
    """Admins create staff accounts. Patient logins are created by the patient's therapist
    (POST /v1/patients/{id}/account), so an admin cannot reach a record through one."""
    if body.role == Role.patient:
        raise FieldError("role", "patient logins are created by the patient's therapist "
                                 "(POST /v1/patients/{id}/account)")
    return UserOut.model_validate(create(s, body))


@router.get("/users", response_model=list[UserOut])
def list_users(s: DbSession, _: Admin) -> list[UserOut]:
    """Every account."""
    return [UserOut.model_validate(u) for u in s.scalars(select(User).order_by(User.id))]


@router.patch("/users/{user_id}", response_model=UserOut, responses=NO_USER)
def patch_user(user_id: UserId, body: UserPatch, s: DbSession, admin: Admin) -> UserOut:
    """Reset a password or disable / re-enable an account; its tokens are revoked at once."""
    user = _user(s, user_id)
    if body.active is False and user.id == admin.id:
        raise ConflictError("you cannot disable your own account")
    revise(user, password=body.password, active=body.active)
    return UserOut.model_validate(user)


@router.delete("/users/{user_id}", status_code=204, responses=NO_USER)
def delete_user(user_id: UserId, s: DbSession, admin: Admin) -> Response:
    """Delete an account: it can never sign in again and its tokens stop working. The row
    stays (records and the audit trail point at it), so its id is never given to another."""
    user = _user(s, user_id)
    if user.id == admin.id:
        raise ConflictError("you cannot delete your own account")
    retire(user)
    return Response(status_code=204)


@router.get("/audit", response_model=list[AuditOut])
def audit_trail(s: DbSession, _: Admin,
                patient_id: Annotated[str | None, Query(max_length=32)] = None,
                user_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditOut]:
    """Who read or changed which record, newest first."""
    q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if patient_id is not None:
        q = q.where(AuditRow.patient_id == patient_id)
    if user_id is not None:
        q = q.where(AuditRow.user_id == user_id)
    return [AuditOut.model_validate(r, from_attributes=True) for r in s.scalars(q)]


def _user(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id}")
    return user
