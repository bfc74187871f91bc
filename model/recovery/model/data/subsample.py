"""A stratified subsample of a cohort: the patients a large cohort's hierarchy is sampled on.

Strata are the levels of the discrete covariates crossed with the session kinds a patient
received; each keeps at least one patient. The rest of the subsample is spread systematically
over the cohort sorted by stratum and then by the continuous covariates' terciles, so every
stratum, and every tercile within it, gets its proportional share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recovery.model.config import ModelConfig
from recovery.model.data.cohort import Cohort

__all__ = ["strata", "stratified_subsample"]

LEVELS_AS_IS = 3  # a covariate with at most this many distinct values is stratified by value


def _discrete(x: pd.Series) -> bool:
    return bool(x.nunique(dropna=True) <= LEVELS_AS_IS)


def _tercile(x: pd.Series) -> pd.Series:
    """A continuous covariate's tercile (0-2); missing values sort last (3)."""
    ranks = x.rank(method="first")
    return (3 * (ranks - 1) // max(int(x.notna().sum()), 1)).fillna(3).astype(int)


def _joined(parts: list[pd.Series], index: pd.Index) -> pd.Series:
    if not parts:
        return pd.Series("", index=index)
    return pd.concat(parts, axis=1).astype(str).agg("|".join, axis=1)


def strata(cohort: Cohort, cfg: ModelConfig) -> pd.Series:
    """Each patient's stratum: discrete covariate levels and the session kinds received."""
    pats = cohort.patients.set_index("patient_id")
    kinds = cohort.sessions.groupby("patient_id")["kind"].agg(lambda k: "+".join(sorted(set(k))))
    parts = [pats[c].fillna(-1) for c in cfg.covariates if c in pats and _discrete(pats[c])]
    return _joined([*parts, kinds.reindex(pats.index).fillna("none")], pats.index)


def _within(cohort: Cohort, cfg: ModelConfig) -> pd.Series:
    """The order within a stratum: the continuous covariates' terciles."""
    pats = cohort.patients.set_index("patient_id")
    return _joined([_tercile(pats[c]) for c in cfg.covariates
                    if c in pats and not _discrete(pats[c])], pats.index)


def stratified_subsample(cohort: Cohort, n: int, cfg: ModelConfig, seed: int = 0,
                         every_stratum: bool = True) -> Cohort:
    """`n` patients with their scores and sessions, drawn systematically over the cohort sorted
    by stratum and tercile, so strata keep their shares; with `every_stratum`, each stratum
    keeps at least one (more than `n` if there are more strata). The whole cohort when it has
    no more than `n` patients."""
    if len(cohort.patients) <= n:
        return cohort
    rng = np.random.default_rng(seed)
    label = strata(cohort, cfg) + "#" + _within(cohort, cfg)
    shuffled = label.iloc[rng.permutation(len(label))]
    first = (shuffled[~shuffled.str.split("#").str[0].duplicated()].index if every_stratum
             else shuffled.index[:0])  # one per stratum
    rest = shuffled.drop(first).sort_values(kind="stable")  # by stratum, tercile; else random
    extra = max(0, n - len(first))
    picks = (rng.random() + np.arange(extra)) * len(rest) / max(extra, 1)  # systematic
    chosen = set(first) | set(rest.index[picks.astype(int)]) if extra else set(first)
    return cohort.only(chosen)
