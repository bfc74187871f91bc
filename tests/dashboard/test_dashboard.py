"""Dashboard page logic with Streamlit's AppTest, against a real running service."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import textstat
from streamlit.testing.v1 import AppTest

from recovery.dashboard.client import ServiceClient, ServiceError
from recovery.dashboard.views import problems_table, trials_frame
from tests.dashboard.conftest import PW
from tests.helpers import CLOCK, ROOT
from tests.live import Server, token

APP = str(ROOT / "dashboard" / "recovery" / "dashboard" / "app.py")


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
    assert not at.exception
    assert "cannot reach the service" in at.error[0].value


def _click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def test_therapist_forecasts_two_schedules_in_words(service: Server,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    at = _signed_in(service, monkeypatch, "ther")
    assert "Your patients" in [h.value for h in at.header]
    assert at.selectbox(key="patient").value is not None
    assert "Alex (since 1 January 2025)" in at.selectbox(key="patient").options
    assert len(at.get("vega_lite_chart")) == 1  # the diary, interactive
    at.button(key="forecast").click().run()
    assert not at.exception, at.error
    assert not at.error, at.error
    texts = " ".join(m.value for m in at.markdown)
    assert ("Difference in mean pain (“twice a week for 6 weeks, then every 3 weeks from then "
            "on” minus “twice a week for 6 weeks, then stop”)") in texts
    assert "No meaningful difference" in texts or "by at least 1 point" in texts
    table = next(t.value for t in at.table if "schedule" in t.value.columns)
    assert list(table["schedule"]) == ["twice a week for 6 weeks, then every 3 weeks from "
                                       "then on", "twice a week for 6 weeks, then stop"]
    assert "cost (EUR)" in table.columns
    assert "better than today by" in table.columns
    assert not any(re.search(r"\bday \d", str(v)) for v in table.to_numpy().ravel())
    # diary, the fan (wide screens), one per plan (phones) and the parts
    assert len(at.get("vega_lite_chart")) == 1 + 1 + 2 + 1
    assert len(at.get("download_button")) == 2
    page = " ".join(x.value for kind in (at.markdown, at.caption) for x in kind)
    assert "effective posterior draws" not in page
    assert "recovery_then" not in page  # schedules by their names, never code names
    at.session_state["section"] = "Past forecasts"  # the forecast just made, vs since
    at.run()
    assert not at.exception
    assert any("No scores recorded since" in c.value or "scores recorded since" in c.value
               for c in at.caption)


def test_four_schedules_are_drawn_as_small_multiples(service: Server,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    at = _signed_in(service, monkeypatch, "ther")
    at.multiselect(key="presets").set_value(["recovery_then_stop", "recovery_then_maintenance",
                                             "weekly_taper", "stop_start"]).run()
    at.button(key="forecast").click().run()
    assert not at.exception
    assert not at.error
    # the diary, one per schedule on wide screens and again on phones, the parts
    assert len(at.get("vega_lite_chart")) == 1 + 4 + 4 + 1


def test_therapist_sees_why_when_to_book_and_the_frontier(
        service: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the forecast, its parts in words and a chart for each schedule; the booking date
    and its curves; the frontier of 60 schedules."""
    at = _signed_in(service, monkeypatch, "ther")
    at.button(key="forecast").click().run()
    assert not at.exception, at.error
    assert not at.error, at.error
    said = " ".join(m.value for m in at.markdown)
    assert "On “twice a week for 6 weeks, then every 3 weeks from then on”, expected pain on"\
        in said
    at.selectbox(key="explain_for").select_index(1).run()
    assert not at.exception
    assert "On “twice a week for 6 weeks, then stop”" in " ".join(m.value for m in at.markdown)
    at.session_state["section"] = "When to book"
    at.run()
    _click(at, "When to book")
    said = " ".join(m.value for m in at.markdown)
    assert any(x in said for x in ("Book the next session", "No session is needed",
                                   "not yet low enough"))
    assert len(at.get("vega_lite_chart")) == 2  # the diary and the booking curves
    at.session_state["section"] = "Sessions against pain"
    at.run()
    _click(at, "Draw the frontier")
    assert not at.error
    assert len(at.get("vega_lite_chart")) == 2
    assert any("no other beats on both" in c.value for c in at.caption)


def test_therapist_adds_corrects_and_undoes_by_date(service: Server,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    at = _signed_in(service, monkeypatch, "ther")
    at.date_input(key="score_date").set_value(date(2025, 2, 1))
    at.slider(key="score_value").set_value(3)
    _click(at, "Add score")
    assert not at.error
    h = token(service.url, "ther", PW)
    pid = httpx.get(f"{service.url}/v1/patients", headers=h).json()[0]["id"]

    def pain() -> list[dict[str, float]]:
        return list(httpx.get(f"{service.url}/v1/patients/{pid}/history",
                              headers=h).json()["pain"])

    assert {"day": 31.0, "score": 3} in pain()
    assert "Stored the score 3 on 1 February 2025." in [m.value for m in at.success]  # said
    _click(at, "Undo: remove the score 3 on 1 February 2025")
    assert {"day": 31.0, "score": 3} not in pain()
    assert "Undone: remove the score 3 on 1 February 2025." in [m.value for m in at.success]
    _click(at, "Add score")
    assert any(b.label.startswith("Undo:") for b in at.button)
    at.number_input(key="horizon").set_value(119).run()  # another action: the Undo is gone
    assert not any(b.label.startswith("Undo:") for b in at.button)
    next(b for b in at.button if b.key.startswith("delete_score_")).click().run()
    assert not at.exception
    assert not at.error
    assert "Deleted the score 3 on 1 February 2025." in [m.value for m in at.success]
    assert {"day": 31.0, "score": 3} not in pain()
    _click(at, "Undo: restore the score 3 on 1 February 2025")
    assert {"day": 31.0, "score": 3} in pain()
    before = pain()
    for wrong, said in ((date(2024, 12, 1), "before this record's start"),
                        (CLOCK + timedelta(days=30), "in the future")):
        at.date_input(key="score_date").set_value(wrong)  # the box takes it: the service
        _click(at, "Add score")                          # says what is wrong with it
        assert any(said in e.value for e in at.error), [e.value for e in at.error]
        assert pain() == before  # stored on no other date either


def test_scores_on_one_date_are_warned_about_and_all_shown(
        service: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _signed_in(service, monkeypatch, "ther")
    at.date_input(key="score_date").set_value(date(2025, 1, 20))
    at.slider(key="score_value").set_value(7)
    _click(at, "Add score")
    assert not at.warning
    at.slider(key="score_value").set_value(4)
    _click(at, "Add score")
    said = [w.value for w in at.warning]
    assert "2 scores on 20 January 2025 (7, 4): forecasts use the last entered, 4." in said[0]
    assert len(said) == 2  # beside the diary, and where it was entered
    h = token(service.url, "ther", PW)
    pid = httpx.get(f"{service.url}/v1/patients", headers=h).json()[0]["id"]
    for e in httpx.get(f"{service.url}/v1/patients/{pid}/entries", headers=h).json():
        if e["date"] == "2025-01-20":
            httpx.delete(f"{service.url}/v1/patients/{pid}/scores/{e['client_id']}",
                         headers=h).raise_for_status()


def test_a_patient_is_corrected_given_a_login_and_removed(
        service: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    h = token(service.url, "ther", PW)
    pid = httpx.post(f"{service.url}/v1/patients", headers=h, json={
        "name": "Casey", "start_date": "2025-03-01", "covariates": {"age": 40}}).json()["id"]
    at = _signed_in(service, monkeypatch, "ther")
    at.selectbox(key="patient").set_value(pid).run()
    at.text_input(key=f"edit_name_{pid}").input("Casey Brown")
    at.slider(key=f"edit_{pid}_stress").set_value(8)
    _click(at, "Save changes")
    got = httpx.get(f"{service.url}/v1/patients/{pid}", headers=h).json()
    assert (got["name"], got["covariates"]["stress"], got["covariates"]["age"]) == (
        "Casey Brown", 8, 40)
    assert any("has no login yet" in c.value for c in at.caption)
    at.text_input(key=f"login_name_{pid}").input("casey-b")
    at.text_input(key=f"login_pw_{pid}").input("a first password")
    _click(at, "Create their login")
    assert "Created the login casey-b for Casey Brown." in [m.value for m in at.success]
    assert any("signs in as **casey-b**" in c.value for c in at.caption)
    assert at.button(key=f"remove_{pid}").disabled  # not without saying yes
    at.checkbox(key=f"sure_{pid}").check().run()
    _click(at, "Remove the record")
    assert "Removed the record of Casey Brown." in [m.value for m in at.success]
    assert httpx.get(f"{service.url}/v1/patients/{pid}", headers=h).status_code == 404
    assert pid not in at.selectbox(key="patient").options


def test_an_administrator_manages_accounts_and_reads_the_audit(
        service: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _signed_in(service, monkeypatch, "root")
    assert "Accounts and audit" in [h.value for h in at.header]
    at.text_input(key="new_username").input("new-therapist")
    at.text_input(key="new_password").input("a long enough password")
    _click(at, "Create account")
    assert "Created the therapist account new-therapist." in [m.value for m in at.success]
    accounts = next(t.value for t in at.table if "username" in t.value.columns)
    assert "new-therapist" in list(accounts["username"])
    at.selectbox(key="account").set_value("new-therapist").run()
    _click(at, "Disable new-therapist")
    assert "Disabled the account new-therapist." in [m.value for m in at.success]
    trail = next(d.value for d in at.dataframe if "action" in d.value.columns)
    assert {"read", "write"} <= set(trail["action"])


@pytest.mark.parametrize(("setup", "expected"), [
    (lambda at: at.number_input(key="horizon").set_value(3650),
     "Horizon: choose 1 to 1095 days (three years); 3650 is outside that."),
    (lambda at: at.number_input(key="horizon").set_value(-5), "Horizon: choose 1 to 1095"),
    (lambda at: at.number_input(key="target").set_value(12),
     "Target score: choose 0 to 10; 12 is outside that."),
    (lambda at: at.number_input(key="margin").set_value(0),
     "Meaningful difference: choose 0.1 to 10 points; 0 is outside that."),
    (lambda at: at.multiselect(key="presets").set_value([]), "Schedules: choose at least one."),
    (lambda at: at.text_input(key="dates").input("2026-12-01, someday"),
     "'someday' is not a date like 2026-12-01."),
    (lambda at: at.text_input(key="dates").input("2025-01-05"), "is before the forecast starts"),
    (lambda at: at.text_input(key="custom_name").input(" "), "Name: give the schedule a name."),
])
def test_each_forecast_input_is_checked_beside_it(service: Server,
                                                 monkeypatch: pytest.MonkeyPatch, setup: Any,
                                                 expected: str) -> None:
    at = _signed_in(service, monkeypatch, "ther")
    setup(at)
    at.run()
    assert not at.exception
    assert any(expected in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key="forecast").disabled  # nothing is sent until it is fixed


def test_a_blank_row_in_a_built_schedule_is_named_not_a_traceback(
        service: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _signed_in(service, monkeypatch, "ther")
    editor = at.get("arrow_data_frame")  # the phases editor is not in AppTest's API yet
    assert editor is not None
    at.session_state["phases"] = {"edited_rows": {"0": {"kind": None}}, "added_rows": [],
                                  "deleted_rows": []}
    at.run()
    assert not at.exception
    assert any("Row 1: choose a session kind (massage, physio)." in e.value for e in at.error)
    assert at.button(key="forecast").disabled


def test_a_new_patient_needs_a_name_and_takes_age_and_structural_cause(
        service: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _signed_in(service, monkeypatch, "ther")
    _click(at, "Create")
    assert "Name: enter the patient's name." in [e.value for e in at.error]
    at.text_input(key="new_name").input("Blake")
    at.number_input(key="new_age").set_value(67)
    at.checkbox(key="new_structural").check()
    at.date_input(key="new_start").set_value(date(2026, 1, 5))
    at.date_input(key="new_pain_since").set_value(date(2025, 6, 1))
    _click(at, "Create")
    assert "Created the record of Blake, starting 2026-01-05." in [m.value for m in at.success]
    h = token(service.url, "ther", PW)
    made = next(p for p in httpx.get(f"{service.url}/v1/patients", headers=h).json()
                if p["name"] == "Blake")
    assert made["covariates"]["age"] == 67
    assert made["covariates"]["structural_cause"] == 1
    assert made["start_date"] == "2026-01-05"
    assert made["pain_since"] == "2025-06-01"  # the natural course runs from it
    assert any(e.label.startswith("What this model does not reproduce") for e in at.expander)
    assert at.selectbox(key="patient").value == made["id"]  # the next entry goes to Blake
    at.text_input(key="new_name").input("Blake")
    _click(at, "Create")  # the same form again (a double click): no second Blake
    assert len([p for p in httpx.get(f"{service.url}/v1/patients", headers=h).json()
                if p["name"] == "Blake"]) == 1
    assert at.selectbox(key="patient").value == made["id"]
    again = AppTest.from_file(APP, default_timeout=60)  # a new session, same address
    again.query_params["patient"] = made["id"]
    again.run()
    again.text_input(key="username").input("ther")
    again.text_input(key="password").input(PW)
    again.button[0].click().run()
    assert again.selectbox(key="patient").value == made["id"]


def test_an_expired_sign_in_asks_again_and_keeps_the_inputs(
        service: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _signed_in(service, monkeypatch, "ther")
    at.number_input(key="horizon").set_value(200).run()
    at.session_state["token"] = "expired.token.value"
    at.run()
    assert not at.exception
    assert "Your session expired. Sign in again as ther" in at.warning[0].value
    at.text_input(key="username").input("ther")
    at.text_input(key="password").input(PW)
    at.button[0].click().run()
    assert not at.exception
    assert at.number_input(key="horizon").value == 200


def test_an_unexpected_error_is_one_sentence_and_a_reference(
        service: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _signed_in(service, monkeypatch, "ther")
    at.session_state["catalogue"] = {"kinds": []}  # a page that cannot be drawn
    at.run()
    assert not at.exception
    (err,) = at.error
    assert err.value.startswith("Something went wrong on our side")
    assert "reference" in err.value


@pytest.mark.parametrize("who", ["ther", "pat", "ana", "root"])
def test_every_button_on_every_page_runs_without_a_raw_error(
        service: Server, monkeypatch: pytest.MonkeyPatch, who: str) -> None:
    """Walk each role's page: click every button there is (but signing out), one at a time."""
    at = _signed_in(service, monkeypatch, who)
    # signing out ends the walk; a refit is a slow test's job; a removal ends the record and
    # disabling an account another test signs in with is its own test's job
    skip = {"sign_out", "refit", "toggle_account",
            *(b.key for b in at.button if b.key.startswith("remove_"))}
    seen: set[str] = set()
    while todo := [b for b in at.button if b.key not in skip | seen and not b.disabled]:
        button = todo[0]
        seen.add(button.key)
        button.click().run()
        assert not at.exception, (button.key, at.exception)
        assert not [e for e in at.error if "Traceback" in e.value]
    assert seen, seen


def test_patient_compares_their_therapists_plan_in_plain_language(
        service: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    h = token(service.url, "ther", PW)
    pid = httpx.get(f"{service.url}/v1/patients", headers=h).json()[0]["id"]
    httpx.post(f"{service.url}/v1/patients/{pid}/plans", headers=h, json={
        "schedule": {"name": "Alex's fortnightly plan", "phases": [
            {"kind": "massage", "every_days": 14, "weeks": 12}]},
        "note": "Every other Friday."}).raise_for_status()
    at = _signed_in(service, monkeypatch, "pat")
    assert "Every other Friday." in at.info[0].value
    assert at.multiselect(key="patient_plans").value[0] == "Alex's fortnightly plan"
    at.button(key="compare").click().run()
    assert not at.exception
    assert not at.error
    texts = " ".join(m.value for m in at.markdown)
    assert "**Alex's fortnightly plan (your therapist's plan)**: **" in texts
    assert "**twice a week for 6 weeks, then stop**: **" in texts
    assert re.search(r"people like you are at 3 or below by \d+ \w+ 20\d\d", texts)
    assert "does not replace" in at.info[-1].value
    at.button(key="why").click().run()
    assert not at.exception, at.error
    assert not at.error, at.error
    said = " ".join(m.value for m in at.markdown)
    assert "On “your current plan”, expected pain on" in said
    assert any(x in said for x in ("Book the next session", "No session is needed",
                                   "not yet low enough"))
    page = " ".join(x.value for kind in (at.markdown, at.caption, at.info, at.warning,
                                         at.subheader) for x in kind)
    for jargon in ("posterior", "effective", "10 in 10", "0 in 10", "quantile"):
        assert jargon not in page, jargon
    plain = re.sub(r"[*_#`]", "", page)
    assert textstat.flesch_reading_ease(plain) >= 60, (textstat.flesch_reading_ease(plain),
                                                        plain)
    for plan in httpx.get(f"{service.url}/v1/patients/{pid}/plans", headers=h).json():
        httpx.delete(f"{service.url}/v1/patients/{pid}/plans/{plan['id']}", headers=h)


def test_analyst_sees_the_served_model_and_its_diagnostics(service: Server,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    at = _signed_in(service, monkeypatch, "ana")
    assert "Cohorts, refits and models" in [h.value for h in at.header]
    labels = [e.label for e in at.expander]
    assert any("(served)" in x and "diagnostics passed" in x for x in labels), labels
    assert not any(b.label == "Promote to serve" for b in at.button)
    table = next(t.value for t in at.table if "served" in t.value.columns)
    assert list(table["served"]) == ["yes"]
    assert list(table["diagnostics"]) == ["passed"]
    bundled = json.loads((ROOT / "data" / "default_model" / "evaluation.json").read_text())
    model = bundled["methods"]["model"]
    assert list(table["CRPS"]) == [f"{model['crps']:.3f}"]
    assert list(table["inside 90 % band"]) == [f"{model['coverage_90']:.0%}"]
    assert list(table["held out"]) == [bundled["patients"]]
    assert "Drift: do the served model's forecasts still hold?" in [h.value for h in
                                                                   at.subheader]
    assert any("after this model's forecasts" in i.value or "Too few recent scores" in i.value
               for i in at.info), [i.value for i in at.info]
    at.button(key="rollback").click().run()
    assert "no previously served model" in at.error[0].value


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
    assert exc.value.status == 422
    assert len(table) == 2
    assert set(table["file"]) == {"pain.csv"}
    assert set(table["column"]) == {"score",
                                                                           "patient_id"}
    assert sorted(table["line"]) == [2, 3]  # as an editor numbers pain.csv's lines


def _trust_page(result: dict) -> None:
    from recovery.dashboard.common import show_trust

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
        assert "Low confidence" in at.warning[0].value
        assert "150" in at.warning[0].value
    else:
        assert not at.warning
        assert "Fitted to this patient's diary" in at.caption[0].value
        assert "effective" not in at.caption[0].value
    assert "90 % bands held 93% of the later scores" in at.caption[-1].value


def test_a_failed_refit_says_what_failed_and_what_to_try() -> None:
    from recovery.dashboard.views import models_side_by_side, refit_advice

    d = {"method": "nuts", "passed": False, "max_rhat": 1.004, "min_ess_bulk": 540.0,
         "min_ess_tail": 384.0, "worst_ess_var": "patient_sd[relief]", "worst_rhat_var": "x",
         "divergences": 0, "draws": 1000, "tune": 1000, "n_patients": 30,
         "problems": ["min ESS bulk 540 / tail 384 < 400 (patient_sd[relief])"]}
    (tip,) = refit_advice(d)
    assert "tail ESS 384 of 400" in tip
    assert "patient_sd[relief]" in tip
    assert "about 1300 draws per chain (from 1000)" in tip  # 1000 x 400 / 384 x 1.2, rounded up
    slow = refit_advice(d | {"max_rhat": 1.05, "worst_rhat_var": "floor", "divergences": 3})
    assert len(slow) == 3
    assert "R-hat 1.050" in slow[1]
    assert "2000" in slow[1]
    assert refit_advice(d | {"passed": True}) == []
    assert refit_advice({"method": "advi"}) == []
    table = models_side_by_side([{"id": "m", "served": False, "passed": False,
                                  "diagnostics": d, "evaluation": None}])
    assert table.loc[0, "min ESS bulk"] == 540
    assert table.loc[0, "min ESS tail"] == 384


def test_a_subsample_fit_says_what_its_diagnostics_are_of() -> None:
    from recovery.dashboard.views import models_side_by_side, subsample_line

    d = {"method": "nuts", "passed": True, "max_rhat": 1.004, "min_ess_bulk": 540.0,
         "min_ess_tail": 450.0, "divergences": 0, "n_patients": 300, "strategy": "subsample",
         "cohort_update": {"patients": 2000, "updated": 2000, "failed": 0, "ess_min": 212.4,
                           "ess_median": 960.0, "low_ess": 0, "smc": 3, "seconds": 300.0,
                           "workers": 2}}
    line = subsample_line(d)
    assert line is not None
    assert "NUTS on a stratified 300 of 2000 patients" in line
    assert "at least 212 (median 960)" in line
    assert subsample_line(d | {"cohort_update": None, "strategy": "full"}) is None
    table = models_side_by_side([{"id": "m", "served": True, "passed": True,
                                  "diagnostics": d, "evaluation": None}])
    assert table.loc[0, "patients"] == "300 of 2000 by NUTS"


def test_trial_yardsticks_read_as_a_table() -> None:
    """The committed report's trial rows, as the analyst's page shows them."""
    report = json.loads((ROOT / "docs" / "phenomena" / "phenomena.json").read_text())
    table = trials_frame(report)
    assert len(table) == len(report["trials"])
    assert {"Cherkin 2011", "Costa 2012", "Eklund 2018"} <= set(table["trial"])
    below = [t["verdict"] == "below" for t in report["trials"]]
    assert list(table["verdict"] == "model below the published range") == below
    assert trials_frame({"cases": []}).empty  # a report from before the yardsticks


def test_booking_words_never_say_stay_away_and_come_now_together() -> None:
    from recovery.dashboard.words import booking_words

    start = date(2026, 1, 1)
    staying = {"return_level": 5.0, "median_return_date": None, "days": list(range(56)),
               "p_returned": [0.0] * 56, "book_by_date": "2026-03-01", "keeps_level": False}
    said = booking_words(staying, 3, 0.7, start)
    assert "unlikely to come back" in said
    assert "Book the next session now" not in said
    assert "not yet low enough" in said
    returning = {**staying, "median_return_date": "2026-03-20"}
    assert "Book the next session now" in booking_words(returning, 3, 0.7, start)
    assert "by **20 March 2026**" in booking_words(returning, 3, 0.7, start)
