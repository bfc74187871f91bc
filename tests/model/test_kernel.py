"""Kernel properties (the mechanisms of docs/design.md) and the fast adstock against the
direct sum."""

import numpy as np
import pytensor.tensor as pt
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recovery.model import ModelConfig, preset
from recovery.model.likelihood.kernel import (
    SAME_TIME,
    Params,
    build_design,
    expected_pain,
    flare_shape,
    floor_shift,
    transform,
)

CFG = ModelConfig()
KINDS = ["massage", "physio"]
# Reference patient: base 6, floor 2.4, course relief 40 %, its tau ~80 d, flare 0.6, durable
# 30 %, short relief 30 %, its tau 4.3 d (half-life 3 d).
THETA = np.array([np.log(0.6 / 0.4), np.log(0.4 / 0.6), np.log(0.4 / 0.6), np.log(77.0),
                  np.log(0.6), np.log(0.3 / 0.7), np.log(0.3 / 0.7), np.log(3.8)])


def curve(session_days: np.ndarray, grid: np.ndarray, theta: np.ndarray = THETA,
          kinds: np.ndarray | None = None, tau_nat: float = 40.0, flare: bool = True,
          durable_w: tuple[float, float] = (0.1, 1.0), quick: bool = True,
          relief: bool = True, synergy: float = 1.0, onset: float = 0.0) -> np.ndarray:
    kinds = np.zeros(len(session_days), int) if kinds is None else kinds
    d = build_design((np.zeros(len(session_days), int), session_days, kinds),
                     (np.zeros(len(grid), int), grid), 1, KINDS, CFG)
    th = theta.copy()
    for off, col in ((not flare, 4), (not quick, 6), (not relief, 2)):
        if off:
            th[col] = -50.0
    p = Params(th[None, :], np.array([tau_nat]), np.array([1.0, 0.6]), np.array(durable_w),
               np.array([1.0, 0.4]), np.array([1.0, 2.5]), np.array([synergy]),
               np.array([onset]))
    return expected_pain(p, np.array([0.7]), d, CFG)


def test_relief_fades_after_the_last_session() -> None:
    grid = np.arange(0, 400.0)
    days = preset("recovery_then_stop").expand(0).days
    with_care = curve(days, grid, flare=False, tau_nat=1e6, durable_w=(0.0, 0.0), quick=False)
    without = curve(np.empty(0), grid, flare=False, tau_nat=1e6)
    gap = without - with_care
    after = grid > days[-1]
    assert gap[after][0] > 1.0  # a real benefit at the end of care
    assert np.all(np.diff(gap[after]) < 0)  # which only shrinks afterwards
    assert gap[-1] < 0.15 * gap[after][0]  # and is mostly gone within a year


def test_more_frequent_sessions_never_give_less_cumulative_relief() -> None:
    grid = np.arange(0, 84.0)
    weekly = curve(np.arange(0, 84.0, 7), grid, flare=False)
    twice = curve(np.arange(0, 84.0, 3.5), grid, flare=False)
    assert np.all(twice <= weekly + 1e-12)
    # cumulative benefit with a plateau: most of the 12-week gain is there by week 8
    nat = curve(np.empty(0), grid, flare=False)
    gain = nat - weekly
    assert gain[56] > 0.6 * gain[83]


def test_flare_peaks_between_one_and_three_days_after_a_session() -> None:
    grid = np.arange(0, 10.0, 0.05)
    bump = curve(np.array([0.0]), grid) - curve(np.array([0.0]), grid, flare=False)
    peak = grid[np.argmax(bump)]
    assert 1.0 <= peak <= 3.0
    assert bump[grid > 8].max() < 0.1 * bump.max()  # gone within days


def test_first_sessions_flare_more_than_later_ones_and_again_after_a_break() -> None:
    days = np.r_[np.arange(0, 70.0, 7), np.arange(140, 210.0, 7)]
    grid = days + 1.0
    bump = curve(days, grid) - curve(days, grid, flare=False)
    assert bump[0] > 1.5 * bump[9]  # habituated after ten weekly sessions
    assert bump[10] > 0.8 * bump[0]  # ten weeks off: the restart flares almost as at first


def test_durable_gain_from_rehab_does_not_fade_and_massage_gives_little() -> None:
    grid = np.arange(0, 365.0)
    days = preset("recovery_then_stop").expand(0).days
    physio = curve(days, grid, kinds=np.ones(len(days), int), flare=False)
    massage = curve(days, grid, flare=False)
    assert physio[-1] < massage[-1] - 0.3  # lasting gain a year on, from physio only


def test_short_relief_fades_within_days_of_a_session() -> None:
    grid = np.arange(0, 60.0, 0.25)
    only_quick = curve(np.array([10.0]), grid, flare=False, relief=False, tau_nat=1e6,
                       durable_w=(0.0, 0.0))
    gain = curve(np.empty(0), grid, tau_nat=1e6) - only_quick
    after = grid > 10
    assert gain[after][0] > 0.5  # real relief right after the session
    half = grid[after][np.argmax(gain[after] < gain[after][0] / 2)] - 10
    assert 1.0 <= half <= 5.0  # half gone within days (prior half-life 3 d)
    assert gain[grid > 31].max() < 0.02 * gain[after][0]  # all but gone in three weeks


def test_both_reliefs_saturate_with_more_sessions() -> None:
    grid = np.arange(56.0, 84.0, 0.125)  # the mean gain over weeks 8-12 of care
    gains = []
    for every in (14.0, 7.0, 3.5, 1.75, 0.875):
        days = np.arange(0, 84.0, every)
        gains.append([curve(np.empty(0), grid, flare=False, tau_nat=1e6)[0]
                      - curve(days, grid, flare=False, tau_nat=1e6, relief=r, quick=q,
                              durable_w=(0.0, 0.0))[0] for r, q in ((True, False),
                                                                     (False, True))])
    g = np.array(gains)  # rows: frequency doubling; columns: course, short relief
    per_session = np.diff(g, axis=0) / np.array([6, 12, 24, 48])[:, None]  # sessions added
    assert np.all(per_session > 0)  # more sessions, more relief
    # sessions days apart add up; once their effects overlap, each added one gives less
    assert np.all(per_session[-1] < 0.25 * per_session[0])
    assert np.all(g < 6.0 * np.array([0.4, 0.3]) + 1e-9)  # never beyond the patient's maximum


def test_a_break_raises_pain_and_resuming_brings_it_down() -> None:
    grid = np.arange(0, 140.0)
    steady = np.arange(0, 140.0, 3.5)
    broken = steady[(steady < 42) | (steady >= 84)]
    gap = curve(broken, grid, tau_nat=1e6) - curve(steady, grid, tau_nat=1e6)
    assert gap[grid == 83].item() > 0.5  # six weeks off: a setback
    assert gap[grid == 139].item() < 0.5 * gap[grid == 83].item()  # care resumed: recovering


def test_massage_in_the_week_before_physio_adds_to_the_lasting_gain() -> None:
    grid = np.array([300.0])
    physio = np.arange(0, 56.0, 7)
    days = np.sort(np.r_[physio, physio + 3.5])
    kinds = np.tile([1, 0], len(physio))
    mixed = curve(days, grid, kinds=kinds, flare=False)
    alone = curve(days, grid, kinds=kinds, flare=False, synergy=0.0)
    assert mixed[0] < alone[0] - 0.05


@settings(max_examples=200, deadline=None)
@given(arrays(float, 8, elements=st.floats(-12, 12)), st.floats(1, 500),
       st.lists(st.floats(0, 200), max_size=40))
def test_expected_pain_stays_inside_0_10(theta: np.ndarray, tau_nat: float,
                                         sessions: list[float]) -> None:
    grid = np.linspace(0, 365, 97)
    mu = curve(np.sort(np.array(sessions)), grid, theta=theta, tau_nat=tau_nat)
    assert np.all(np.isfinite(mu))
    assert np.all(mu >= 0)
    assert np.all(mu <= 10)


def test_a_massage_exactly_a_window_before_physio_pairs_them_whatever_the_rounding() -> None:
    """108.3 - 7 is 101.30000000000001 in floating point: the edge still counts as inside."""
    window = CFG.synergy_window_days
    for t in (101.3, 7.0, 255.1):
        sessions = (np.array([0, 0]), np.array([t, t + window]), np.array([0, 1]))
        d = build_design(sessions, (np.array([0]), np.array([t + window + 1])), 1, KINDS, CFG)
        assert d.paired[0] == 1.0, t
        later = (sessions[0], np.array([t, t + window + 0.01]), sessions[2])
        d = build_design(later, (np.array([0]), np.array([t + window + 1])), 1, KINDS, CFG)
        assert d.paired[0] == 0.0, t


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
@example(5, 595)  # a massage exactly 7 days (255.1 -> 262.1) before a physio session
def test_fast_adstock_equals_direct_sum(n_patients: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_s, n_o = rng.integers(0, 30, n_patients), rng.integers(1, 40, n_patients)
    s_pid = np.repeat(np.arange(n_patients), n_s)
    s_t = rng.uniform(0, 300, n_s.sum()).round(1)
    kind = rng.integers(0, 2, n_s.sum())
    o_pid = np.repeat(np.arange(n_patients), n_o)
    o_t = rng.uniform(0, 300, n_o.sum()).round(1)
    d = build_design((s_pid, s_t, kind), (o_pid, o_t), n_patients, KINDS, CFG)
    theta = rng.normal(size=(3, n_patients, 8))
    w = rng.uniform(0.2, 2, (3, 2))
    tau = transform(theta, CFG)["quick_tau"]
    # direct O(scores x sessions) definition of A(t), and the same for the counts and flare basis
    before = (s_pid[None, :] == o_pid[:, None]) & (s_t[None, :] < o_t[:, None])
    lag = o_t[:, None] - s_t[None, :]
    direct = (before * w[:, kind][:, None, :]
              * np.exp(-lag / tau[:, o_pid][:, :, None])).sum(-1)
    from recovery.model.likelihood.kernel import _adstock

    for xp in (np, pt):  # forecasts' log-space sums; the fit's factored exponentials
        fast = _adstock(w, tau, d, xp)
        fast = fast if xp is np else fast.eval()
        np.testing.assert_allclose(fast, direct, rtol=1e-9, atol=1e-12)
    counts = np.stack([(before & (kind == k)).sum(1) for k in range(2)], axis=1)
    np.testing.assert_array_equal(d.counts, counts)
    # habituation counts a patient's earlier sessions in time order (ties: file order), each
    # discounted by its lag
    same = s_pid[None, :] == s_pid[:, None]
    idx = np.arange(len(s_t))
    earlier = same & ((s_t[None, :] < s_t[:, None])
                      | ((s_t[None, :] == s_t[:, None]) & (idx[None, :] < idx[:, None])))
    lag_ses = s_t[:, None] - s_t[None, :]
    rank = (earlier * np.exp(-lag_ses / CFG.flare_habituation_memory_days)).sum(1)
    h = CFG.flare_habituation_floor + (1 - CFG.flare_habituation_floor) * np.exp(
        -rank / CFG.flare_habituation_sessions)
    g = np.stack([(before * (kind == k) * h * flare_shape(lag / CFG.flare_peak_days)).sum(1)
                  for k in range(2)], axis=1)
    np.testing.assert_allclose(d.flare_basis, g, rtol=1e-9, atol=1e-9)
    # synergy: physio sessions (kind 1) with a massage (kind 0) in the 7 days before, or that day
    window = (s_t[None, :] < s_t[:, None] + 0.5) & (
        s_t[None, :] >= s_t[:, None] - CFG.synergy_window_days - SAME_TIME)
    flagged = (kind == 1) & (same & (kind[None, :] == 0) & window).any(1)
    np.testing.assert_allclose(d.paired, (before * flagged).sum(1))


def test_the_natural_course_runs_from_onset() -> None:
    """A patient first seen d days into an episode follows the same curve as one seen at
    onset, d days later: base is what is left of the episode and the floor's shift
    (floor_shift) makes the plateau the same share of the pain at onset."""
    grid, later, tau = np.arange(0.0, 200.0), 60.0, 20.0
    at_onset = curve(np.empty(0), grid + later, tau_nat=tau)
    seen = THETA.copy()
    seen[0] = np.log(at_onset[0] / (10 - at_onset[0]))  # base: the episode's pain on day 60
    seen[1] = THETA[1] + floor_shift(later, tau)
    p_seen = curve(np.empty(0), grid, theta=seen, tau_nat=tau, onset=later)
    np.testing.assert_allclose(p_seen, at_onset, rtol=1e-9)


def test_pain_of_a_year_is_near_stable_and_a_new_episode_falls() -> None:
    """The same plateau (0.3 of onset pain, a chronic course): an episode a week old loses
    most of its excess in 12 weeks, one a year old hardly any (its base sits near the
    plateau)."""
    grid = np.arange(0.0, 85.0)
    for onset, lo, hi in ((7.0, 0.3, 0.6), (365.0, 0.95, 1.0)):
        th = THETA.copy()
        th[1] = np.log(0.3 / 0.7) + floor_shift(onset, 20.0)
        x = curve(np.empty(0), grid, theta=th, tau_nat=20.0, onset=onset)
        assert lo <= x[-1] / x[0] <= hi, (onset, x[-1] / x[0])
