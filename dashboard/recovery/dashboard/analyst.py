"""The analyst's page: cohorts, refits with their gate and advice, the drift monitor, and
models side by side."""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from recovery.charts.interactive import calibration_chart, drift_chart
from recovery.dashboard.client import ServiceClient, ServiceError
from recovery.dashboard.common import client, fetched, guarded, show_done, show_error
from recovery.dashboard.views import (
    diagnostics_line,
    evaluation_table,
    models_side_by_side,
    phenomena_table,
    problems_table,
    promotion_table,
    refit_advice,
    subsample_line,
    trials_frame,
    worse_on,
)

__all__ = ["analyst_page"]


def analyst_page() -> None:
    """Store a cohort, start and follow refits, watch drift, compare and promote models."""
    c = client()
    st.header("Cohorts, refits and models")
    show_done()
    upload_form(c)
    listed = fetched(lambda: (c.cohorts(), c.models()))
    if listed is None:
        return
    cohorts, models = listed
    if cohorts:
        refit_form(c, cohorts)
    refits(c)
    drift_monitor(c)
    st.subheader("Models")
    if models:
        st.table(models_side_by_side(models))
        st.caption("Patients: how many the model was fitted to; the rest of the cohort was "
                   "held out to test its forecasts (coverage and CRPS are on those).")
        if st.button("Roll back to the previously served model", key="rollback"):
            guarded(c.rollback, "Rolled back: the previously served model is served again.")
    served = next((m for m in models if m["served"]), None)
    for m in models:
        with st.expander(diagnostics_line(m)):
            model_view(c, m, served)


def upload_form(c: ServiceClient) -> None:
    """A cohort's three tables, stored whole or refused with every problem listed."""
    with st.form("upload"):
        st.caption("Three tables as CSV or Parquet (the three together up to 20 MB); an "
                   "example is in data/demo_cohort/.")
        name = st.text_input("Cohort name", "new cohort", key="cohort_name")
        files = {t: st.file_uploader(f"{t} (CSV or Parquet)", type=["csv", "parquet"],
                                     key=f"file_{t}") for t in ("patients", "sessions", "pain")}
        if not st.form_submit_button("Store cohort"):
            return
        if any(f is None for f in files.values()):
            st.warning("Choose all three files.")
            return
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


def refit_form(c: ServiceClient, cohorts: list[dict[str, Any]]) -> None:
    """Choose a cohort and the sampler's settings, and queue a refit."""
    labels = {f"{x['name']} ({x['n_patients']} patients, {x['id'][:6]})": x["id"]
              for x in cohorts}
    chosen = st.selectbox("Cohort to refit", list(labels), key="refit_cohort")
    method = st.radio("Method", ["nuts", "advi"], horizontal=True, key="method",
                      format_func={"nuts": "Full fit (NUTS)", "advi": "Quick look (ADVI: "
                                   "approximate, minutes, never served)"}.__getitem__)
    a, b, cc, d, e = st.columns(5)
    draws = a.number_input("Draws per chain (at least)", 100, 20000, 1000, step=100,
                           key="draws", help="sampling goes on, up to 10 times this, "
                           "until R-hat, ESS and divergences pass")
    tune = b.number_input("Tuning per chain", 100, 20000, 1000, step=100, key="tune")
    chains = cc.number_input("Chains", 2, 8, 2, key="chains",
                             help="at least 2: R-hat compares chains")
    seed = d.number_input("Seed", 0, 2**31 - 1, 1, key="seed")
    budget = e.number_input("Time budget (minutes)", 1, 1440, 60, key="budget",
                            help="sampling stops then and keeps what it has drawn")
    if st.button("Start refit", key="refit"):
        guarded(lambda: c.start_fit(labels[chosen], int(draws), int(tune), method,
                                    int(chains), int(seed), float(budget)),
                "Refit queued.")


@st.fragment(run_every=3)
def refits(c: ServiceClient) -> None:
    """The latest refits' progress, redrawn every 3 s on its own (the rest of the page stays
    as it is while a refit runs)."""
    st.subheader("Refits")
    jobs = fetched(c.jobs)
    if not jobs:
        st.caption("No refits yet.")
        return
    for j in jobs[:10]:
        st.progress(j["progress"], text=f"{j['id'][:8]} {j['status']}: {j['message']}")
    done = {j["id"] for j in jobs if j["status"] == "succeeded"}
    seen = st.session_state.setdefault("finished_refits", done)
    if done - seen:  # a refit just made a model: redraw the page so the list shows it
        st.session_state["finished_refits"] = done
        st.rerun()


def model_view(c: ServiceClient, m: dict[str, Any], served: dict[str, Any] | None) -> None:
    """One model: its problems and advice, held-out evaluation, plots, phenomena, promotion."""
    d = m["diagnostics"]
    if d.get("problems"):
        st.error("; ".join(d["problems"]))
    if (scope := subsample_line(d)) is not None:
        st.info(scope)
    for tip in refit_advice(d):
        st.info(tip)
    if m["evaluation"]:
        ev = m["evaluation"]
        st.caption(f"Held out: the last {ev.get('holdout_days', 0):g} days of "
                   f"{ev.get('patients', '?')} patients the model did not see.")
        st.table(evaluation_table(ev))
        st.altair_chart(calibration_chart(ev["methods"]), width="stretch")
        st.caption("Each band's nominal coverage against the share of held-out scores inside "
                   "it; dashed: perfect calibration.")
    for plot in ("trace.png", "ppc.png"):
        try:
            st.image(c.model_plot(m["id"], plot), caption=plot)
        except ServiceError:
            st.caption(f"no {plot} for this model")
    phenomena_view(c, m["id"])
    if not m["served"]:
        promotion(c, m, served)


def promotion(c: ServiceClient, m: dict[str, Any], served: dict[str, Any] | None) -> None:
    """The candidate beside the served model; a confirmation when it is worse on anything."""
    known = st.session_state.setdefault("phenomena_counts", {})
    st.markdown("**Promote: this model beside the one served now**")
    st.table(promotion_table(m, served, known))
    worse = worse_on(m, served, known)
    confirmed = True
    if worse:
        st.warning("This model is worse than the served one on: " + "; ".join(worse) + ".")
        confirmed = st.checkbox("Serve it anyway: I have read the comparison",
                                key=f"worse_ok_{m['id']}")
    anyway = False
    if narrow := m.get("narrow_bands"):
        st.warning(f"On held-out patients its {narrow}: its forecasts would claim more "
                   "certainty than they have.")
        anyway = st.checkbox("Serve it anyway", key=f"anyway_{m['id']}")
    if st.button("Promote to serve", key=f"promote_{m['id']}", disabled=not confirmed):
        guarded(partial(c.promote, m["id"], anyway), f"Now serving {m['id']}.")


def drift_monitor(c: ServiceClient) -> None:
    """The served model's forecasts against the scores entered since: by week, by therapist,
    and whether a refit is suggested."""
    st.subheader("Drift: do the served model's forecasts still hold?")
    report = fetched(c.monitor)
    if report is None:
        return
    if report["refit_suggested"]:
        st.error("Refit suggested. " + " ".join(report["reasons"]))
    elif report["judged"]:
        st.success(" ".join(report["reasons"]))
    else:
        st.info(" ".join(report["reasons"]))
    if not report["weeks"]:
        return
    st.altair_chart(drift_chart(report), width="stretch")
    st.caption(f"{report['scores']} scores entered after forecasts of model "
               f"{report['model_version']}, each against the forecast made before it. Dashed: "
               "the bands' coverage on held-out patients when the model was evaluated.")
    st.table(pd.DataFrame(report["therapists"]).rename(columns={
        "label": "therapist", "coverage_50": "inside 50 % band", "coverage_90":
        "inside 90 % band", "crps": "CRPS"}))


def phenomena_view(c: ServiceClient, model_id: str) -> None:
    """The model's phenomena report: each claim of the articles, measured, with its chart."""
    if not st.button("Phenomena report (about a minute the first time)",
                     key=f"phenomena_{model_id}"):
        return
    with st.spinner("Forecasting the phenomena cases..."):
        report = fetched(lambda: c.phenomena(model_id))
    if report is None:
        return
    st.session_state.setdefault("phenomena_counts", {})[model_id] = (report["passed"],
                                                                     report["total"])
    st.markdown(f"**{report['passed']} of {report['total']}** claims hold for this model.")
    st.table(phenomena_table(report))
    if report.get("trials"):
        st.markdown("**Published trials re-run as forecasts** (18 chronic patients, each arm "
                    "their schedule):")
        st.dataframe(trials_frame(report), hide_index=True)
    for case in report["cases"]:
        try:
            st.image(c.phenomena_chart(model_id, case["key"]), caption=case["claim"])
        except ServiceError:
            st.caption(f"no chart for {case['claim']}")
