"""The HTTP service end to end in-process (SQLite, and PostgreSQL when CI provides one)."""

from __future__ import annotations

import io

import pandas as pd

from recovery.model import Cohort
from tests.helpers import DEFAULT_MODEL, Api, history_request


def _scores(n: int, prefix: str = "s") -> dict:
    return {"scores": [{"day": d, "score": 6 - d // 10, "client_id": f"{prefix}{d}"}
                       for d in range(n)]}


def test_sign_in(api: Api) -> None:
    c = api.client
    assert c.post("/v1/token", data={"username": "t1", "password": "wrong"}).status_code == 401
    assert c.post("/v1/token", data={"username": "nobody", "password": "x"}).status_code == 401
    assert c.get("/v1/me").status_code == 401
    assert c.get("/v1/me", headers={"Authorization": "Bearer forged"}).status_code == 401
    me = c.get("/v1/me", headers=api.as_("t1")).json()
    assert me["username"] == "t1"
    assert me["role"] == "therapist"


def test_records_upload_is_idempotent_and_forecasts_are_audited(api: Api) -> None:
    c, h = api.client, api.as_("t1")
    r = c.post(f"/v1/patients/{api.own}/scores", json=_scores(30), headers=h)
    assert r.json() == {"created": 30, "duplicates": 0, "same_day": []}
    r = c.post(f"/v1/patients/{api.own}/scores", json=_scores(35), headers=h)  # a retry + 5
    assert r.json() == {"created": 5, "duplicates": 30, "same_day": []}
    sessions = {"sessions": [{"day": d, "kind": "massage", "client_id": f"x{d}"}
                             for d in range(0, 35, 7)]}
    assert c.post(f"/v1/patients/{api.own}/sessions", json=sessions, headers=h).json()[
        "created"] == 5
    hist = c.get(f"/v1/patients/{api.own}/history", headers=h).json()
    assert len(hist["pain"]) == 35
    assert len(hist["sessions"]) == 5
    body = {"schedules": [{"name": "weekly_taper"}, {"name": "none"}], "horizon_days": 60}
    r = c.post(f"/v1/patients/{api.own}/forecast", json=body, headers=h)
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["forecasts"][0]["days"][0] == 35
    assert len(f["comparisons"]) == 1
    audit = c.get(f"/v1/patients/{api.own}/forecasts", headers=h).json()
    assert len(audit) == 1
    assert audit[0]["model_version"] == f["model_version"]
    opt = c.post(f"/v1/patients/{api.own}/optimise", json={"target_score": 5, "level": 0.5},
                 headers=h)
    assert opt.status_code == 200
    assert opt.json()["candidates"]


def test_a_bare_list_of_entries_is_taken_as_the_batch(api: Api) -> None:
    c, h = api.client, api.as_("t1")
    r = c.post(f"/v1/patients/{api.own}/scores", json=_scores(3)["scores"], headers=h)
    assert r.json() == {"created": 3, "duplicates": 0, "same_day": []}
    sessions = [{"day": 1, "kind": "massage", "client_id": "m1"}]
    r = c.post(f"/v1/patients/{api.own}/sessions", json=sessions, headers=h)
    assert r.json() == {"created": 1, "duplicates": 0, "same_day": []}
    bad = c.post(f"/v1/patients/{api.own}/scores", headers=h,
                 json=[{"day": 1, "score": 11, "client_id": "x1"}])
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "scores", 0, "score"]
    empty = c.post(f"/v1/patients/{api.own}/scores", json=[], headers=h)
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "scores"]


def test_stateless_forecast_and_bad_input(api: Api) -> None:
    c, h = api.client, api.as_("a1")
    ok = c.post("/v1/forecast", json=history_request(), headers=h)
    assert ok.status_code == 200
    trust = ok.json()
    assert trust["update"]["method"] in ("importance", "smc")
    assert not trust["update"]["low_ess"]
    assert 0.85 <= trust["calibration"]["coverage_90"] <= 0.95
    bad = c.post("/v1/forecast", json=history_request(horizon_days=0), headers=h)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "horizon_days"
    kind = c.post("/v1/forecast", headers=h, json=history_request(
        schedules=[{"name": "none", "kind": "reiki"}]))
    assert kind.status_code == 422
    assert "reiki" in kind.json()["detail"][0]["msg"]
    cov = c.post("/v1/forecast", headers=h, json=history_request(
        patient={"covariates": {"shoe_size": 3}}))
    assert cov.status_code == 422
    assert cov.json()["detail"][0]["loc"] == [
        "body", "covariates", "shoe_size"]
    long = history_request(n_scores=5001)
    assert c.post("/v1/forecast", json=long, headers=h).status_code in (413, 422)
    huge = c.post("/v1/forecast", content=b"{" + b" " * 3_000_000 + b"}", headers=h)
    assert huge.status_code == 413
    bad_score = c.post(f"/v1/patients/{api.own}/scores", headers=api.as_("t1"),
                       json={"scores": [{"day": 1, "score": 11, "client_id": "a"}]})
    assert bad_score.status_code == 422
    assert bad_score.json()["detail"][0]["loc"] == ["body", "scores", 0, "score"]
    for path, body in (("/v1/forecast", history_request()), ("/v1/optimise", {})):
        seed = c.post(path, json=body | {"seed": -1}, headers=h)  # numpy refuses it: 422, not 500
        assert seed.status_code == 422
        assert seed.json()["detail"][0]["loc"][-1] == "seed"


def test_operations_endpoints(api: Api) -> None:
    c = api.client
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz").json()
    assert ready["ready"]
    assert ready["model_version"]
    c.post("/v1/forecast", json=history_request(), headers=api.as_("t1"))
    text = c.get("/metrics").text
    assert "recovery_http_requests_total" in text
    assert "recovery_forecast_seconds_count" in text
    assert 'recovery_jobs{status="queued"}' in text


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_cohort_upload_validates_every_row_and_stores_nothing_on_error(
    api: Api, small_cohort: Cohort
) -> None:
    c, h = api.client, api.as_("a1")
    pain = small_cohort.pain.copy()
    pain.loc[3, "score"] = 14
    files = {"patients": ("patients.csv", _csv(small_cohort.patients)),
             "sessions": ("sessions.csv", _csv(small_cohort.sessions)),
             "pain": ("pain.csv", _csv(pain))}
    r = c.post("/v1/cohorts", files=files, headers=h)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["pain.csv", 4, "score"]
    assert c.get("/v1/cohorts", headers=h).json() == []
    buf = io.BytesIO()
    small_cohort.pain.to_parquet(buf)
    files["pain"] = ("pain.parquet", buf.getvalue())
    r = c.post("/v1/cohorts", files=files, data={"name": "clinic A"}, headers=h)
    assert r.status_code == 201, r.text
    cohort = r.json()
    assert cohort["n_patients"] == 12
    assert cohort["name"] == "clinic A"
    job = c.post("/v1/fits", json={"cohort_id": cohort["id"], "draws": 50, "tune": 50},
                 headers=h)
    assert job.status_code == 202
    assert job.json()["status"] == "queued"
    got = c.get(f"/v1/jobs/{job.json()['id']}", headers=h).json()
    assert got["status"] == "queued"
    assert got["progress"] == 0
    assert c.post("/v1/fits", json={"cohort_id": "nope"}, headers=h).status_code == 404


def test_models_registry_lists_the_served_default(api: Api) -> None:
    c, h = api.client, api.as_("a1")
    models = c.get("/v1/models", headers=h).json()
    assert len(models) == 1
    assert models[0]["served"]
    assert models[0]["passed"]
    # the bundled model's held-out evaluation travels with it (evaluation.json)
    assert models[0]["evaluation"]["methods"]["model"]["coverage_90"] > 0.85
    assert c.post("/v1/models/unknown/promote", headers=h).status_code == 404


def test_phenomena_report_is_run_once_and_kept(api: Api) -> None:
    c, h = api.client, api.as_("a1")
    model = c.get("/v1/models", headers=h).json()[0]["id"]
    assert c.get(f"/v1/models/{model}/phenomena", headers=api.as_("t1")).status_code == 403
    assert c.get(f"/v1/models/{model}/phenomena/plateau.png", headers=h).status_code == 404
    first = c.get(f"/v1/models/{model}/phenomena", headers=h)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["total"] == len(body["cases"])
    assert body["model_version"] == model
    assert c.get(f"/v1/models/{model}/phenomena", headers=h).json() == body  # kept
    png = c.get(f"/v1/models/{model}/phenomena/plateau.png", headers=h)
    assert png.status_code == 200
    assert png.content[:4] == b"\x89PNG"
    assert c.get(f"/v1/models/{model}/phenomena/..%2Fsecret.png", headers=h).status_code == 404
    assert c.get("/v1/models/nope/phenomena", headers=h).status_code == 404


def test_api_docs_work_offline(api: Api) -> None:
    """Swagger UI's assets come from the service, not a CDN the clinic may not reach."""
    page = api.client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/static-offline-docs/swagger-ui-bundle.js" in page.text
    asset = api.client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert len(asset.content) > 100_000


def test_a_model_with_too_narrow_bands_is_served_only_when_asked_twice(api: Api) -> None:
    """Bands that held 40 % of held-out scores where they claim 50 %: refused with the reason,
    served with accept_narrow_bands; the model list says why beforehand."""
    import json

    from recovery.service.db import Database
    from recovery.service.tables import ModelRow

    report = json.loads((DEFAULT_MODEL / "evaluation.json").read_text())
    report["methods"]["model"] |= {"coverage_50": 0.40, "coverage_90": 0.93}
    db = Database(api.settings.database_url)
    with db.session() as s:
        s.add(ModelRow(id="narrow-1", path=str(DEFAULT_MODEL), passed=True,
                       diagnostics={"problems": []}, evaluation=report))
    db.close()
    c, h = api.client, api.as_("a1")
    listed = c.get("/v1/models/narrow-1", headers=h).json()
    assert listed["narrow_bands"] == "50% bands held 40% of held-out scores"
    refused = c.post("/v1/models/narrow-1/promote", headers=h)
    assert refused.status_code == 409
    assert "accept_narrow_bands" in refused.json()["detail"]
    served = c.post("/v1/models/narrow-1/promote", headers=h,
                    params={"accept_narrow_bands": True})
    assert served.status_code == 200, served.text
    assert served.json()["served"]
    bundled = c.get("/v1/models", headers=h).json()
    assert all(m["narrow_bands"] is None for m in bundled if m["id"] != "narrow-1")
