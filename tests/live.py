"""A real `recovery serve` process on loopback, for tests over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from recovery.service.api.routes.auth import create
from recovery.service.db import Database
from recovery.service.schemas import UserIn
from recovery.service.settings import Settings

RECOVERY = str(Path(sys.executable).parent / "recovery")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(settings: Settings) -> dict[str, str]:
    return {**os.environ, "RECOVERY_DATABASE_URL": settings.database_url,
            "RECOVERY_SECRET_KEY": settings.secret_key.get_secret_value(),
            "RECOVERY_MODELS_DIR": str(settings.models_dir),
            "RECOVERY_COHORTS_DIR": str(settings.cohorts_dir),
            "RECOVERY_DEFAULT_MODEL_DIR": str(settings.default_model_dir),
            "RECOVERY_MAX_BODY_BYTES": str(settings.max_body_bytes),
            **({"RECOVERY_CLOCK_DATE": str(settings.clock_date)} if settings.clock_date else {})}


def wait_ok(url: str, timeout: float = 120.0, alive: subprocess.Popen[bytes] | None = None
            ) -> None:
    """Poll `url` until it answers 200; fail early if the process `alive` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if alive is not None and alive.poll() is not None:
            raise RuntimeError(f"the process behind {url} exited")
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


class Server:
    """`recovery serve` in a subprocess; `kill()` is a kill -9."""

    def __init__(self, settings: Settings, log: Path, workers: int = 1) -> None:
        self.settings, self.port, self.log, self.workers = settings, free_port(), log, workers
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> Server:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([RECOVERY, "serve", "--port", str(self.port),
                                          "--workers", str(self.workers)],
                                         env={**env_for(self.settings),
                                              "RECOVERY_PUBLIC_URL": self.url},
                                         stdout=log, stderr=log)
        try:
            wait_ok(f"{self.url}/readyz", timeout, self.proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}: {self.log.read_text()[-2000:]}") from None
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def add_user(settings: Settings, name: str, password: str, role: str,
             patient_id: str | None = None) -> int:
    db = Database(settings.database_url)
    db.migrate()
    with db.session() as s:
        uid = create(s, UserIn(username=name, password=password, role=role,  # type: ignore[arg-type]
                               patient_id=patient_id)).id
    db.close()
    return uid


def token(url: str, name: str, password: str) -> dict[str, str]:
    r = httpx.post(f"{url}/v1/token", data={"username": name, "password": password})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@contextmanager
def health_probe(url: str) -> Iterator[list[float]]:
    """Times GET /healthz back to back while the block runs: the list of seconds each took."""
    health: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=url) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                c.get("/healthz")
                health.append(time.perf_counter() - t0)

    t = threading.Thread(target=probe)
    t.start()
    try:
        yield health
    finally:
        stop.set()
        t.join()
