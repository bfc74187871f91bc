"""Requests refused before any work: bodies over their route's limit (413, whether or not the
client declared a length), large uploads without credentials (401), and JSON bodies (any
Content-Type spelling, or none: the routes parse those as JSON) nested too deep or holding
numbers or text no field can take (NaN, infinities, lone surrogates, NUL: 422 naming the
field); a NUL in the path or a query parameter is refused too (422; PostgreSQL cannot store
one). JSON is checked off the event loop, after the size and depth limits, so no body stalls
it."""

from __future__ import annotations

import json
import math
import re
from email.message import Message as _Header
from typing import Any
from urllib.parse import parse_qsl

import anyio
import numpy as np
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recovery.service.settings import Settings

__all__ = ["BodyGuard", "first_unencodable"]

# A batch of 1,000 scores or sessions with 64-character client ids is about 110 kB.
RECORD_BATCH = re.compile(r"^/v1/patients/[^/]+/(scores|sessions)$")
RECORD_BATCH_BYTES = 256_000
SIGN_IN_BYTES = 16_000
MAX_DEPTH = 32  # no request nests deeper than about 6 levels
MAX_VALUES = 50_000  # a batch of 1,000 scores holds about 4,000 JSON values
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class _NonFinite(str):
    """NaN, Infinity or -Infinity as written in the JSON."""


class BodyGuard:
    """Buffers the body up to its route's limit, checks it, then hands it on."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    def limit(self, method: str, path: str) -> int:
        """The body limit of a route: uploads get their own."""
        if method == "POST" and path.rstrip("/") in ("/v1/cohorts", "/v1/cohorts/fhir"):
            return self.settings.max_upload_bytes
        if RECORD_BATCH.match(path):
            return RECORD_BATCH_BYTES
        if path.rstrip("/") == "/v1/token":
            return SIGN_IN_BYTES
        return self.settings.max_body_bytes

    def refusal(self, scope: Scope, form: bool) -> tuple[int, JSONResponse | None]:
        """The body limit of this request (an upload's files may be large; JSON may not), or
        the response refusing it before its body is read."""
        headers = dict(scope["headers"])
        limit = self.limit(scope["method"], scope["path"])
        if not form:
            limit = min(limit, self.settings.max_body_bytes)
        elif limit > self.settings.max_body_bytes and b"authorization" not in headers:
            return limit, JSONResponse({"detail": "Not authenticated"}, 401,
                                       {"WWW-Authenticate": "Bearer"})
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return limit, _too_large(limit)
        return limit, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a body over its limit, or JSON no field can take, before the route reads it."""
        if scope["type"] == "http" and (bad := nul_in_address(scope)) is not None:
            await JSONResponse({"detail": [bad]}, 422)(scope, receive, send)
            return
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        media = _media_type(dict(scope["headers"]).get(b"content-type", b""))
        form = media in FORM_TYPES
        limit, refused = self.refusal(scope, form)
        body = None if refused else await _read(receive, limit)
        if body is None:
            await (refused or _too_large(limit))(scope, receive, send)
            return
        if body and (not form or media == FORM_TYPES[1]):
            check = first_unencodable if not form else nul_in_form
            bad = await anyio.to_thread.run_sync(check, body)
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


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it passes `limit` bytes (or the client left)."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def nul_in_address(scope: Scope) -> dict[str, Any] | None:
    """A 422 item for a NUL character in the path or in a query parameter (name or value)."""
    if "\x00" in scope["path"]:
        return _item([], "the path must not contain a NUL character", "path")
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return _item([name.replace("\x00", "")], "must not contain a NUL character",
                         "query")
    return None


def nul_in_form(body: bytes) -> dict[str, Any] | None:
    """A 422 item for a NUL character in a URL-encoded form field (the sign-in form)."""
    for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return _item([name.replace("\x00", "")], "must not contain a NUL character")
    return None


def _media_type(content_type: bytes) -> str:
    """"application/json" from any spelling such as b"Application/JSON; charset=UTF-8"."""
    header = _Header()
    header["content-type"] = content_type.decode("latin-1")
    return header.get_content_type()


def _outside_strings(text: np.ndarray) -> np.ndarray:
    """The bytes outside JSON strings (quotes excluded), in linear time: a quote opens or
    closes a string unless an odd run of backslashes precedes it."""
    at = np.arange(len(text))
    last_plain = np.maximum.accumulate(np.where(text != ord("\\"), at, -1))
    backslashes = at - 1 - np.r_[-1, last_plain[:-1]]  # the run just before each byte
    quote = (text == ord('"')) & (backslashes % 2 == 0)
    return (np.cumsum(quote) % 2 == 0) & ~quote


def shape(body: bytes) -> tuple[int, int]:
    """How deep the JSON text's arrays and objects nest, and about how many values it holds
    (separators + 1; brackets and commas inside strings ignored), found without parsing it."""
    raw = np.frombuffer(body, dtype=np.uint8)
    text = raw[_outside_strings(raw)]
    step = (np.isin(text, (ord("["), ord("{"))).astype(np.int64)
            - np.isin(text, (ord("]"), ord("}"))))
    return int(np.cumsum(step).max(initial=0)), int(np.isin(text, (ord(","), ord(":"))).sum()) + 1


def too_big(body: bytes) -> dict[str, Any] | None:
    """A 422 item for JSON nested deeper than MAX_DEPTH or holding more than MAX_VALUES
    values, found before it is parsed."""
    depth, values = shape(body)
    if depth > MAX_DEPTH:
        return _item([], f"JSON nested deeper than {MAX_DEPTH} levels")
    if values > MAX_VALUES:
        return _item([], f"JSON holding more than {MAX_VALUES} values; send large data as a "
                         "cohort upload or in smaller batches")
    return None


def first_unencodable(body: bytes) -> dict[str, Any] | None:
    """The first value JSON-parsed from `body` that no field may hold, as a 422 item (after
    `too_big`, so no large or deep body is parsed)."""
    if (refused := too_big(body)) is not None:
        return refused
    try:
        doc = json.loads(body, parse_constant=_NonFinite)
    except (ValueError, RecursionError):
        return None  # malformed JSON: the route's own parsing says so
    stack: list[tuple[list[Any], Any]] = [([], doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                if (why := _bad_text(k)) is not None:
                    return _item(path, f"a key holds {why}")
                stack.append(([*path, k], v))
        elif isinstance(value, list):
            stack.extend(([*path, i], v) for i, v in enumerate(value))
        elif isinstance(value, _NonFinite) or (isinstance(value, float)
                                               and not math.isfinite(value)):
            return _item(path, "must be a finite number (NaN, Infinity and numbers beyond "
                               "1e308 are not allowed)")
        elif isinstance(value, str) and (why := _bad_text(value)) is not None:
            return _item(path, f"text with {why}")
    return None


def _bad_text(s: str) -> str | None:
    """What makes `s` text no field can take, if anything."""
    if "\x00" in s:
        return "a NUL character (not allowed in any text)"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return "an unpaired surrogate escape (not valid Unicode)"
    return None


def _item(path: list[Any], msg: str, where: str = "body") -> dict[str, Any]:
    return {"loc": [where, *path], "msg": msg, "type": "value_error"}


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body over this route's limit of {limit} bytes"},
                        413)
