"""Passwords (Argon2id), short-lived signed bearer tokens, and who may do what.

Roles: therapist (their own patients), patient (their own record), analyst (cohorts, fits,
models; no identified patient records), admin (users). Tokens carry the user id and role and
expire after `token_minutes`; they are never logged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
from pwdlib import PasswordHash

__all__ = ["Role", "TokenError", "hash_password", "issue_token", "read_token",
           "verify_password"]

_hasher = PasswordHash.recommended()  # Argon2id with current parameters
_DUMMY = _hasher.hash("timing-equaliser")
ALGORITHM = "HS256"


class Role(StrEnum):
    therapist = "therapist"
    patient = "patient"
    analyst = "analyst"
    admin = "admin"


class TokenError(Exception):
    """A bearer token that is missing, malformed, forged or expired."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    """Constant work whether or not the user exists (no username probing by timing)."""
    if hashed is None:
        _hasher.verify(password, _DUMMY)
        return False
    return _hasher.verify(password, hashed)


def issue_token(user_id: int, role: str, secret: str, minutes: int) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "role": role, "iat": now,
              "exp": now + timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, secret: str) -> tuple[int, str]:
    """(user id, role) from a valid token; TokenError otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub", "role"]})
        return int(claims["sub"]), str(claims["role"])
    except (jwt.PyJWTError, ValueError) as exc:
        raise TokenError("invalid or expired token") from exc
