"""SMART system/ scopes (v1 `read`/`write`/`*` and v2 `cruds` letters) parsed into what a
token may do per resource type; any scope Recovery cannot grant refuses the request."""

from __future__ import annotations

import re

__all__ = ["TYPES", "Grants", "ScopeError", "allows", "parse_scopes"]

TYPES = ("Patient", "Observation", "Procedure", "RiskAssessment", "CarePlan")
_SCOPE = re.compile(r"^system/(\*|[A-Za-z]+)\.(read|write|\*|c?r?u?d?s?)$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
Grants = dict[str, set[str]]  # resource type -> letters of c, r, u, d, s


class ScopeError(ValueError):
    """A scope Recovery does not grant (named by its position, never echoed)."""


def parse_scopes(scope: str) -> Grants:
    """What `scope` grants per resource type; ScopeError for any scope outside system/ on
    Recovery's resource types, or none at all."""
    grants: Grants = {t: set() for t in TYPES}
    words = scope.split()
    if not words:
        raise ScopeError("ask for at least one system/ scope, e.g. system/Observation.rs")
    for n, word in enumerate(words, start=1):
        m = _SCOPE.match(word)
        if m is None or not m.group(2) or (m.group(1) != "*" and m.group(1) not in TYPES):
            raise ScopeError(f"scope {n} is not one Recovery grants: system/<type>.<access> "
                             f"with type * or one of {', '.join(TYPES)} and access read, "
                             "write, * or cruds letters")
        letters = set(_V1.get(m.group(2), m.group(2)))
        for t in TYPES if m.group(1) == "*" else (m.group(1),):
            grants[t] |= letters
    return grants


def allows(grants: Grants, kind: str, letter: str) -> bool:
    """Whether the grants let the token do `letter` (c, r, u, d or s) on `kind`."""
    return letter in grants.get(kind, set())
