"""What a model's phenomena report says it does and does not reproduce: kept by the service
after an analyst ran it, or shipped in the model's directory (the bundled model's)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from recovery.model import PhenomenaReport

__all__ = ["Claims", "claims_of", "kept_report", "report_dir"]


class Claims(BaseModel):
    """The claims a model fails, in words a therapist reads beside a forecast."""

    passed: int
    total: int
    failing: list[str]
    meaning: str


def report_dir(models_dir: Path, model_id: str) -> Path:
    """Where the service keeps a model's phenomena report (not the model's own folder, which
    may be read-only or the bundled default)."""
    return Path(models_dir) / "phenomena" / Path(model_id).name


def kept_report(models_dir: Path, model_id: str, model_path: str | Path | None
                ) -> PhenomenaReport | None:
    """The model's report if one was run (by the service, or shipped with the model)."""
    for folder in (report_dir(models_dir, model_id), Path(model_path) if model_path else None):
        path = None if folder is None else folder / "phenomena.json"
        if path is not None and path.is_file():
            report = PhenomenaReport.model_validate_json(path.read_text())
            if report.model_version == model_id:
                return report
    return None


def claims_of(report: PhenomenaReport | None) -> Claims | None:
    """The failing claims and what they mean for a forecast; None when never checked."""
    if report is None:
        return None
    failing = [c.claim for c in report.cases if not c.passed]
    meaning = ("Forecasts rest on this model's fitted cohort; where it does not reproduce a "
               "claim, treat that part of a forecast with care." if failing else
               "The model reproduces every claim it was checked on.")
    return Claims(passed=report.passed, total=report.total, failing=failing, meaning=meaning)
