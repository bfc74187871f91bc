"""Specific exceptions of the model package, so callers can map each to a clear message."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CohortError", "ModelVersionError", "Problem", "RecoveryError", "ScheduleError"]


class RecoveryError(Exception):
    """Base class of every error the model package raises on purpose."""


class ScheduleError(RecoveryError, ValueError):
    """A schedule that cannot be expanded (unknown preset, bad phase)."""


class ModelVersionError(RecoveryError):
    """A saved posterior that this version of Recovery cannot read or that does not match."""


@dataclass(frozen=True)
class Problem:
    """One problem in a cohort file: where it is and what is wrong."""

    file: str
    row: int | None  # 1-based data row (header is row 0); None for file-level problems
    column: str | None
    message: str

    @property
    def line(self) -> int | None:
        """The line an editor shows for a CSV's row (the header is line 1); None otherwise."""
        return self.row + 1 if self.row is not None and self.file.endswith(".csv") else None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        elif self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        return f"{where}: {self.message}"


class CohortError(RecoveryError, ValueError):
    """A cohort that fails validation; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        # file-level problems first, then by row, so the list reads like the file
        self.problems = sorted(problems, key=lambda p: (p.file, p.row or 0))
        head = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"cohort has {len(problems)} problem(s):\n{head}{more}")
