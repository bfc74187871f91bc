"""Structured JSON logs, one object per line. Request logs carry route, status and duration;
never headers, bodies, passwords or tokens."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

__all__ = ["configure_logging"]

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        body = {"ts": ts, "level": record.levelname, "logger": record.name,
                "msg": record.getMessage(), "pid": record.process}
        body |= {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure_logging(level: str = "INFO") -> None:
    """JSON log lines on stderr, with secrets never written."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log would print raw query strings; ours logs the route template instead
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("arviz", "alembic", "numba", "pytensor"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
