"""The model registry: versions in the database, the served one loaded in memory.

Every process polls the `served` row and swaps its `Forecaster` when it changes: the new
model is loaded off the request path and then replaced in one reference assignment, so
requests in flight finish on the model they started with and none fail during a switch.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from recovery.model import Forecaster, evaluation_of, model_identity
from recovery.service.db import Database
from recovery.service.tables import ModelRow, Served

__all__ = ["Registry", "model_row", "register_model"]

log = logging.getLogger("recovery.registry")


@dataclass(frozen=True)
class Loaded:
    model_id: str
    forecaster: Forecaster


def model_row(path: Path, cohort_id: str | None = None, job_id: str | None = None,
              evaluation: dict | None = None) -> ModelRow:
    """The registry row for a saved model directory (not yet added to any session); reads the
    model's id and diagnostics only, not its posterior."""
    model_id, diagnostics = model_identity(path)
    return ModelRow(id=model_id, path=str(path), passed=diagnostics.passed,
                    diagnostics=diagnostics.model_dump(),
                    evaluation=evaluation or evaluation_of(path), cohort_id=cohort_id,
                    job_id=job_id)


def register_model(db: Database, path: Path) -> ModelRow:
    """Record a saved model directory as a version (idempotent by model id)."""
    new = model_row(path)
    with db.session() as s:
        row = s.get(ModelRow, new.id)
        if row is None:
            row = new
            s.add(row)
        return row


class Registry:
    """Holds the served model of this process and keeps it in step with the database."""

    def __init__(self, db: Database, default_model_dir: Path, poll_seconds: float) -> None:
        self.db = db
        self.default_model_dir = default_model_dir
        self.poll_seconds = poll_seconds
        self._loaded: Loaded | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def bootstrap(self) -> None:
        """Serve the bundled default model when nothing is served yet."""
        with self.db.session() as s:
            served = s.get(Served, 1)
        if served is None:
            row = register_model(self.db, self.default_model_dir)
            with self.db.session() as s:
                if s.get(Served, 1) is None:
                    s.add(Served(id=1, model_id=row.id))
        self.refresh()

    def served_id(self, s: Session | None = None) -> str | None:
        """The served model's id, read in `s` (a request's session) or a session of its own."""
        if s is not None:
            served = s.get(Served, 1)
            return served.model_id if served else None
        with self.db.session() as own:
            return self.served_id(own)

    def refresh(self) -> None:
        """Load the served model if it differs from the one in memory."""
        model_id = self.served_id()
        if model_id is None or (self._loaded and self._loaded.model_id == model_id):
            return
        with self._lock:
            if self._loaded and self._loaded.model_id == model_id:
                return
            with self.db.session() as s:
                path = s.scalars(select(ModelRow.path).where(ModelRow.id == model_id)).one()
            forecaster = Forecaster.from_directory(path)
            self._loaded = Loaded(model_id, forecaster)  # one assignment: the switch
            log.info("serving model", extra={"model_id": model_id})

    def promote(self, model_id: str, s: Session) -> None:
        """Serve `model_id`: committed in the request's session `s`, then loaded here."""
        served = s.get(Served, 1)
        if served is None:
            s.add(Served(id=1, model_id=model_id))
        elif served.model_id != model_id:
            served.previous_model_id, served.model_id = served.model_id, model_id
            served.updated_at = datetime.now(UTC).replace(tzinfo=None)
        s.commit()
        self.refresh()

    @property
    def current(self) -> Loaded | None:
        """The model this process serves, if any."""
        return self._loaded

    def start(self) -> None:
        """Poll the database for a newly served model in the background."""
        self._thread = threading.Thread(target=self._poll, name="model-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for a refresh in progress (it may hold a connection)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:  # keep serving the old model; say why
                log.exception("model refresh failed")
