"""Under /fhir: `_format` and Accept answered (JSON) or refused with 406, and every error
answer that left a route or a guard as plain JSON (401, 404, 405, 413, a guard's 422...)
turned into an OperationOutcome, so a FHIR client reads every refusal the same way. The
OAuth routes (/fhir/auth/...) and discovery keep OAuth's own JSON."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recovery.service.fhir.outbound import outcome
from recovery.service.fhir.problems import issue_code

__all__ = ["FhirFormat"]

FHIR_JSON = "application/fhir+json"
FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}
ACCEPTED = ("application/fhir+json", "application/json", "application/json+fhir", "*/*",
            "application/*")
def _plain(scope: Scope) -> bool:
    path: str = scope["path"]
    return not path.startswith("/fhir") or path.startswith(("/fhir/auth/", "/fhir/.well-known"))


def _unacceptable(scope: Scope) -> str | None:
    """Why the asked-for format cannot be given, if it cannot."""
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    fmt = query.get("_format")
    if fmt is not None and fmt.split(";")[0].strip() not in FORMATS:
        return "only JSON is served: _format=json or application/fhir+json"
    accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1").lower()
    if accept and not any(a.split(";")[0].strip() in ACCEPTED for a in accept.split(",")):
        return "only JSON is served: Accept application/fhir+json or application/json"
    return None


def _where(loc: list[Any]) -> str:
    """A FastAPI error location as a FHIRPath-like one: ["body", "entry", 0] -> entry[0]."""
    out = ""
    for part in loc[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".")


def _messages(detail: Any) -> list[tuple[str, str]]:
    if isinstance(detail, list):
        return [(_where(d.get("loc", [])), str(d.get("msg", "refused")))
                for d in detail if isinstance(d, dict)]
    return [("", str(detail))]


class FhirFormat:
    """The /fhir answer's format, and error answers as OperationOutcomes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an unacceptable format; rewrite plain-JSON error answers."""
        if scope["type"] != "http" or _plain(scope):
            await self.app(scope, receive, send)
            return
        if (why := _unacceptable(scope)) is not None:
            await _send(send, 406, outcome([("", why)], issue_code(406)), [])
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if message["status"] >= 400 and headers.get(b"content-type", b"").startswith(
                        b"application/json"):
                    start = message
                    return
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await _rewritten(send, start, b"".join(chunks))
                return
            await send(message)

        await self.app(scope, receive, rewrite)


async def _rewritten(send: Send, start: Message, body: bytes) -> None:
    try:
        detail = json.loads(body).get("detail", "refused")
    except (ValueError, AttributeError):
        detail = "refused"
    keep = [(k, v) for k, v in start.get("headers", [])
            if k.lower() not in (b"content-type", b"content-length")]
    status = start["status"]
    await _send(send, status, outcome(_messages(detail), issue_code(status)), keep)


async def _send(send: Send, status: int, doc: dict[str, Any],
                headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(doc).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        *headers, (b"content-type", FHIR_JSON.encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
