"""Dashboard page logic with Streamlit's AppTest, against a real running service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from recovery.dashboard.client import ServiceClient, ServiceError
from recovery.dashboard.views import problems_table
from tests.conftest import _settings
from tests.live import Server, add_user, token

APP = str(Path(__file__).parents[1] / "recovery" / "dashboard" / "app.py")
PW = "dashboard password"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = _settings("sqlite", tmp_path_factory.mktemp("dash"))
    add_user(s, "ther", PW, "therapist")
    add_user(s, "ana", PW, "analyst")
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


def _signed_in(service: Server, monkeypatch: pytest.MonkeyPatch, who: str) -> AppTest:
    monkeypatch.setenv("RECOVERY_SERVICE_URL", service.url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="username").input(who)
    at.text_input(key="password").input(PW)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_wrong_password_is_a_readable_error(service: Server,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOVERY_SERVICE_URL", service.url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="username").input("ther")
    at.text_input(key="password").input("nope")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong username or password."]


def test_unreachable_service_is_a_readable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOVERY_SERVICE_URL", "http://127.0.0.1:9")
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="username").input("x")
    at.text_input(key="password").input("y")
    at.button[0].click().run()
    assert not at.exception and "cannot reach the service" in at.error[0].value


def test_therapist_forecasts_two_schedules(service: Server,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    at = _signed_in(service, monkeypatch, "ther")
    assert "Your patients" in [h.value for h in at.header]
    assert at.selectbox(key="patient").value.startswith("Alex")
    at.button(key="forecast").click().run()
    assert not at.exception and not at.error, at.error
    texts = " ".join(m.value for m in at.markdown)
    assert "Difference in mean pain (recovery_then_maintenance minus recovery_then_stop)" in texts
    assert "meaningful difference" in texts or "by at least 1 point" in texts
    table = next(d.value for d in at.dataframe if "schedule" in d.value.columns)
    assert list(table["schedule"]) == ["recovery_then_maintenance", "recovery_then_stop"]
    assert len(at.get("download_button")) == 2


def test_therapist_adds_a_score(service: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _signed_in(service, monkeypatch, "ther")
    at.number_input(key="score_day").set_value(31.0)
    at.slider(key="score_value").set_value(3)
    next(b for b in at.button if b.label == "Add score").click().run()
    assert not at.exception and not at.error
    h = token(service.url, "ther", PW)
    pid = httpx.get(f"{service.url}/v1/patients", headers=h).json()[0]["id"]
    pain = httpx.get(f"{service.url}/v1/patients/{pid}/history", headers=h).json()["pain"]
    assert {"day": 31.0, "score": 3} in pain
    assert "Stored: day 31, score 3." in [m.value for m in at.success]  # said, not silent
    delete = next(b for b in at.button if b.key.startswith("delete_score_"))
    delete.click().run()
    assert not at.exception and not at.error
    assert any(m.value.startswith("Deleted the score 3 on day 31") for m in at.success)
    pain = httpx.get(f"{service.url}/v1/patients/{pid}/history", headers=h).json()["pain"]
    assert {"day": 31.0, "score": 3} not in pain


def test_patient_sees_plain_language_and_the_disclaimer(service: Server,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    at = _signed_in(service, monkeypatch, "pat")
    at.button(key="compare").click().run()
    assert not at.exception and not at.error
    texts = " ".join(m.value for m in at.markdown)
    assert "in 10** people like you are at 3 or below by week 12" in texts
    assert "does not replace" in at.info[0].value


def test_analyst_sees_the_served_model_and_its_diagnostics(service: Server,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    at = _signed_in(service, monkeypatch, "ana")
    assert "Cohorts, refits and models" in [h.value for h in at.header]
    labels = [e.label for e in at.expander]
    assert any("(served)" in x and "diagnostics passed" in x for x in labels), labels
    assert not any(b.label == "Promote to serve" for b in at.button)
    table = next(d.value for d in at.dataframe if "served" in d.value.columns)
    assert list(table["served"]) == ["yes"] and list(table["diagnostics"]) == ["passed"]


def test_cohort_upload_errors_become_a_table(service: Server) -> None:
    """The analyst page's refusal path: the service's 422 problems, row by row."""
    with httpx.Client(base_url=service.url) as http:
        c = ServiceClient(http)
        c.sign_in("ana", PW)
        bad = {"patients": ("patients.csv", b"patient_id\nP1\n"),
               "sessions": ("sessions.csv", b"patient_id,day,kind\nP1,1,massage\n"),
               "pain": ("pain.csv", b"patient_id,day,score\nP1,1,12\nP2,2,3\n")}
        with pytest.raises(ServiceError) as exc:
            c.upload_cohort("bad", bad)
    table = problems_table(exc.value.details)
    assert exc.value.status == 422 and len(table) == 2
    assert set(table["file"]) == {"pain.csv"} and set(table["column"]) == {"score",
                                                                           "patient_id"}


def _trust_page(result: dict) -> None:
    from recovery.dashboard.app import show_trust

    show_trust(result)


@pytest.mark.parametrize("low", [True, False])
def test_forecast_trust_is_shown_beside_the_chart(low: bool) -> None:
    update = {"method": "smc", "ess": 150.0 if low else 1900.0, "low_ess": low,
              "warning": "this forecast rests on only 150 effective posterior draws" if low
              else None}
    calibration = {"coverage_50": 0.58, "coverage_90": 0.93, "held_out_scores": 1896}
    at = AppTest.from_function(_trust_page, args=({"update": update,
                                                   "calibration": calibration},)).run()
    assert not at.exception
    if low:
        assert "Low confidence" in at.warning[0].value and "150" in at.warning[0].value
    else:
        assert not at.warning and "1900 effective posterior draws" in at.caption[0].value
    assert "90 % bands held 93%" in at.caption[-1].value


def test_a_failed_refit_says_what_failed_and_what_to_try() -> None:
    from recovery.dashboard.views import models_side_by_side, refit_advice

    d = {"method": "nuts", "passed": False, "max_rhat": 1.004, "min_ess_bulk": 540.0,
         "min_ess_tail": 384.0, "worst_ess_var": "patient_sd[relief]", "worst_rhat_var": "x",
         "divergences": 0, "draws": 1000, "tune": 1000, "n_patients": 30,
         "problems": ["min ESS bulk 540 / tail 384 < 400 (patient_sd[relief])"]}
    (tip,) = refit_advice(d)
    assert "tail ESS 384 of 400" in tip and "patient_sd[relief]" in tip
    assert "about 1300 draws per chain (from 1000)" in tip  # 1000 x 400 / 384 x 1.2, rounded up
    slow = refit_advice(d | {"max_rhat": 1.05, "worst_rhat_var": "floor", "divergences": 3})
    assert len(slow) == 3 and "R-hat 1.050" in slow[1] and "2000" in slow[1]
    assert refit_advice(d | {"passed": True}) == [] and refit_advice({"method": "advi"}) == []
    table = models_side_by_side([{"id": "m", "served": False, "passed": False,
                                  "diagnostics": d, "evaluation": None}])
    assert table.loc[0, "min ESS bulk"] == 540 and table.loc[0, "min ESS tail"] == 384
