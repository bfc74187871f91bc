"""Sign-in (OAuth2 password flow), the current user, and user administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from recovery.service.auth import Role, hash_password, issue_token, verify_password
from recovery.service.deps import COMMON_RESPONSES, CurrentUser, DbSession, State, require
from recovery.service.schemas import TokenOut, UserIn, UserOut
from recovery.service.tables import Patient, User

router = APIRouter(prefix="/v1", tags=["auth"], responses=COMMON_RESPONSES)


@router.post("/token", response_model=TokenOut, responses={401: {"description": "bad login"}})
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], state: State, s: DbSession
          ) -> TokenOut:
    """Exchange username and password for a short-lived bearer token."""
    user = s.scalars(select(User).where(User.username == form.username)).first()
    if not verify_password(form.password, user.password_hash if user else None) or not user:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password",
                            headers={"WWW-Authenticate": "Bearer"})
    minutes = state.settings.token_minutes
    return TokenOut(access_token=issue_token(user.id, user.role,
                                             state.settings.secret_key.get_secret_value(),
                                             minutes), expires_in=60 * minutes)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return _out(user)


@router.post("/users", response_model=UserOut, status_code=201,
             responses={409: {"description": "username taken"}})
def create_user(body: UserIn, s: DbSession,
                _: Annotated[User, Depends(require(Role.admin))]) -> UserOut:
    """Admins create accounts; a patient account is linked to its record."""
    return _out(create(s, body))


@router.get("/users", response_model=list[UserOut])
def list_users(s: DbSession, _: Annotated[User, Depends(require(Role.admin))]) -> list[UserOut]:
    return [_out(u) for u in s.scalars(select(User).order_by(User.id))]


def create(s: Session, body: UserIn) -> User:
    """Shared by the API and `recovery users create`."""
    if s.scalars(select(User).where(User.username == body.username)).first():
        raise HTTPException(status.HTTP_409_CONFLICT, f"username {body.username!r} is taken")
    if body.role == Role.patient:
        if body.patient_id is None or s.get(Patient, body.patient_id) is None:
            raise HTTPException(422, [
                {"loc": ["body", "patient_id"], "msg": "a patient account needs the id of an "
                 "existing patient record", "type": "value_error"}])
    elif body.patient_id is not None:
        raise HTTPException(422, [
            {"loc": ["body", "patient_id"], "msg": "only patient accounts link to a record",
             "type": "value_error"}])
    user = User(username=body.username, password_hash=hash_password(body.password),
                role=body.role.value, patient_id=body.patient_id)
    s.add(user)
    s.flush()
    return user


def _out(u: User) -> UserOut:
    return UserOut(id=u.id, username=u.username, role=Role(u.role), patient_id=u.patient_id)
