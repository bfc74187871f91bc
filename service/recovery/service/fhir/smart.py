"""SMART backend services: a clinic system proves who it is with a JWT it signs with its own
private key (RS384 or ES384; the public key registered beforehand as a JWK Set), and gets a
bearer token of at most 5 minutes for the therapist it acts for, carrying its client id and
the system/ scopes granted (fhir/scopes.py), for the FHIR routes only (its `aud` is the FHIR
base, which the /v1 routes' tokens never carry, so /v1 refuses it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from recovery.service.auth import ALGORITHM as TOKEN_ALGORITHM

__all__ = ["ALGORITHMS", "ASSERTION_TYPE", "MAX_LIFETIME", "TOKEN_LIFETIME", "Assertion",
           "ClientAuthError", "SmartToken", "check_jwks", "issue_smart_token", "read_smart_token",
           "verify_assertion"]

ALGORITHMS = ("RS384", "ES384")  # what the SMART backend-services profile requires
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME = timedelta(minutes=5)  # an assertion may not live longer than this
TOKEN_LIFETIME = timedelta(minutes=5)  # a SMART access token lives this long at most
TOKEN_PATH = "/fhir/auth/token"
MAX_KEYS = 10
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
KEY_ALG = {"RSA": "RS384", "EC": "ES384"}


class ClientAuthError(ValueError):
    """A client assertion that does not prove the client (OAuth's invalid_client)."""


@dataclass(frozen=True)
class Assertion:
    """A verified client assertion: who sent it, its id and when it expires."""

    client_id: str
    jti: str
    expires: datetime


def check_jwks(jwks: dict[str, Any]) -> list[str]:
    """The key ids of a JWK Set a client may register: at most MAX_KEYS public keys, RSA of
    2048 bits or more for RS384 or EC on P-384 for ES384, each with a string kid and no
    private member (ValueError naming the first that is not)."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not 0 < len(keys) <= MAX_KEYS:
        raise ValueError(f"a JWK Set: {{\"keys\": [...]}} with 1 to {MAX_KEYS} public keys")
    kids = []
    for i, key in enumerate(keys):
        if not isinstance(key, dict) or key.get("kty") not in KEY_ALG \
                or not isinstance(key.get("kid"), str) or not 0 < len(key["kid"]) <= 200:
            raise ValueError(f"keys[{i}]: an RSA or EC public key with a kid (a string)")
        if any(m in key for m in PRIVATE_MEMBERS):
            raise ValueError(f"keys[{i}]: holds private key members; register only the "
                             "public part")
        if key.get("alg", KEY_ALG[key["kty"]]) != KEY_ALG[key["kty"]]:
            raise ValueError(f"keys[{i}]: an {key['kty']} key signs with "
                             f"{KEY_ALG[key['kty']]} here")
        if key["kty"] == "EC" and key.get("crv") != "P-384":
            raise ValueError(f"keys[{i}]: an EC key for ES384 is on the curve P-384")
        try:
            public = jwt.PyJWK(key).key
        except (jwt.PyJWTError, ValueError, TypeError):
            raise ValueError(f"keys[{i}]: not a valid public key") from None
        if key["kty"] == "RSA" and public.key_size < 2048:
            raise ValueError(f"keys[{i}]: an RSA key of at least 2048 bits")
        kids.append(key["kid"])
    if len(set(kids)) != len(kids):
        raise ValueError("each key needs its own kid")
    return kids


def verify_assertion(token: str, jwks_of: Any, token_url: str, now: datetime) -> Assertion:
    """The client a signed assertion proves: iss = sub = a registered client, signed with one
    of its keys by RS384 or ES384, for this server's token endpoint, unexpired and living at
    most MAX_LIFETIME. `jwks_of(client_id)` gives a client's JWK Set (None if unknown);
    `token_url` is the configured public token endpoint, which `aud` must name (a string or
    an array holding it)."""
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
    auds = aud if isinstance(aud, list) else [aud]
    if token_url not in auds:
        raise ClientAuthError(f"aud must be this server's token endpoint ({token_url})")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or not 0 < exp < (now + MAX_LIFETIME * 2).timestamp():
        raise ClientAuthError("exp must be a time at most 5 minutes ahead")
    try:
        verified = jwt.decode(token, jwt.PyJWK(key, header["alg"]).key,
                              algorithms=[header["alg"]], audience=token_url,
                              options={"require": ["exp", "jti", "iss", "sub", "aud"]})
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
        raise ClientAuthError(f"the assertion does not verify: {type(exc).__name__}"
                              ) from None
    expires = datetime.fromtimestamp(int(verified["exp"]), UTC)
    if expires > now + MAX_LIFETIME:
        raise ClientAuthError("the assertion may live at most 5 minutes")
    return Assertion(str(client_id), str(verified["jti"])[:200], expires)


@dataclass(frozen=True)
class SmartToken:
    """A verified SMART access token: the therapist, token version, client and scopes."""

    user_id: int
    version: int
    client_id: str
    scope: str


def issue_smart_token(user_id: int, version: int, client_id: str, scope: str, audience: str,
                      secret: str, now: datetime) -> str:
    """A signed access token for the FHIR routes (aud = the FHIR base), TOKEN_LIFETIME long."""
    claims = {"sub": str(user_id), "role": "therapist", "ver": version, "client_id": client_id,
              "scope": scope, "aud": audience, "iat": now, "exp": now + TOKEN_LIFETIME}
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def read_smart_token(token: str, audience: str, secret: str) -> SmartToken | None:
    """The SMART token's claims; None if it is not one (a /v1 token, or forged, expired or
    for another audience)."""
    try:
        claims = jwt.decode(token, secret, algorithms=[TOKEN_ALGORITHM], audience=audience,
                            options={"require": ["exp", "sub", "ver", "aud", "client_id",
                                                 "scope"]})
        return SmartToken(int(claims["sub"]), int(claims["ver"]), str(claims["client_id"]),
                          str(claims["scope"]))
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
