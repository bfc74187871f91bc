"""Domain errors raised by the service's record logic; the HTTP layer maps each to its status
(api/errors.py), so the logic does not speak HTTP and the CLI can catch them by name."""

from __future__ import annotations

__all__ = ["ConflictError", "ForbiddenError", "NotFoundError", "ServiceError", "TooLargeError"]


class ServiceError(Exception):
    """A request the service refuses, with a message for the person who sent it."""

    status = 400


class NotFoundError(ServiceError):
    """No such record, or not one this user may see (the two are not told apart)."""

    status = 404


class ForbiddenError(ServiceError):
    """The user's role may not do this."""

    status = 403


class ConflictError(ServiceError):
    """The record's state does not allow it (e.g. no earlier model to go back to)."""

    status = 409


class TooLargeError(ServiceError):
    """An upload over the configured limit."""

    status = 413


class FieldError(ServiceError):
    """A value the record logic refuses, naming the request field it came from."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
