"""Whether a served model's forecasts still hold: stored quantile bands scored against the
scores recorded after them, and a check that the bands hold the scores as often as the model
said they would (its probability of each whole-point score falling inside), within chance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BANDS", "QUANTILE_KEYS", "BandCheck", "DriftVerdict", "band_scores",
           "coverage_check", "drift_verdict"]

QUANTILE_KEYS = ("5", "25", "50", "75", "95")  # as the forecast JSON stores them
LEVELS = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
BANDS = ("50", "90")
MIN_TOLERANCE = 0.05  # a band within 5 points of its reference is shown as within chance
Z_ALERT = 2.0  # standard errors: about 5 % false alarms (measured in bench/monitor.py)
MIN_GAP = 0.03  # a smaller coverage gap a band is not worth a refit, however certain


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
    """A band's observed coverage against the range chance allows around its reference (the
    coverage the model expected of these scores)."""

    coverage: float
    reference: float
    low: float
    high: float

    @property
    def ok(self) -> bool:
        """Whether the observed coverage is within what chance allows."""
        return self.low <= self.coverage <= self.high


@dataclass(frozen=True)
class DriftVerdict:
    """Both bands' checks, and the one decision: whether the scores miss the bands more (or
    less) often than the model expected, beyond chance (|z| > Z_ALERT) and by at least MIN_GAP
    of coverage a band."""

    bands: dict[str, BandCheck]
    z: float
    gap: float

    @property
    def drifted(self) -> bool:
        """Whether the bands no longer hold as the model expected."""
        return abs(self.z) > Z_ALERT and abs(self.gap) >= MIN_GAP


def _clustered_se(x: np.ndarray, patient: np.ndarray) -> float:
    """Standard error of mean(x) treating each patient's values as one cluster (scores of one
    diary are correlated); x centred on its mean."""
    _, which = np.unique(patient, return_inverse=True)
    per_patient = np.bincount(which, weights=x - x.mean())
    return float(np.sqrt((per_patient ** 2).sum())) / len(x)


def coverage_check(inside: np.ndarray, patient: np.ndarray,
                   reference: float | np.ndarray) -> BandCheck:
    """Coverage against its reference (one level, or each score's expected probability),
    with the range two clustered standard errors or MIN_TOLERANCE allow, whichever is wider."""
    inside = np.asarray(inside, dtype=float)
    expected = np.broadcast_to(np.asarray(reference, dtype=float), inside.shape)
    ref = float(expected.mean())
    tol = max(2.0 * _clustered_se(inside - expected, patient), MIN_TOLERANCE)
    return BandCheck(round(float(inside.mean()), 4), round(ref, 4),
                     round(max(0.0, ref - tol), 4), round(min(1.0, ref + tol), 4))


def drift_verdict(inside: dict[str, np.ndarray], expected: dict[str, np.ndarray],
                  patient: np.ndarray) -> DriftVerdict:
    """The 50 % and 90 % bands' hits ("50", "90": per score) against the probabilities the
    model gave them, judged together: one test of the summed excess of misses."""
    hit = {k: np.asarray(v, dtype=float) for k, v in inside.items()}
    excess = np.sum([expected[k] - hit[k] for k in BANDS], axis=0)  # > 0: more misses
    se = _clustered_se(excess, patient)
    z = float(excess.mean() / se) if se > 0 else 0.0
    return DriftVerdict({k: coverage_check(hit[k], patient, expected[k]) for k in BANDS},
                        round(z, 3), round(float(excess.mean()) / len(BANDS), 4))
