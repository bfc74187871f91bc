"""Whether a served model's forecasts still hold: stored quantile bands scored against the
scores recorded after them, and a check that the bands' coverage stays within what chance
allows around the coverage the model showed on held-out patients."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["QUANTILE_KEYS", "BandCheck", "band_scores", "coverage_check"]

QUANTILE_KEYS = ("5", "25", "50", "75", "95")  # as the forecast JSON stores them
LEVELS = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
MIN_TOLERANCE = 0.05  # coverage within 5 points of the reference is never flagged


def band_scores(q: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Per score: inside the 50 % band (q25..q75), inside the 90 % band (q5..q95), and the
    quantile score (twice the mean pinball loss over the five quantiles, an approximation of
    the CRPS from what a forecast stores). q: (n, 5) in QUANTILE_KEYS order; y: (n,)."""
    y = np.asarray(y, dtype=float)[:, None]
    miss = y - q
    pinball = np.maximum(LEVELS * miss, (LEVELS - 1.0) * miss)
    return {"in_50": (q[:, 1] <= y[:, 0]) & (y[:, 0] <= q[:, 3]),
            "in_90": (q[:, 0] <= y[:, 0]) & (y[:, 0] <= q[:, 4]),
            "quantile_score": 2.0 * pinball.mean(axis=1)}


@dataclass(frozen=True)
class BandCheck:
    """A band's observed coverage against the range chance allows around its reference."""

    coverage: float
    reference: float
    low: float
    high: float

    @property
    def ok(self) -> bool:
        """Whether the observed coverage is within what chance allows."""
        return self.low <= self.coverage <= self.high


def coverage_check(inside: np.ndarray, patient: np.ndarray, reference: float) -> BandCheck:
    """Coverage with a standard error that treats each patient's scores as one cluster
    (scores of one diary are correlated), flagged beyond two standard errors or
    MIN_TOLERANCE, whichever is wider."""
    inside = np.asarray(inside, dtype=float)
    cov = float(inside.mean())
    _, which = np.unique(patient, return_inverse=True)
    per_patient = np.bincount(which, weights=inside - cov)
    se = float(np.sqrt((per_patient ** 2).sum())) / len(inside)
    tol = max(2.0 * se, MIN_TOLERANCE)
    return BandCheck(round(cov, 4), reference, round(max(0.0, reference - tol), 4),
                     round(min(1.0, reference + tol), 4))
