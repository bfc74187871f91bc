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
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from recovery.engine.cohort_fit import CohortFitPlan, chosen_strategy, fit_cohort
from recovery.model import (
    Cohort,
    FittedModel,
    Forecaster,
    ModelConfig,
    SamplerConfig,
    evaluate,
    quick_fit,
    save_with_plots,
    stratified_subsample,
)
from recovery.service.db import Database
from recovery.service.registry import model_row
from recovery.service.settings import Settings
from recovery.service.tables import CohortRow, Job, ModelRow

__all__ = ["Worker"]

log = logging.getLogger("recovery.worker")


EVALUATED_PATIENTS = 200  # at most this many held-out patients a refit is evaluated on


def _counter(report: Callable[[int], None]) -> Callable[[int], None]:
    """Turn "k more done" callbacks into running totals."""
    done = [0]

    def add(k: int) -> None:
        done[0] += k
        report(done[0])
    return add


def _held_out(cohort: Cohort, subsample: bool) -> tuple[Cohort, Cohort | None]:
    """What a refit samples, and the patients kept back for its evaluation. A full fit (or a
    quick look) keeps back a stratified tenth, up to EVALUATED_PATIENTS; a cohort under ten
    patients keeps none, and its evaluation says it overlaps the training cohort. A subsample
    fit keeps none back: its evaluation uses patients NUTS did not see (`_evaluated`)."""
    n = min(EVALUATED_PATIENTS, len(cohort.patients) // 10)
    if subsample or n == 0:
        return cohort, None
    held = stratified_subsample(cohort, n, ModelConfig(), every_stratum=False)
    return cohort.only(set(cohort.patient_ids) - set(held.patient_ids)), held


def _evaluated(cohort: Cohort, fitted: FittedModel) -> Cohort:
    """The patients a subsample fit is evaluated on: those NUTS did not see (up to
    EVALUATED_PATIENTS of them, stratified), else the whole cohort."""
    rest = set(cohort.patient_ids) - set(fitted.cohort.patient_ids)
    if not rest:
        return cohort
    return stratified_subsample(cohort.only(rest), EVALUATED_PATIENTS, fitted.config)


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

    def _commit(self, job_id: str, directory: Path, cohort_id: str, evaluation: dict,
                summary: str) -> str:
        """Register the model and close the job in one transaction, only under our lease."""
        row = model_row(directory, cohort_id, job_id, evaluation)
        with self.db.session() as s:
            held = s.execute(update(Job).where(Job.id == job_id, Job.lease == self.lease,
                                               Job.status == "running").values(
                status="succeeded", progress=1.0, model_id=row.id, message=summary,
                finished_at=_now()).returning(Job.id)).first()
            if held is None:
                raise LeaseLostError(job_id)
            if s.get(ModelRow, row.id) is None:
                s.add(row)
        return row.id

    def _fit(self, job_id: str) -> str:
        with self.db.session() as s:
            job = s.get(Job, job_id)
            assert job is not None
            cohort_row = s.get(CohortRow, job.cohort_id)
            assert cohort_row is not None
            params, cohort_id, cohort_path = dict(job.params), job.cohort_id, cohort_row.path
        cohort = Cohort.load(cohort_path)
        draws = params["draws"]
        cfg = SamplerConfig(draws=draws, tune=params["tune"], chains=params["chains"],
                            random_seed=params["seed"], progress_bar=False,
                            max_draws=params.get("max_draws") or min(10 * draws, 100_000),
                            max_minutes=params.get("max_minutes")
                            or self.settings.fit_max_minutes)
        self.beat(job_id, 0.0, "compiling the model")
        progress = lambda f, phase: self.beat(job_id, 0.8 * f, phase)  # noqa: E731
        n = len(cohort.patients)
        updated = lambda k: self.beat(job_id, 0.8, f"updating every patient ({k} of {n})")  # noqa: E731
        plan = CohortFitPlan(strategy=params.get("strategy", "auto"),
                             subsample=self.settings.fit_subsample,
                             above=self.settings.fit_subsample_above,
                             address=self.settings.engine_address)
        advi = params.get("method") == "advi"
        training, held = _held_out(cohort, not advi and chosen_strategy(cohort, plan) != "full")
        with tempfile.TemporaryDirectory() as tmp:
            patients = Path(tmp) / "patients"
            if advi:
                fitted = quick_fit(training, seed=cfg.random_seed, progress_bar=False,
                                   on_progress=progress)
            else:
                fitted = fit_cohort(training, cfg, plan, patients, on_progress=progress,
                                    on_patients=_counter(updated))
            self.beat(job_id, 0.9, "checking: posterior predictive and held-out evaluation")
            directory = self.settings.models_dir / fitted.model_id
            save_with_plots(fitted, directory, cfg.random_seed,
                            {"patients": patients} if patients.is_dir() else None)
        evaluated = held if held is not None else _evaluated(cohort, fitted)
        report = evaluate(Forecaster(fitted), evaluated, holdout_days=42, draws=500)
        (directory / "evaluation.json").write_text(report.model_dump_json(indent=1))
        d = fitted.diagnostics
        verdict = "" if d.method == "advi" else "DIAGNOSTICS FAILED: "  # problems say QUICK LOOK
        summary = "diagnostics passed" if d.passed else verdict + "; ".join(d.problems)
        try:
            return self._commit(job_id, directory, cohort_id, report.model_dump(), summary)
        except LeaseLostError:
            with self.db.session() as s:
                if s.get(ModelRow, fitted.model_id) is None:  # nobody registered this folder
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
