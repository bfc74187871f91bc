"""`recovery worker`: claims refit jobs from the database and runs them, one at a time.

Claiming is one conditional UPDATE (queued -> running), after `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so several workers share a queue and never run the same job. The claim takes a
lease (a fresh token): heartbeats, the result and the model's registration are written only
while the job still holds that lease, in one transaction, so a worker that was paused past the
stale limit and lost its job to another writes nothing. Every worker, busy or idle, requeues
jobs whose heartbeat went stale (or fails them once out of attempts). Nothing is silently lost.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from recovery.engine.refit import RefitPlace, RefitResult, RefitSpec, refit
from recovery.model import Cohort
from recovery.service.db import Database
from recovery.service.registry import model_row
from recovery.service.settings import Settings
from recovery.service.tables import CohortRow, Job, ModelRow

__all__ = ["Worker"]

log = logging.getLogger("recovery.worker")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as the tables store


class LeaseLostError(Exception):
    """The job was taken over by another worker (this one was presumed dead)."""


class Worker:
    """Claims refit jobs with a lease and runs them, one at a time."""
    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.lease: str | None = None

    def reap_stale(self) -> int:
        """Requeue (or fail, when out of attempts) running jobs whose worker stopped beating."""
        cutoff = _now() - timedelta(seconds=self.settings.job_stale_seconds)
        n = 0
        with self.db.session() as s:
            q = select(Job).where(Job.status == "running", Job.heartbeat_at < cutoff)
            if not self.db.is_sqlite:
                q = q.with_for_update(skip_locked=True)
            for job in s.scalars(q):
                n += 1
                if job.attempts >= self.settings.job_max_attempts:
                    job.status, job.finished_at = "failed", _now()
                    job.message = (f"worker {job.worker} stopped responding on attempt "
                                   f"{job.attempts} of {self.settings.job_max_attempts}")
                else:
                    job.status = "queued"
                    job.message = f"worker {job.worker} stopped responding; queued again"
        return n

    def claim(self) -> str | None:
        """Take the oldest queued job with a fresh lease; None when there is none (or another
        worker won it)."""
        self.reap_stale()
        with self.db.session() as s:
            q = select(Job.id).where(Job.status == "queued").order_by(Job.created_at).limit(1)
            if not self.db.is_sqlite:
                q = q.with_for_update(skip_locked=True)
            job_id = s.scalars(q).first()
            if job_id is None:
                return None
            lease = uuid.uuid4().hex
            won = s.execute(update(Job).where(Job.id == job_id, Job.status == "queued").values(
                status="running", worker=self.name, heartbeat_at=_now(), lease=lease,
                attempts=Job.attempts + 1, message="starting", progress=0.0)
                .returning(Job.id)).first()
        if won is None:
            return None
        self.lease = lease
        return job_id

    def beat(self, job_id: str, progress: float | None = None, message: str | None = None
             ) -> None:
        """Refresh the heartbeat (and progress); LeaseLostError if the job is no longer ours."""
        values: dict[str, object] = {"heartbeat_at": _now()}
        if progress is not None:
            values["progress"] = round(progress, 4)
        if message is not None:
            values["message"] = message
        with self.db.session() as s:
            held = s.execute(update(Job).where(Job.id == job_id, Job.lease == self.lease,
                                               Job.status == "running")
                             .values(**values).returning(Job.id)).first()
        if held is None:
            raise LeaseLostError(job_id)

    def run_one(self) -> bool:
        """Claim and run one job; False when the queue is empty."""
        job_id = self.claim()
        if job_id is None:
            return False
        log.info("job claimed", extra={"job_id": job_id, "worker": self.name})
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job_id, stop), daemon=True)
        beat.start()
        try:
            model_id = self._fit(job_id)
            log.info("job done", extra={"job_id": job_id, "model_id": model_id})
        except LeaseLostError:
            log.warning("job taken over by another worker; result dropped",
                        extra={"job_id": job_id, "worker": self.name})
        except Exception as exc:
            log.exception("job failed", extra={"job_id": job_id})
            with self.db.session() as s:
                s.execute(update(Job).where(Job.id == job_id, Job.lease == self.lease).values(
                    status="failed", message=f"{type(exc).__name__}: {exc}"[:2000],
                    finished_at=_now()))
        finally:
            stop.set()
        return True

    def _heartbeat(self, job_id: str, stop: threading.Event) -> None:
        """Beat while the job runs, and requeue other workers' stale jobs meanwhile."""
        while not stop.wait(self.settings.job_heartbeat_seconds):
            try:
                self.beat(job_id)
                self.reap_stale()
            except LeaseLostError:
                return
            except Exception:
                log.exception("heartbeat failed", extra={"job_id": job_id})

    def _commit(self, job_id: str, cohort_id: str, result: RefitResult) -> str:
        """Register the model and close the job in one transaction, only under our lease."""
        row = model_row(result.directory, cohort_id, job_id, result.evaluation.model_dump())
        with self.db.session() as s:
            held = s.execute(update(Job).where(Job.id == job_id, Job.lease == self.lease,
                                               Job.status == "running").values(
                status="succeeded", progress=1.0, model_id=row.id, message=result.summary,
                finished_at=_now()).returning(Job.id)).first()
            if held is None:
                raise LeaseLostError(job_id)
            if s.get(ModelRow, row.id) is None:
                s.add(row)
        return row.id

    def _job(self, job_id: str) -> tuple[RefitSpec, str, Cohort]:
        """The job's spec (the service's settings fill what it leaves open), its cohort's id
        and the cohort."""
        with self.db.session() as s:
            job = s.get(Job, job_id)
            assert job is not None
            cohort_row = s.get(CohortRow, job.cohort_id)
            assert cohort_row is not None
            spec, cohort_id, path = RefitSpec.model_validate(job.params), job.cohort_id, \
                cohort_row.path
        spec = spec.model_copy(update={
            "max_minutes": spec.max_minutes or self.settings.fit_max_minutes,
            "subsample": spec.subsample or self.settings.fit_subsample})
        return spec, cohort_id, Cohort.load(path)

    def _fit(self, job_id: str) -> str:
        """Rows -> refit -> commit: the model is written beside the others, named by its id."""
        spec, cohort_id, cohort = self._job(job_id)
        place = RefitPlace(address=self.settings.engine_address,
                           subsample_above=self.settings.fit_subsample_above)
        staging = self.settings.models_dir / f".job-{job_id}"
        shutil.rmtree(staging, ignore_errors=True)  # a dead attempt's leftovers
        try:
            result = refit(cohort, spec, staging, lambda done, what: self.beat(job_id, done, what),
                           place)
            directory = staging.rename(self.settings.models_dir / result.fitted.model_id)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        try:
            return self._commit(job_id, cohort_id, replace(result, directory=directory))
        except LeaseLostError:
            with self.db.session() as s:
                if s.get(ModelRow, result.fitted.model_id) is None:  # nobody registered it
                    shutil.rmtree(directory, ignore_errors=True)
            raise

    def close(self) -> None:
        """Release the database connection."""
        self.db.close()

    def run(self, poll_seconds: float = 2.0, once: bool = False) -> None:
        """Work until stopped (or, with once, until the queue is empty)."""
        self.db.migrate()
        try:
            while True:
                worked = self.run_one()
                if once and not worked:
                    return
                if not worked:
                    time.sleep(poll_seconds)
        finally:
            self.close()
