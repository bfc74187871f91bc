"""Passwords (Argon2id), short-lived signed bearer tokens, and who may do what.

Roles: therapist (their own patients), patient (their own record), analyst (cohorts, fits,
models; no identified patient records), admin (users; a record only through an audited access
with a reason). Tokens carry the user id, role and the user's token version, and expire after
`token_minutes`; a password change, disabling or deleting the user bumps the version, which
revokes every older token at once. Tokens are never logged.
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
    """What a user may do; every route says which roles it admits."""
    therapist = "therapist"
    patient = "patient"
    analyst = "analyst"
    admin = "admin"


class TokenError(Exception):
    """A bearer token that is missing, malformed, forged or expired."""


def hash_password(password: str) -> str:
    """Argon2 hash of a password."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    """Constant work whether or not the user exists (no username probing by timing)."""
    if hashed is None:
        _hasher.verify(password, _DUMMY)
        return False
    return _hasher.verify(password, hashed)


def issue_token(user_id: int, role: str, version: int, secret: str, minutes: int) -> str:
    """A signed, short-lived token; the version lets every token of a user be revoked."""
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "role": role, "ver": version, "iat": now,
              "exp": now + timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, secret: str) -> tuple[int, int]:
    """(user id, token version) from a valid token; TokenError otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub", "role", "ver"]})
        return int(claims["sub"]), int(claims["ver"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise TokenError("invalid or expired token") from exc
