"""Crash test: kill -9 the server during a stream of score uploads; after a restart every
acknowledged score is stored, and none twice (clients retry with the same client_id)."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from recovery.service.settings import Settings
from tests.live import Server, add_user, token


def test_kill_9_loses_no_acknowledged_score(settings: Settings, tmp_path: Path) -> None:
    add_user(settings, "ther", "long password 1", "therapist")
    server = Server(settings, tmp_path / "server.log").start()
    try:
        h = token(server.url, "ther", "long password 1")
        record = {"name": "P", "start_date": "2010-01-01"}  # room for day 1000 + retries
        pid = httpx.post(f"{server.url}/v1/patients", json=record, headers=h).json()["id"]
        acked: list[str] = []
        sent: list[str] = []
        stop = threading.Event()

        def stream() -> None:
            i = 0
            with httpx.Client(base_url=server.url, headers=h, timeout=5) as c:
                while not stop.is_set():
                    ids = [f"u{i}-{k}" for k in range(5)]
                    body = {"scores": [{"day": i + k / 10, "score": k, "client_id": cid}
                                       for k, cid in enumerate(ids)]}
                    sent.extend(ids)
                    try:
                        r = c.post(f"/v1/patients/{pid}/scores", json=body)
                    except httpx.HTTPError:
                        return  # the server died mid-request: not acknowledged
                    if r.status_code == 200:
                        acked.extend(ids)
                    i += 1

        t = threading.Thread(target=stream)
        t.start()
        while len(acked) < 200:
            t.join(0.05)
        server.kill()
        stop.set()
        t.join()
        server.start()
        h = token(server.url, "ther", "long password 1")
        # the client retries everything it sent (acknowledged or not): nothing doubles
        for k in range(0, len(sent), 500):
            chunk = sent[k:k + 500]
            body = {"scores": [{"day": 1000 + j, "score": 1, "client_id": cid}
                               for j, cid in enumerate(chunk)]}
            assert httpx.post(f"{server.url}/v1/patients/{pid}/scores", json=body,
                              headers=h).status_code == 200
        hist = httpx.get(f"{server.url}/v1/patients/{pid}/history", headers=h).json()
        stored_days = [p["day"] for p in hist["pain"]]
        assert len(stored_days) == len(set(stored_days)) == len(set(sent))
        acked_days = {int(cid[1:].split("-")[0]) + int(cid.split("-")[1]) / 10 for cid in acked}
        assert acked_days <= set(stored_days)  # every acknowledged score kept its first value
        log = server.log.read_text()
        assert '"route": "/v1/patients/{patient_id}/scores"' in log  # requests are logged...
        secret = h["Authorization"].split()[1]
        assert secret not in log
        assert "long password 1" not in log
    finally:
        server.stop()
