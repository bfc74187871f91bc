"""SMART backend services: a clinic system proves who it is with a JWT it signs with its own
private key (RS384 or ES384; the public key registered beforehand as a JWK Set), and gets the
service's short-lived bearer token for the therapist it acts for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt

__all__ = ["ALGORITHMS", "ASSERTION_TYPE", "MAX_LIFETIME", "Assertion", "ClientAuthError",
           "check_jwks", "verify_assertion"]

ALGORITHMS = ("RS384", "ES384")  # what the SMART backend-services profile requires
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME = timedelta(minutes=5)  # an assertion may not live longer than this
TOKEN_PATH = "/fhir/auth/token"


class ClientAuthError(ValueError):
    """A client assertion that does not prove the client (OAuth's invalid_client)."""


@dataclass(frozen=True)
class Assertion:
    """A verified client assertion: who sent it, its id and when it expires."""

    client_id: str
    jti: str
    expires: datetime


def check_jwks(jwks: dict[str, Any]) -> list[str]:
    """The key ids of a JWK Set a client may register: public RSA or EC keys, each with a kid
    (ValueError naming the first that is not)."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValueError("a JWK Set: {\"keys\": [...]} with at least one public key")
    kids = []
    for i, key in enumerate(keys):
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC") or not key.get("kid"):
            raise ValueError(f"keys[{i}]: an RSA or EC public key with a kid")
        if "d" in key:
            raise ValueError(f"keys[{i}]: a private key; register only the public part")
        try:
            jwt.PyJWK(key)
        except jwt.PyJWTError as exc:
            raise ValueError(f"keys[{i}]: {exc}") from None
        kids.append(str(key["kid"]))
    return kids


def verify_assertion(token: str, jwks_of: Any, host: str, now: datetime) -> Assertion:
    """The client a signed assertion proves: iss = sub = a registered client, signed with one
    of its keys by RS384 or ES384, for this server's token endpoint, unexpired and living at
    most MAX_LIFETIME. `jwks_of(client_id)` gives a client's JWK Set (None if unknown)."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ClientAuthError("the client assertion is not a JWT") from None
    if header.get("alg") not in ALGORITHMS:
        raise ClientAuthError(f"sign the assertion with {' or '.join(ALGORITHMS)}")
    client_id = claims.get("iss")
    jwks = jwks_of(client_id) if isinstance(client_id, str) else None
    if jwks is None or claims.get("sub") != client_id:
        raise ClientAuthError("unknown client (iss and sub must be a registered client_id)")
    key = next((k for k in jwks["keys"] if k.get("kid") == header.get("kid")), None)
    if key is None:
        raise ClientAuthError("no registered key has the assertion's kid")
    aud = claims.get("aud")
    if not isinstance(aud, str) or urlsplit(aud).path != TOKEN_PATH \
            or urlsplit(aud).netloc != host:
        raise ClientAuthError(f"aud must be this server's token endpoint ({TOKEN_PATH})")
    try:
        verified = jwt.decode(token, jwt.PyJWK(key, header["alg"]).key,
                              algorithms=[header["alg"]], audience=aud,
                              options={"require": ["exp", "jti", "iss", "sub", "aud"]})
    except jwt.PyJWTError as exc:
        raise ClientAuthError(f"the assertion does not verify: {exc}") from None
    expires = datetime.fromtimestamp(int(verified["exp"]), UTC)
    if expires > now + MAX_LIFETIME:
        raise ClientAuthError("the assertion may live at most 5 minutes")
    return Assertion(str(client_id), str(verified["jti"])[:200], expires)
