"""A small typed client of the Recovery HTTP API; service errors become readable messages."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

import httpx

__all__ = ["ServiceClient", "ServiceError", "SessionExpired"]


class ServiceError(Exception):
    """A refusal or failure of the service, phrased for a person (no traceback)."""

    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None
                 ) -> None:
        self.status = status
        self.details = details or []  # FastAPI's [{loc, msg, type}] when the service gave it
        super().__init__(message)


class SessionExpired(ServiceError):  # noqa: N818 (a state the user meets, not a bug)
    """The sign-in has expired (or was revoked): the user must sign in again."""


def _where(d: dict[str, Any]) -> str:
    loc = [str(x) for x in d.get("loc", []) if x is not None]
    return ".".join(loc[1:] if loc and loc[0] == "body" else loc) or "request"


def _message(r: httpx.Response) -> str:
    try:
        detail = r.json().get("detail")
    except ValueError:
        return f"the service answered {r.status_code}"
    if isinstance(detail, list):  # FastAPI validation errors: name each field
        return "; ".join(f"{_where(d)}: {d.get('msg', '')}" for d in detail)
    return str(detail)


def _details(r: httpx.Response) -> list[dict[str, Any]]:
    try:
        detail = r.json().get("detail")
    except ValueError:
        return []
    return detail if isinstance(detail, list) else []


class ServiceClient:
    """One signed-in user's view of the service."""

    def __init__(self, http: httpx.Client, token: str | None = None) -> None:
        self._http = http  # shared connection pool; the token is per user
        self.base_url = str(http.base_url).rstrip("/")
        self.token = token

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            r = self._http.request(method, path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            raise ServiceError(0, f"cannot reach the service at {self.base_url} "
                                  f"({type(exc).__name__})") from None
        if r.status_code == 401 and path != "/v1/token":
            raise SessionExpired(401, "your session has expired; please sign in again")
        if r.status_code >= 400:
            raise ServiceError(r.status_code, _message(r), _details(r))
        if r.status_code == 204:
            return None
        if r.headers.get("content-type", "").startswith("image/"):
            return r.content
        return r.json()

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        """Exchange a username and password for a token kept by this client; the user, with
        how long the sign-in lasts (`expires_in`, seconds)."""
        r = self._call("POST", "/v1/token", data={"username": username, "password": password})
        self.token = r["access_token"]
        return {**self._call("GET", "/v1/me"), "expires_in": int(r.get("expires_in", 3600))}

    def me(self) -> dict[str, Any]:
        """The signed-in user (SessionExpired when the token no longer works)."""
        return dict(self._call("GET", "/v1/me"))

    # administrators
    def users(self) -> list[dict[str, Any]]:
        """Every account."""
        return list(self._call("GET", "/v1/users"))

    def create_user(self, username: str, password: str, role: str) -> dict[str, Any]:
        """A new therapist, analyst or administrator account."""
        return dict(self._call("POST", "/v1/users", json={
            "username": username, "password": password, "role": role}))

    def set_active(self, user_id: int, active: bool) -> dict[str, Any]:
        """Disable or re-enable an account (its tokens are revoked either way)."""
        return dict(self._call("PATCH", f"/v1/users/{user_id}", json={"active": active}))

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        """Who read or changed which record, newest first."""
        return list(self._call("GET", "/v1/audit", params={"limit": limit}))

    # patients
    def patients(self) -> list[dict[str, Any]]:
        """The patients this user may see."""
        return list(self._call("GET", "/v1/patients"))

    def create_patient(self, name: str, covariates: dict[str, float | None],
                       start_date: date | None = None, pain_since: date | None = None
                       ) -> dict[str, Any]:
        """Create a patient record for the signed-in therapist."""
        body: dict[str, Any] = {"name": name, "covariates": covariates}
        for key, day in (("start_date", start_date), ("pain_since", pain_since)):
            if day is not None:
                body[key] = day.isoformat()
        return dict(self._call("POST", "/v1/patients", json=body))

    def history(self, patient_id: str) -> dict[str, Any]:
        """A patient's scores and sessions, on the record's calendar."""
        return dict(self._call("GET", f"/v1/patients/{patient_id}/history"))

    def catalogue(self) -> dict[str, Any]:
        """Session kinds, presets, covariates and prices of the served model."""
        return dict(self._call("GET", "/v1/catalogue"))

    def add_entry(self, patient_id: str, entry: str, value: int | str, on: date | float
                  ) -> dict[str, Any]:
        """Store one score (value: 0-10) or session (value: its kind) on a date or day;
        returns the client id that removes it and the dates now holding several scores."""
        cid = uuid.uuid4().hex
        item: dict[str, Any] = {"client_id": cid, "score" if entry == "score" else "kind": value}
        item["date" if isinstance(on, date) else "day"] = (
            on.isoformat() if isinstance(on, date) else on)
        table = "scores" if entry == "score" else "sessions"
        done = self._call("POST", f"/v1/patients/{patient_id}/{table}", json={table: [item]})
        return {"client_id": cid, "same_day": done.get("same_day", [])}

    def update_patient(self, patient_id: str, name: str | None = None,
                       covariates: dict[str, float | None] | None = None,
                       pain_since: date | None = None) -> dict[str, Any]:
        """Correct a record's name, covariates or when the pain began."""
        since = None if pain_since is None else pain_since.isoformat()
        body = {k: v for k, v in (("name", name), ("covariates", covariates),
                                  ("pain_since", since)) if v is not None}
        return dict(self._call("PATCH", f"/v1/patients/{patient_id}", json=body))

    def delete_patient(self, patient_id: str) -> None:
        """Remove a record with everything in it (audited by the service)."""
        self._call("DELETE", f"/v1/patients/{patient_id}")

    def create_login(self, patient_id: str, username: str, password: str) -> dict[str, Any]:
        """The patient's own login, linked to their record."""
        return dict(self._call("POST", f"/v1/patients/{patient_id}/account",
                               json={"username": username, "password": password}))

    def entries(self, patient_id: str) -> list[dict[str, Any]]:
        """A patient's entries, newest first, for corrections."""
        return list(self._call("GET", f"/v1/patients/{patient_id}/entries",
                               params={"limit": 20}))

    def delete_entry(self, patient_id: str, entry: str, client_id: str) -> None:
        """Delete one score or session by the id it was entered with."""
        table = "scores" if entry == "score" else "sessions"
        self._call("DELETE", f"/v1/patients/{patient_id}/{table}/{client_id}")

    def plans(self, patient_id: str) -> list[dict[str, Any]]:
        """The schedules proposed for a patient."""
        return list(self._call("GET", f"/v1/patients/{patient_id}/plans"))

    def propose_plan(self, patient_id: str, schedule: dict[str, Any], note: str = ""
                     ) -> dict[str, Any]:
        """Propose a schedule to a patient, with a note."""
        return dict(self._call("POST", f"/v1/patients/{patient_id}/plans",
                               json={"schedule": schedule, "note": note}))

    def withdraw_plan(self, patient_id: str, plan_id: str) -> None:
        """Withdraw a proposed schedule."""
        self._call("DELETE", f"/v1/patients/{patient_id}/plans/{plan_id}")

    def past_forecasts(self, patient_id: str) -> list[dict[str, Any]]:
        """The forecasts made for a patient before."""
        return list(self._call("GET", f"/v1/patients/{patient_id}/forecasts"))

    def outcome(self, patient_id: str, forecast_id: str) -> dict[str, Any]:
        """How a past forecast compares with the scores entered since."""
        return dict(self._call("GET",
                               f"/v1/patients/{patient_id}/forecasts/{forecast_id}/outcome"))

    def forecast(self, patient_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Forecast a patient under candidate schedules."""
        return dict(self._call("POST", f"/v1/patients/{patient_id}/forecast", json=body))

    def optimise(self, patient_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The cheapest schedule that keeps the patient's target likely enough."""
        return dict(self._call("POST", f"/v1/patients/{patient_id}/optimise", json=body))

    def answer(self, patient_id: str, question: Literal["explain", "booking", "frontier"],
               body: dict[str, Any]) -> dict[str, Any]:
        """Why the forecast looks as it does, when to book, or the sessions-vs-pain frontier."""
        return dict(self._call("POST", f"/v1/patients/{patient_id}/{question}", json=body))

    # analysts
    def upload_cohort(self, name: str, files: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
        """Upload a cohort's three tables; refused whole with every problem listed."""
        return dict(self._call("POST", "/v1/cohorts", files=files, data={"name": name}))

    def cohorts(self) -> list[dict[str, Any]]:
        """The stored cohorts."""
        return list(self._call("GET", "/v1/cohorts"))

    def start_fit(self, cohort_id: str, draws: int, tune: int, method: str = "nuts",
                  chains: int = 2, seed: int = 1, max_minutes: float | None = None
                  ) -> dict[str, Any]:
        """Queue a refit of a cohort."""
        return dict(self._call("POST", "/v1/fits", json={
            "cohort_id": cohort_id, "draws": draws, "tune": tune, "method": method,
            "chains": chains, "seed": seed, "max_minutes": max_minutes}))

    def job(self, job_id: str) -> dict[str, Any]:
        """One refit job and its progress."""
        return dict(self._call("GET", f"/v1/jobs/{job_id}"))

    def jobs(self) -> list[dict[str, Any]]:
        """The refit jobs, newest first."""
        return list(self._call("GET", "/v1/jobs"))

    def monitor(self) -> dict[str, Any]:
        """The drift monitor of the served model."""
        return dict(self._call("GET", "/v1/monitor"))

    def models(self) -> list[dict[str, Any]]:
        """Every model version with its diagnostics and evaluation."""
        return list(self._call("GET", "/v1/models"))

    def model_plot(self, model_id: str, name: str) -> bytes:
        """A model's diagnostics plot (PNG bytes)."""
        return bytes(self._call("GET", f"/v1/models/{model_id}/plots/{name}"))

    def phenomena(self, model_id: str) -> dict[str, Any]:
        """A model's phenomena report (run once, then kept)."""
        return dict(self._call("GET", f"/v1/models/{model_id}/phenomena", timeout=600))

    def phenomena_chart(self, model_id: str, key: str) -> bytes:
        """The chart of one phenomena case (PNG bytes)."""
        return bytes(self._call("GET", f"/v1/models/{model_id}/phenomena/{key}.png"))

    def promote(self, model_id: str, accept_narrow_bands: bool = False) -> dict[str, Any]:
        """Serve this model (one whose bands were too narrow on held-out patients only when
        `accept_narrow_bands`)."""
        return dict(self._call("POST", f"/v1/models/{model_id}/promote",
                               params={"accept_narrow_bands": accept_narrow_bands}))

    def rollback(self) -> dict[str, Any]:
        """Serve the previously served model again."""
        return dict(self._call("POST", "/v1/models/rollback"))
