"""FHIR refusals in the service's error family: a FhirError is a ServiceError carrying every
problem with its FHIRPath-like place, rendered as an OperationOutcome under /fhir and as a
422 list elsewhere (the Bulk upload). Problem lists are capped so no answer grows with the
input."""

from __future__ import annotations

from recovery.service.errors import ServiceError

__all__ = ["MAX_ISSUES", "FhirError", "Problem", "capped", "issue_code"]

Problem = tuple[str, str]  # (where, what)
MAX_ISSUES = 50  # issues in one answer; the rest are counted in a last issue


CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
         405: "not-supported", 406: "not-supported", 409: "conflict", 410: "deleted",
         412: "conflict", 413: "too-costly", 415: "not-supported", 422: "invalid",
         429: "throttled"}


def issue_code(status: int) -> str:
    """The OperationOutcome issue type for an HTTP status."""
    return CODES.get(status, "exception" if status >= 500 else "processing")


def capped(problems: list[Problem]) -> list[Problem]:
    """The first MAX_ISSUES problems, and one saying how many more there were."""
    if len(problems) <= MAX_ISSUES:
        return problems
    more = len(problems) - MAX_ISSUES
    return [*problems[:MAX_ISSUES], ("Bundle", f"and {more} more problems like these")]


class FhirError(ServiceError):
    """Every problem of a Bundle or resource, each with where it is; `status` is the HTTP
    status and `code` the OperationOutcome issue type."""

    def __init__(self, problems: list[Problem], status: int = 422, code: str | None = None
                 ) -> None:
        self.problems = capped(problems)
        super().__init__("; ".join(f"{w}: {m}" for w, m in self.problems))
        self.status, self.code = status, code or issue_code(status)
