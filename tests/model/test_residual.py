"""The residual filter: layout, and its predictions against simulated diaries of the latent
AR(1) + noise process it assumes (rounded, clipped to 0-10)."""

import numpy as np
import pytest

from recovery.model.likelihood.residual import FIRST_GAP, filter_scores, score_grid

SIGMA, SHARE, ELL = 1.2, 0.6, 7.0
NOISE = (np.array(SIGMA), np.array(SHARE), np.array(ELL))


def simulate_diaries(mu: float, days: np.ndarray, n: int, rng: np.random.Generator
                     ) -> np.ndarray:
    """Scores on `days` of n simulated diaries with constant expected pain mu."""
    q, r = SHARE * SIGMA**2, (1 - SHARE) * SIGMA**2
    x = np.sqrt(q) * rng.standard_normal(n)
    out, t = [], days[0]
    for d in days:
        a = np.exp(-(d - t) / ELL)
        x = a * x + np.sqrt(q * (1 - a * a)) * rng.standard_normal(n)
        out.append(np.clip(np.round(mu + x + np.sqrt(r) * rng.standard_normal(n)), 0, 10))
        t = d
    return np.stack(out, axis=1)


def test_score_grid_lays_each_patients_diary_out_as_a_row() -> None:
    g = score_grid(np.array([0, 0, 0, 2]), np.array([0.0, 1.0, 4.0, 3.0]), 3)
    np.testing.assert_array_equal(g.valid, [[1, 1, 1], [0, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(g.index[g.valid], [0, 1, 2, 3])
    np.testing.assert_array_equal(g.gap[g.valid], [FIRST_GAP, 1.0, 3.0, FIRST_GAP])


@pytest.mark.parametrize(("mu", "history"), [(0.3, [0]), (1.5, [0]), (9.2, [10]), (4.0, [4]),
                                             (0.8, [0, 0]), (4.0, [4, 6]), (2.0, [3, 1, 2])])
def test_prediction_matches_simulated_diaries_with_that_history(mu: float, history: list[int]
                                                                 ) -> None:
    """Given earlier scores (0 and 10 open-ended), the next score's predictive mean and SD are
    those of simulated diaries that had exactly that history; plugging a bare 0 in would not be,
    and neither would conditioning on the last score alone."""
    rng = np.random.default_rng(11)
    days = np.arange(len(history) + 1, dtype=float)
    sims = simulate_diaries(mu, days, 4_000_000, rng)
    seen = np.all(sims[:, :-1] == history, axis=1)
    assert seen.sum() > 20_000
    # The latent score Z (before rounding) is what the filter predicts: undo the rounding by
    # comparing the mean and SD of the rounded, clipped score with the filter's, rounded too.
    y = np.r_[history, 0.0]
    f = filter_scores(np.full(len(y), mu), y, score_grid(np.zeros(len(y), int), days, 1), NOISE)
    m, s = f.m[-1], f.s[-1]
    z = m + s * rng.standard_normal(2_000_000)
    predicted = np.clip(np.round(z), 0, 10)
    observed = sims[seen, -1]
    np.testing.assert_allclose(predicted.mean(), observed.mean(), atol=0.03)
    np.testing.assert_allclose(predicted.std(), observed.std(), rtol=0.03)


def test_log_likelihood_is_the_joint_probability_of_a_short_diary() -> None:
    """exp(sum of the filter's log-likelihoods) is close to the simulated frequency of the
    whole two-score diary, not just the product of the two marginals."""
    rng = np.random.default_rng(5)
    days, mu = np.array([0.0, 1.0]), 3.0
    sims = simulate_diaries(mu, days, 4_000_000, rng)
    for history in ([3, 3], [3, 5], [1, 0]):
        y = np.array(history, dtype=float)
        f = filter_scores(np.full(2, mu), y, score_grid(np.zeros(2, int), days, 1), NOISE)
        freq = np.mean(np.all(sims == history, axis=1))
        np.testing.assert_allclose(np.exp(f.logp.sum()), freq, rtol=0.05)
