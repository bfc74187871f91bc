"""Dashboard test fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import service_settings
from tests.live import Server, add_user, token

PW = "dashboard password"


@pytest.fixture(autouse=True)
def _keep_main() -> Iterator[None]:
    """Streamlit's script runner installs the page as `__main__`; put the real one back, or
    processes started later in this worker by spawn or forkserver (PyMC's chains, Dask's
    nannies) re-run the page and die."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = service_settings("sqlite", tmp_path_factory.mktemp("dash"))
    add_user(s, "ther", PW, "therapist")
    add_user(s, "ana", PW, "analyst")
    add_user(s, "root", PW, "admin")
    server = Server(s, Path(s.models_dir).parent / "server.log").start()
    h = token(server.url, "ther", PW)
    pid = httpx.post(f"{server.url}/v1/patients", json={"name": "Alex",
                                                        "start_date": "2025-01-01", "covariates": {
        "chronic": 1}}, headers=h).json()["id"]
    httpx.post(f"{server.url}/v1/patients/{pid}/scores", headers=h, json={"scores": [
        {"day": d, "score": 7 - d // 8, "client_id": f"c{d}"} for d in range(0, 30, 2)]})
    httpx.post(f"{server.url}/v1/patients/{pid}/sessions", headers=h, json={"sessions": [
        {"day": d, "kind": "massage", "client_id": f"s{d}"} for d in range(0, 30, 7)]})
    add_user(s, "pat", PW, "patient", patient_id=pid)
    yield server
    server.stop()
