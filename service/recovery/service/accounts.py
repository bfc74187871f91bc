"""Account records: create, change, retire and find users. Shared by the API's routes and
`recovery users`; refusals are domain errors (errors.py), not HTTP responses."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from recovery.service.auth import Role, hash_password
from recovery.service.errors import ConflictError, FieldError, NotFoundError
from recovery.service.schemas import UserIn
from recovery.service.tables import Patient, User

__all__ = ["RETIRED_PREFIX", "by_name", "create", "retire", "retired", "revise"]

RETIRED_PREFIX = "deleted-"  # a deleted account's username: deleted-<id>, reserved


def create(s: Session, body: UserIn) -> User:
    """Shared by the API and `recovery users create`."""
    if s.scalars(select(User).where(User.username == body.username)).first():
        raise ConflictError("username: this username is taken")
    if body.role == Role.patient:
        if body.patient_id is None or s.get(Patient, body.patient_id) is None:
            raise FieldError("patient_id", "a patient account needs the id of an existing "
                                           "patient record")
    elif body.patient_id is not None:
        raise FieldError("patient_id", "only patient accounts link to a record")
    user = User(username=body.username, password_hash=hash_password(body.password),
                role=body.role.value, patient_id=body.patient_id)
    s.add(user)
    s.flush()
    return user


def retired(user: User) -> bool:
    """Whether the account was deleted (deleted accounts stay deleted)."""
    return user.username == f"{RETIRED_PREFIX}{user.id}"


def revise(user: User, password: str | None = None, active: bool | None = None) -> None:
    """Change a password and/or the active flag; either revokes every token of the user.
    A deleted account cannot be changed back into a working one."""
    if retired(user) and (password is not None or active):
        raise ConflictError(f"user {user.id} was deleted; a deleted account cannot be "
                            "re-enabled or given a password (create a new one)")
    if password is not None:
        user.password_hash = hash_password(password)
    if active is not None:
        user.active = active
    user.token_version += 1


def retire(user: User) -> None:
    """Delete an account for good: disabled, tokens revoked, username freed for reuse (its
    new name, deleted-<id>, is reserved: no one else can hold it)."""
    user.active = False
    user.token_version += 1
    user.username = f"{RETIRED_PREFIX}{user.id}"


def by_name(s: Session, username: str) -> User:
    """The user with this username (for the CLI); NotFoundError otherwise."""
    user = s.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"no user {username!r}")  # the CLI only: its own user's input
    return user
