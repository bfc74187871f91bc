"""Model and record errors as HTTP responses: a refused field as a 422 naming it, never a 500
for bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import HTTPException
from pydantic import ValidationError

from recovery.model import CohortError, PatientError, RecoveryError
from recovery.service.errors import (
    ConflictError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    ServiceError,
    TooLargeError,
)

__all__ = ["refusal", "run_model", "unprocessable"]

STATUS: dict[type[ServiceError], int] = {NotFoundError: 404, ForbiddenError: 403,
                                         ConflictError: 409, TooLargeError: 413,
                                         FieldError: 422}

T = TypeVar("T")


def unprocessable(items: list[dict[str, Any]]) -> HTTPException:
    """422 in FastAPI's own error shape: a list of {loc, msg, type}."""
    return HTTPException(422, items)


def refusal(exc: ServiceError) -> tuple[Any, int]:
    """A domain error's response body and status; a refused field in FastAPI's 422 shape."""
    status = getattr(exc, "status", None) or next(
        (code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    if isinstance(exc, FieldError):
        return [{"loc": ["body", *loc], "msg": msg, "type": "value_error"}
                for loc, msg in exc.problems], status
    return str(exc), status


def run_model(work: Callable[[], T]) -> T:
    """Run model code; its refusals become 422s with the offending field."""
    try:
        return work()
    except ValidationError as exc:
        raise unprocessable([{"loc": ["body", *map(str, e["loc"])], "msg": e["msg"],
                              "type": e["type"]} for e in exc.errors()]) from None
    except PatientError as exc:
        raise unprocessable([{"loc": ["body", *exc.field.split(".")], "msg": str(exc),
                              "type": "value_error"}]) from None
    except CohortError as exc:
        raise unprocessable([{"loc": [p.file, p.row, p.column], "line": p.line,
                              "msg": p.message, "type": "cohort_error"}
                             for p in exc.problems]) from None
    except RecoveryError as exc:
        raise unprocessable([{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
                            ) from None
