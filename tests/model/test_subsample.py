"""The stratified subsample a large cohort's population is sampled on: its size, every stratum
kept, proportions, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from recovery.model import Cohort, ModelConfig, simulate_cohort
from recovery.model.data.subsample import strata, stratified_subsample

CFG = ModelConfig()


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return simulate_cohort(1200, 2, np.random.default_rng(3))[0]


def test_size_strata_and_tables(cohort: Cohort) -> None:
    sub = stratified_subsample(cohort, 150, CFG, seed=1)
    ids = set(sub.patient_ids)
    assert len(ids) == 150
    assert set(strata(sub, CFG)) == set(strata(cohort, CFG))  # every stratum kept
    for table in (sub.pain, sub.sessions):
        assert set(table["patient_id"]) <= ids
    whole = cohort.pain[cohort.pain["patient_id"].isin(ids)]
    assert len(sub.pain) == len(whole)  # each chosen patient keeps every score


def test_proportions_follow_the_cohort(cohort: Cohort) -> None:
    sub = stratified_subsample(cohort, 300, CFG, seed=2)
    full, part = (strata(c, CFG).value_counts(normalize=True) for c in (cohort, sub))
    assert (part.reindex(full.index) - full).abs().max() < 0.02
    for name in ("age", "stress", "adherence"):  # the continuous covariates' terciles
        cuts = cohort.patients[name].quantile([1 / 3, 2 / 3]).to_numpy()
        whole, chosen = (np.bincount(np.searchsorted(cuts, c.patients[name]), minlength=3)
                         / len(c.patients) for c in (cohort, sub))
        assert np.abs(chosen - whole).max() < 0.05, (name, chosen, whole)


def test_reproducible_and_whole_when_small(cohort: Cohort) -> None:
    a, b = (stratified_subsample(cohort, 100, CFG, seed=5) for _ in range(2))
    assert a.patient_ids == b.patient_ids
    assert stratified_subsample(cohort, 100, CFG, seed=6).patient_ids != a.patient_ids
    small = cohort.only(cohort.patient_ids[:40])
    assert stratified_subsample(small, 50, CFG) is small


def test_size_follows_the_diaries_and_auto_chooses_by_size(cohort: Cohort) -> None:
    from recovery.engine.cohort_fit import CohortFitPlan, chosen_strategy, subsample_size

    per_patient = len(cohort.pain) / len(cohort.patients)  # 2 weeks of diary
    assert subsample_size(cohort, CohortFitPlan()) == min(300, round(8000 / per_patient))
    assert subsample_size(cohort, CohortFitPlan(subsample=90)) == 90
    long, _ = simulate_cohort(20, 52, np.random.default_rng(1))
    assert subsample_size(long, CohortFitPlan()) == 60  # a year of diary: the lower bound
    assert chosen_strategy(cohort, CohortFitPlan()) == "subsample"  # 1200 > 600
    assert chosen_strategy(cohort.only(cohort.patient_ids[:500]), CohortFitPlan()) == "full"
    assert chosen_strategy(long, CohortFitPlan(strategy="subsample")) == "subsample"


def test_a_held_out_set_has_exactly_the_size_asked(cohort: Cohort) -> None:
    held = stratified_subsample(cohort, 12, CFG, seed=4, every_stratum=False)
    assert len(held.patients) == 12  # fewer than the strata: no stratum is forced in
    assert len(set(strata(cohort, CFG))) > 12
