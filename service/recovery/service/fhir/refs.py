"""Identifiers and references as R4 writes them: canonical `system|value` (with `|` and backslash
escaped as FHIR search escapes them, so `urn:a|b`+`c` and `urn:a`+`b|c` differ), search
tokens, the request URLs of Bundle entries, and the stable client ids of entries."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

__all__ = ["Ref", "Target", "canonical", "client_id", "parse_token", "parse_url"]

_SPLIT = re.compile(r"(?<!\\)((?:\\\\)*)\|")  # a | not escaped by an odd run of backslashes
TYPES = ("Patient", "Observation", "Procedure", "RiskAssessment", "CarePlan")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def canonical(system: str, value: str) -> str:
    """One identifier as `system|value`, each part escaped."""
    return f"{_escape(system)}|{_escape(value)}"


def parse_token(token: str) -> tuple[str | None, str]:
    """A search token `system|value` (or `value` alone, any system) as (system, value)."""
    m = _SPLIT.search(token)
    if m is None:
        return None, _unescape(token)
    cut = m.end() - 1
    return _unescape(token[:cut]), _unescape(token[cut + 1:])


def client_id(key: str) -> str:
    """The stored client id standing for an entry's identity (same key, same entry)."""
    return "fhir-" + hashlib.sha256(key.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Ref:
    """Whom an entry points at: a Patient entry of the Bundle (its index among them), a stored
    record (its id) or an identifier (canonical)."""

    kind: Literal["entry", "record", "identifier"]
    value: str


@dataclass(frozen=True)
class Target:
    """What a request URL names: a type and an id (`Observation/score-4`) or an identifier
    (`Observation?identifier=s|v`), or just a type (`Observation`)."""

    type: str
    id: str | None = None
    identifier: str | None = None  # canonical, when `?identifier=` names exactly one system


def parse_url(url: str, base: str) -> Target | None:
    """A Bundle entry's request.url (relative, or absolute on this server); None if it is
    not one of the forms above."""
    if url.startswith(base + "/"):
        url = url[len(base) + 1:]
    path, _, query = url.partition("?")
    parts = path.strip("/").split("/")
    if parts[0] not in TYPES or len(parts) > 2:
        return None
    if len(parts) == 2:
        return Target(parts[0], id=parts[1]) if parts[1] and not query else None
    if not query:
        return Target(parts[0])
    name, _, token = query.partition("=")
    system, value = parse_token(unquote(token))
    if name != "identifier" or system is None or not value or "&" in token:
        return None
    return Target(parts[0], identifier=canonical(system, value))
