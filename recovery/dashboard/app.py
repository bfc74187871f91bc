"""Recovery dashboard (Streamlit). Run with `recovery dashboard`; it needs only the service URL
(RECOVERY_SERVICE_URL) and talks to the service over HTTP: therapists forecast their patients,
patients compare schedules in plain language, analysts refit and promote models."""

from __future__ import annotations

import io
import os
import time
from typing import Any

import httpx
import matplotlib.pyplot as plt
import pandas as pd
import streamlit as st

from recovery.charts import fan_chart
from recovery.dashboard.client import ServiceClient, ServiceError
from recovery.dashboard.views import (
    diagnostics_line,
    forecast_csv,
    models_side_by_side,
    phenomena_table,
    problems_table,
    refit_advice,
    summary_table,
)

PRESETS = ["recovery_then_stop", "recovery_then_maintenance", "weekly_taper", "stop_start",
           "none"]
PLAIN = {"recovery_then_stop": "twice a week for 6 weeks, then stop",
         "recovery_then_maintenance": "twice a week for 6 weeks, then every 3 weeks",
         "weekly_taper": "weekly for 12 weeks, then tapering", "stop_start": "4 weeks on, 6 off",
         "none": "no sessions"}


@st.cache_resource
def _http(url: str) -> httpx.Client:
    """One connection pool per service URL for the whole dashboard process."""
    return httpx.Client(base_url=url, timeout=120.0)


def client() -> ServiceClient:
    url = os.environ.get("RECOVERY_SERVICE_URL", "http://127.0.0.1:8000")
    return ServiceClient(_http(url), st.session_state.get("token"))


def show_error(exc: ServiceError) -> None:
    st.error(f"The service refused this: {exc}")


def sign_in() -> None:
    st.title("Recovery")
    st.caption("Pain forecasts under massage and physiotherapy schedules")
    with st.form("sign_in"):
        username = st.text_input("Username", key="username")
        password = st.text_input("Password", type="password", key="password")
        if st.form_submit_button("Sign in"):
            c = client()
            try:
                st.session_state["user"] = c.sign_in(username, password)
                st.session_state["token"] = c.token
                st.rerun()
            except ServiceError as exc:
                st.error("Wrong username or password." if exc.status == 401 else str(exc))


def timeline(history: dict[str, Any]) -> None:
    st.image(_timeline_png(history))


@st.cache_data(max_entries=64, show_spinner=False)
def _timeline_png(history: dict[str, Any]) -> bytes:
    """The diary timeline as PNG (cached: reruns redraw only when the history changes)."""
    pain = pd.DataFrame(history["pain"])
    fig, ax = plt.subplots(figsize=(10, 2.6))
    if len(pain):
        ax.plot(pain["day"], pain["score"], "o-", ms=3, lw=0.8, color="k", label="pain")
    for i, s in enumerate(history["sessions"]):
        ax.axvline(s["day"], color="tab:blue" if s["kind"] == "massage" else "tab:green",
                   alpha=0.35, lw=1, label=s["kind"] if i == 0 else None)
    ax.set_ylim(0, 10)
    ax.set_xlabel("day")
    ax.set_ylabel("pain 0-10")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def schedule_builder() -> list[dict[str, Any]]:
    """Presets plus an optional custom schedule of phases, or of dates."""
    chosen = st.multiselect("Schedules to compare", PRESETS,
                            default=["recovery_then_maintenance", "recovery_then_stop"],
                            key="presets")
    kind = st.selectbox("Session kind for presets", ["massage", "physio"], key="preset_kind")
    specs: list[dict[str, Any]] = [{"name": p, "kind": kind} for p in chosen]
    with st.expander("Build your own schedule"):
        name = st.text_input("Name", value="custom plan", key="custom_name")
        phases = st.data_editor(pd.DataFrame(
            [{"kind": "massage", "every_days": 7.0, "weeks": 4.0},
             {"kind": "massage", "every_days": None, "weeks": 4.0}]),
            num_rows="dynamic", key="phases")
        dates = st.text_input("...or session days (comma separated, absolute)", key="dates")
        if st.checkbox("Include this schedule", key="use_custom"):
            if dates.strip():
                try:
                    days = [float(x) for x in dates.replace(" ", "").split(",") if x]
                except ValueError:
                    st.warning("Session days must be numbers separated by commas.")
                    days = []
                specs.append({"name": name, "session_days": days, "kind": kind})
            else:
                rows = phases.dropna(subset=["weeks"]).to_dict("records")
                specs.append({"name": name, "phases": [
                    {"kind": r["kind"], "weeks": float(r["weeks"]),
                     "every_days": None if pd.isna(r["every_days"]) else float(r["every_days"])}
                    for r in rows]})
    return specs


def chart_png(history: dict[str, Any], result: dict[str, Any], target: float) -> bytes:
    fig = fan_chart(history, result, target)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def therapist_page() -> None:
    c = client()
    st.header("Your patients")
    try:
        patients = c.patients()
    except ServiceError as exc:
        show_error(exc)
        return
    with st.expander("New patient"), st.form("new_patient"):
        name = st.text_input("Name", key="new_name")
        chronic = st.checkbox("Chronic pain (over 3 months)", key="new_chronic")
        adherence = st.slider("Home-exercise adherence", 0.0, 1.0, 0.5, key="new_adh")
        stress = st.slider("Stress (0-10)", 0, 10, 5, key="new_stress")
        if st.form_submit_button("Create"):
            try:
                c.create_patient(name, {"chronic": float(chronic), "adherence": adherence,
                                        "stress": float(stress)})
                st.rerun()
            except ServiceError as exc:
                show_error(exc)
    if not patients:
        st.info("No patients yet.")
        return
    labels = {f"{p['name']} ({p['id'][:6]})": p["id"] for p in patients}
    pid = labels[st.selectbox("Patient", list(labels), key="patient")]
    if done := st.session_state.pop("done", None):
        st.success(done)
    history = c.history(pid)
    timeline(history)
    col1, col2 = st.columns(2)
    with col1, st.form("add_score"):
        day = st.number_input("Day", min_value=0.0, step=1.0, key="score_day")
        score = st.slider("Pain score", 0, 10, 5, key="score_value")
        if st.form_submit_button("Add score"):
            _guarded(lambda: c.add_score(pid, day, score), f"Stored: day {day:g}, score {score}.")
    with col2, st.form("add_session"):
        sday = st.number_input("Day", min_value=0.0, step=1.0, key="session_day")
        skind = st.selectbox("Kind", ["massage", "physio"], key="session_kind")
        if st.form_submit_button("Add session"):
            _guarded(lambda: c.add_session(pid, sday, skind),
                     f"Stored: a {skind} session on day {sday:g}.")
    corrections(c, pid)
    st.subheader("Forecast")
    specs = schedule_builder()
    horizon = st.number_input("Horizon (days)", 7, 1095, 120, key="horizon")
    target = st.number_input("Target score", 0.0, 10.0, 3.0, step=1.0, key="target")
    if st.button("Forecast", type="primary", key="forecast"):
        with st.spinner("Forecasting..."):
            try:
                st.session_state["result"] = c.forecast(pid, {
                    "schedules": specs, "horizon_days": int(horizon), "target_score": target})
                st.session_state["result_for"] = pid
            except ServiceError as exc:
                show_error(exc)
    result = st.session_state.get("result")
    if result and st.session_state.get("result_for") == pid:
        show_forecast(history, result, target)
        if st.button("Suggest the cheapest schedule that reaches the target", key="optimise"):
            with st.spinner("Searching schedules..."):
                try:
                    best = c.optimise(pid, {"target_score": target, "level": 0.8,
                                            "horizon_days": min(int(horizon), 365)})
                    if best["best"] is None:
                        st.warning("No schedule in the search reaches an 80 % chance.")
                    else:
                        s = best["best_summary"]
                        st.success(f"Suggested: **{best['best']['name']}** — {s['sessions']} "
                                   f"sessions, cost {s['cost']:g}, "
                                   f"{s['p_target_at_horizon']:.0%} chance of reaching "
                                   f"{target:g} or below.")
                except ServiceError as exc:
                    show_error(exc)


def show_trust(result: dict[str, Any]) -> None:
    """How far to trust the forecast: a warning when the update rests on too few draws, and
    the model's measured held-out calibration."""
    u, cal = result["update"], result.get("calibration")
    if u.get("low_ess"):
        st.warning(f"Low confidence: {u['warning']}.")
    else:
        st.caption(f"Conditioned on the diary by {u['method']} ({u['ess']:.0f} effective "
                   "posterior draws).")
    if cal:
        st.caption(f"On held-out future scores this model's 90 % bands held "
                   f"{cal['coverage_90']:.0%} of them and its 50 % bands {cal['coverage_50']:.0%}"
                   f" ({cal['held_out_scores']} scores).")


def show_forecast(history: dict[str, Any], result: dict[str, Any], target: float) -> None:
    png = chart_png(history, result, target)  # drawn once: shown and offered for download
    show_trust(result)
    st.image(png)
    st.dataframe(summary_table(result), hide_index=True)
    for comp in result["comparisons"]:
        st.write(f"{comp['verdict']} Difference in mean pain ({comp['a']} minus {comp['b']}): "
                 f"{comp['mean_difference']:+.2f}.")
    st.download_button("Download forecast (CSV)", forecast_csv(result), "forecast.csv",
                       "text/csv", key="csv")
    st.download_button("Download chart (PNG)", png, "forecast.png", "image/png", key="png")
    st.caption(f"Model version {result['model_version']}")


def patient_page() -> None:
    c = client()
    user = st.session_state["user"]
    st.header("Your recovery")
    try:
        history = c.history(user["patient_id"])
    except ServiceError as exc:
        show_error(exc)
        return
    timeline(history)
    chosen = st.multiselect("Plans to compare (up to 3)", PRESETS, max_selections=3,
                            default=["recovery_then_maintenance", "recovery_then_stop"],
                            format_func=lambda p: PLAIN[p], key="patient_plans")
    weeks = st.slider("Look ahead (weeks)", 4, 52, 12, key="weeks")
    target = st.slider("A pain level you would be happy with", 0, 10, 3, key="ptarget")
    if st.button("Compare", type="primary", key="compare") and chosen:
        with st.spinner("Working it out..."):
            try:
                result = c.forecast(user["patient_id"], {
                    "schedules": [{"name": p} for p in chosen], "horizon_days": 7 * weeks,
                    "target_score": float(target)})
            except ServiceError as exc:
                show_error(exc)
                return
        for f in result["forecasts"]:
            p = f["summary"]["p_target_at_horizon"]
            st.markdown(f"**{PLAIN.get(f['name'], f['name'])}**: about **{round(10 * p)} in 10** "
                        f"people like you are at {target} or below by week {weeks} on this plan "
                        f"({f['summary']['sessions']} sessions).")
        show_trust(result)
        st.image(chart_png(history, result, float(target)))
        st.caption("The shaded bands show the range of likely outcomes: the darker band holds "
                   "half of them, the lighter one 9 in 10. Nobody can promise a result.")
    st.info("This supports, and does not replace, your therapist's advice.")


def analyst_page() -> None:
    c = client()
    st.header("Cohorts, refits and models")
    with st.form("upload"):
        name = st.text_input("Cohort name", "new cohort", key="cohort_name")
        files = {t: st.file_uploader(f"{t} (CSV or Parquet)", type=["csv", "parquet"],
                                     key=f"file_{t}") for t in ("patients", "sessions", "pain")}
        if st.form_submit_button("Store cohort"):
            if any(f is None for f in files.values()):
                st.warning("Choose all three files.")
            else:
                try:
                    got = c.upload_cohort(name, {t: (f.name, f.getvalue())
                                                 for t, f in files.items() if f is not None})
                    st.success(f"Stored cohort {got['name']}: {got['n_patients']} patients.")
                except ServiceError as exc:
                    st.error("The cohort was refused; nothing was stored.")
                    if exc.details:
                        st.dataframe(problems_table(exc.details), hide_index=True)
                    else:
                        show_error(exc)
    try:
        cohorts, jobs, models = c.cohorts(), c.jobs(), c.models()
    except ServiceError as exc:
        show_error(exc)
        return
    if cohorts:
        labels = {f"{x['name']} ({x['n_patients']} patients, {x['id'][:6]})": x["id"]
                  for x in cohorts}
        chosen = st.selectbox("Cohort to refit", list(labels), key="refit_cohort")
        method = st.radio("Method", ["nuts", "advi"], horizontal=True, key="method",
                          format_func={"nuts": "Full fit (NUTS)", "advi": "Quick look (ADVI: "
                                       "approximate, minutes, never served)"}.__getitem__)
        a, b, cc, d = st.columns(4)
        draws = a.number_input("Draws per chain", 100, 20000, 1000, step=100, key="draws")
        tune = b.number_input("Tuning per chain", 100, 20000, 1000, step=100, key="tune")
        chains = cc.number_input("Chains", 1, 8, 2, key="chains")
        seed = d.number_input("Seed", 0, 2**31 - 1, 1, key="seed")
        if st.button("Start refit", key="refit"):
            _guarded(lambda: c.start_fit(labels[chosen], int(draws), int(tune), method,
                                         int(chains), int(seed)), "Refit queued.")
    st.subheader("Refits")
    for j in jobs[:10]:
        st.progress(j["progress"], text=f"{j['id'][:8]} {j['status']}: {j['message']}")
    busy = any(j["status"] in ("queued", "running") for j in jobs)
    if busy and st.checkbox("Follow progress (refresh every 3 s)", value=True, key="follow"):
        time.sleep(3)
        st.rerun()
    st.subheader("Models")
    if models:
        st.dataframe(models_side_by_side(models), hide_index=True)
    for m in models:
        d = m["diagnostics"]
        with st.expander(diagnostics_line(m)):
            if d.get("problems"):
                st.error("; ".join(d["problems"]))
            for tip in refit_advice(d):
                st.info(tip)
            if m["evaluation"]:
                ev = m["evaluation"]["methods"]
                st.dataframe(pd.DataFrame({n: {k: v for k, v in s.items() if k != "calibration"}
                                           for n, s in ev.items()}).T)
                st.caption("Calibration on held-out scores: observed against nominal coverage")
                st.line_chart(pd.DataFrame({n: s["calibration"] for n, s in ev.items()}))
            for plot in ("trace.png", "ppc.png"):
                try:
                    st.image(c.model_plot(m["id"], plot), caption=plot)
                except ServiceError:
                    st.caption(f"no {plot} for this model")
            phenomena_view(c, m["id"])
            if not m["served"] and st.button("Promote to serve", key=f"promote_{m['id']}"):
                _guarded(lambda m=m: c.promote(m["id"]))


def phenomena_view(c: ServiceClient, model_id: str) -> None:
    """The model's phenomena report: each claim of the articles, measured, with its chart."""
    if not st.button("Phenomena report (about a minute the first time)",
                     key=f"phenomena_{model_id}"):
        return
    with st.spinner("Forecasting the phenomena cases..."):
        try:
            report = c.phenomena(model_id)
        except ServiceError as exc:
            show_error(exc)
            return
    st.markdown(f"**{report['passed']} of {report['total']}** claims hold for this model.")
    st.dataframe(phenomena_table(report), hide_index=True)
    for case in report["cases"]:
        try:
            st.image(c.phenomena_chart(model_id, case["key"]), caption=case["claim"])
        except ServiceError:
            st.caption(f"no chart for {case['claim']}")


def corrections(c: ServiceClient, pid: str) -> None:
    """The latest entries, each removable: a wrong score or session is corrected here."""
    with st.expander("Recent entries: correct a mistake"):
        try:
            entries = c.entries(pid)
        except ServiceError as exc:
            show_error(exc)
            return
        if not entries:
            st.caption("Nothing entered yet.")
        for e in entries:
            what = f"score {e['value']}" if e["entry"] == "score" else f"{e['value']} session"
            text, button = st.columns([4, 1])
            text.write(f"Day {e['day']:g}: {what}")
            if button.button("Delete", key=f"delete_{e['entry']}_{e['client_id']}"):
                _guarded(lambda e=e: c.delete_entry(pid, e["entry"], e["client_id"]),
                         f"Deleted the {what} on day {e['day']:g}.")


def _guarded(action: Any, done: str | None = None) -> None:
    """Run a change; on success say so (after the page reloads), else say why not."""
    try:
        action()
        if done:
            st.session_state["done"] = done
        st.rerun()
    except ServiceError as exc:
        show_error(exc)


def main() -> None:
    st.set_page_config(page_title="Recovery", layout="wide")
    user = st.session_state.get("user")
    if not user:
        sign_in()
        return
    with st.sidebar:
        st.write(f"Signed in as **{user['username']}** ({user['role']})")
        if st.button("Sign out", key="sign_out"):
            st.session_state.clear()
            st.rerun()
    pages = {"therapist": therapist_page, "patient": patient_page, "analyst": analyst_page}
    page = pages.get(user["role"])
    if page is None:
        st.info("Administrators manage accounts with `recovery users create` or the API.")
        return
    page()


if __name__ == "__main__":  # streamlit runs the script as __main__; imports draw nothing
    main()
