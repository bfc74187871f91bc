"""The analyst's page: cohorts, refits with their gate and advice, the drift monitor, and
models side by side."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from recovery.charts.interactive import drift_chart
from recovery.dashboard.client import ServiceClient, ServiceError
from recovery.dashboard.common import client, fetched, guarded, show_done, show_error
from recovery.dashboard.views import (
    diagnostics_line,
    models_side_by_side,
    phenomena_table,
    problems_table,
    refit_advice,
    subsample_line,
    trials_frame,
)

__all__ = ["analyst_page"]


def analyst_page() -> None:
    """Store a cohort, start and follow refits, watch drift, compare and promote models."""
    c = client()
    st.header("Cohorts, refits and models")
    upload_form(c)
    listed = fetched(lambda: (c.cohorts(), c.jobs(), c.models()))
    if listed is None:
        return
    cohorts, jobs, models = listed
    if cohorts:
        refit_form(c, cohorts)
    refits(jobs)
    drift_monitor(c)
    st.subheader("Models")
    show_done()
    if models:
        st.dataframe(models_side_by_side(models), hide_index=True)
        if st.button("Roll back to the previously served model", key="rollback"):
            guarded(c.rollback, "Rolled back: the previously served model is served again.")
    for m in models:
        with st.expander(diagnostics_line(m)):
            model_view(c, m)


def upload_form(c: ServiceClient) -> None:
    """A cohort's three tables, stored whole or refused with every problem listed."""
    with st.form("upload"):
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
    chains = cc.number_input("Chains", 1, 8, 2, key="chains")
    seed = d.number_input("Seed", 0, 2**31 - 1, 1, key="seed")
    budget = e.number_input("Time budget (minutes)", 1, 1440, 60, key="budget",
                            help="sampling stops then and keeps what it has drawn")
    if st.button("Start refit", key="refit"):
        guarded(lambda: c.start_fit(labels[chosen], int(draws), int(tune), method,
                                    int(chains), int(seed), float(budget)),
                "Refit queued.")


def refits(jobs: list[dict[str, Any]]) -> None:
    """The latest refits' progress, followed every few seconds while one is running."""
    st.subheader("Refits")
    for j in jobs[:10]:
        st.progress(j["progress"], text=f"{j['id'][:8]} {j['status']}: {j['message']}")
    busy = any(j["status"] in ("queued", "running") for j in jobs)
    if busy and st.checkbox("Follow progress (refresh every 3 s)", value=True, key="follow"):
        time.sleep(3)
        st.rerun()


def model_view(c: ServiceClient, m: dict[str, Any]) -> None:
    """One model: its problems and advice, held-out evaluation, plots, phenomena, promotion."""
    d = m["diagnostics"]
    if d.get("problems"):
        st.error("; ".join(d["problems"]))
    if (scope := subsample_line(d)) is not None:
        st.info(scope)
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
    if m["served"]:
        return
    anyway = False
    if narrow := m.get("narrow_bands"):
        st.warning(f"On held-out patients its {narrow}: its forecasts would claim more "
                   "certainty than they have.")
        anyway = st.checkbox("Serve it anyway", key=f"anyway_{m['id']}")
    if st.button("Promote to serve", key=f"promote_{m['id']}"):
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
    st.altair_chart(drift_chart(report), use_container_width=True)
    st.caption(f"{report['scores']} scores entered after forecasts of model "
               f"{report['model_version']}, each against the forecast made before it. Dashed: "
               "the bands' coverage on held-out patients when the model was evaluated.")
    st.dataframe(pd.DataFrame(report["therapists"]).rename(columns={
        "label": "therapist", "coverage_50": "inside 50 % band", "coverage_90":
        "inside 90 % band", "crps": "quantile score"}), hide_index=True)


def phenomena_view(c: ServiceClient, model_id: str) -> None:
    """The model's phenomena report: each claim of the articles, measured, with its chart."""
    if not st.button("Phenomena report (about a minute the first time)",
                     key=f"phenomena_{model_id}"):
        return
    with st.spinner("Forecasting the phenomena cases..."):
        report = fetched(lambda: c.phenomena(model_id))
    if report is None:
        return
    st.markdown(f"**{report['passed']} of {report['total']}** claims hold for this model.")
    st.dataframe(phenomena_table(report), hide_index=True)
    if report.get("trials"):
        st.markdown("**Published trials re-run as forecasts** (18 chronic patients, each arm "
                    "their schedule):")
        st.dataframe(trials_frame(report), hide_index=True)
    for case in report["cases"]:
        try:
            st.image(c.phenomena_chart(model_id, case["key"]), caption=case["claim"])
        except ServiceError:
            st.caption(f"no chart for {case['claim']}")
