"""Model errors as HTTP 422 responses that name the field; never a 500 for bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import HTTPException
from pydantic import ValidationError

from recovery.model import CohortError, PatientError, RecoveryError

__all__ = ["run_model", "unprocessable"]

T = TypeVar("T")


def unprocessable(items: list[dict[str, Any]]) -> HTTPException:
    """422 in FastAPI's own error shape: a list of {loc, msg, type}."""
    return HTTPException(422, items)


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
