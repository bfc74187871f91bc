"""Requests refused before any work: bodies over their route's limit (413, whether or not the
client declared a length) and JSON holding numbers or text no field can take (NaN, infinities,
lone surrogates: 422 naming the field)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recovery.service.settings import Settings

__all__ = ["BodyGuard", "first_unencodable"]

# A batch of 1,000 scores or sessions with 64-character client ids is about 110 kB.
RECORD_BATCH = re.compile(r"^/v1/patients/[^/]+/(scores|sessions)$")
RECORD_BATCH_BYTES = 256_000
SIGN_IN_BYTES = 16_000


class _NonFinite(str):
    """NaN, Infinity or -Infinity as written in the JSON."""


class BodyGuard:
    """Buffers the body up to its route's limit, checks it, then hands it on."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    def limit(self, method: str, path: str) -> int:
        """The body limit of a route: uploads get their own."""
        if method == "POST" and path.rstrip("/") == "/v1/cohorts":
            return self.settings.max_upload_bytes
        if RECORD_BATCH.match(path):
            return RECORD_BATCH_BYTES
        if path.rstrip("/") == "/v1/token":
            return SIGN_IN_BYTES
        return self.settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an oversized body with 413 before the route reads it."""
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["method"], scope["path"])
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and b"json" in headers.get(b"content-type", b""):
            bad = first_unencodable(body)
            if bad is not None:
                await JSONResponse({"detail": [bad]}, 422)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def first_unencodable(body: bytes) -> dict[str, Any] | None:
    """The first value JSON-parsed from `body` that no field may hold, as a 422 item."""
    try:
        doc = json.loads(body, parse_constant=_NonFinite)
    except (ValueError, RecursionError):
        return None  # malformed JSON: the route's own parsing says so
    stack: list[tuple[list[Any], Any]] = [([], doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                if _bad_text(k):
                    return _item(path, "text with an unpaired surrogate escape")
                stack.append(([*path, k], v))
        elif isinstance(value, list):
            stack.extend(([*path, i], v) for i, v in enumerate(value))
        elif isinstance(value, _NonFinite) or (isinstance(value, float)
                                               and not math.isfinite(value)):
            return _item(path, "must be a finite number (NaN, Infinity and numbers beyond "
                               "1e308 are not allowed)")
        elif isinstance(value, str) and _bad_text(value):
            return _item(path, "text with an unpaired surrogate escape (not valid Unicode)")
    return None


def _bad_text(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _item(path: list[Any], msg: str) -> dict[str, Any]:
    return {"loc": ["body", *path], "msg": msg, "type": "value_error"}


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body over this route's limit of {limit} bytes"},
                        413)
