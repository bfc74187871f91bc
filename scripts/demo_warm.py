"""`make demo`'s last step before it says "ready": one forecast through the running service, so
the model is compiled before the first person clicks (PyTensor and numba keep what they
compile in build/ for the next run), and, once per demo database, a monitored patient whose
forecast was followed by scores, so the analyst's drift monitor has something to judge.

Usage: python scripts/demo_warm.py API_URL LOGINS_JSON"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

MONITORED = "Sam (monitored since eight weeks)"


def _headers(api: str, login: dict[str, str]) -> dict[str, str]:
    r = httpx.post(f"{api}/v1/token", data=login, timeout=30)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def warm(api: str, h: dict[str, str]) -> float:
    """One forecast of the first demo patient; returns its seconds."""
    pid = httpx.get(f"{api}/v1/patients", headers=h, timeout=30).json()[0]["id"]
    t = time.monotonic()
    httpx.post(f"{api}/v1/patients/{pid}/forecast", headers=h, timeout=600, json={
        "schedules": [{"name": "recovery_then_maintenance"}, {"name": "recovery_then_stop"}],
        "horizon_days": 120}).raise_for_status()
    return time.monotonic() - t


def monitored(api: str, h: dict[str, str]) -> int:
    """A record started eight weeks ago with four weeks of diary, a forecast from then, and the
    scores of the weeks since entered after it (once); returns the scores added."""
    if any(p["name"] == MONITORED for p in httpx.get(f"{api}/v1/patients", headers=h).json()):
        return 0
    start = date.today() - timedelta(days=56)
    pid = httpx.post(f"{api}/v1/patients", headers=h, json={
        "name": MONITORED, "start_date": str(start), "covariates": {"chronic": 1}}
                     ).json()["id"]
    diary = [{"day": d, "score": 7 - d // 10, "client_id": f"m{d}"} for d in range(0, 28, 2)]
    httpx.post(f"{api}/v1/patients/{pid}/scores", headers=h, json={"scores": diary})
    made = httpx.post(f"{api}/v1/patients/{pid}/forecast", headers=h, timeout=600, json={
        "schedules": [{"name": "none"}], "start_day": 28, "horizon_days": 28, "draws": 300})
    band = made.json()["forecasts"][0]["quantiles"]["50"]
    later = [{"day": 28 + i, "score": round(m), "client_id": f"n{i}"}
             for i, m in enumerate(band) if i % 2 == 0]
    httpx.post(f"{api}/v1/patients/{pid}/scores", headers=h, json={"scores": later}
               ).raise_for_status()
    return len(later)


def main() -> None:
    """Warm the model up and, once, seed the monitored patient."""
    api, logins = sys.argv[1], json.loads(Path(sys.argv[2]).read_text())
    h = _headers(api, logins["therapist"])
    print(f"  first forecast (compiles the model once): {warm(api, h):.1f} s", flush=True)
    print(f"  a second one, as a person will wait: {warm(api, h):.1f} s", flush=True)
    if added := monitored(api, h):
        print(f"  drift monitor: {MONITORED!r} with {added} scores after its forecast",
              flush=True)


if __name__ == "__main__":
    main()
