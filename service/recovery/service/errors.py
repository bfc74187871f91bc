"""Domain errors raised by the service's record logic; the HTTP layer maps each to its status
(api/errors.py), so the logic does not speak HTTP and the CLI can catch them by name."""

from __future__ import annotations

__all__ = ["ConflictError", "FieldError", "ForbiddenError", "NotFoundError", "ServiceError",
           "TooLargeError", "refuse_fields"]

Place = tuple[str | int, ...]


class ServiceError(Exception):
    """A request the service refuses, with a message for the person who sent it."""


class NotFoundError(ServiceError):
    """No such record, or not one this user may see (the two are not told apart)."""


class ForbiddenError(ServiceError):
    """The user's role may not do this."""


class ConflictError(ServiceError):
    """The record's state does not allow it (e.g. no earlier model to go back to)."""


class TooLargeError(ServiceError):
    """An upload over the configured limit."""


class FieldError(ServiceError):
    """Values the record logic refuses, each naming its place in the request body, so a batch
    names every bad entry at once."""

    def __init__(self, field: str | Place, message: str,
                 more: list[tuple[Place, str]] | None = None) -> None:
        super().__init__(message)
        first = (field,) if isinstance(field, str) else field
        self.problems: list[tuple[Place, str]] = [(first, message), *(more or [])]


def refuse_fields(problems: list[tuple[Place, str]]) -> None:
    """Raise one FieldError naming every (place, message) in `problems`, if there are any."""
    if problems:
        raise FieldError(*problems[0], more=problems[1:])
