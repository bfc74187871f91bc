import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from recovery.model import PRESETS, Phase, Schedule, ScheduleError, describe, preset


def test_recovery_then_stop_is_twice_weekly_for_six_weeks_then_nothing() -> None:
    plan = preset("recovery_then_stop").expand(start_day=10)
    assert len(plan) == 12
    assert plan.days[0] == 10
    assert plan.days[-1] < 10 + 42
    assert set(plan.kinds) == {"massage"}


def test_maintenance_continues_every_three_weeks() -> None:
    plan = preset("recovery_then_maintenance", kind="physio").expand(0).until(42 + 21 * 4 + 1)
    assert np.allclose(np.diff(plan.days[12:]), 21)
    assert len(plan) == 12 + 5
    assert set(plan.kinds) == {"physio"}


def test_weekly_taper_and_stop_start_spacing() -> None:
    taper = preset("weekly_taper").expand(0).days
    assert np.allclose(np.diff(taper[:12]), 7)
    assert np.allclose(np.diff(taper[12:17]), 14)
    assert np.allclose(np.diff(taper[16:20]), 28)
    assert len(taper[:16]) == 16
    ss = preset("stop_start").expand(0).days
    assert list(ss[:5]) == [0, 7, 14, 21, 70]  # 4 weekly, 6 weeks off, again


def test_none_and_explicit_days() -> None:
    assert len(preset("none").expand(5)) == 0
    plan = Schedule(name="dates", session_days=(9, 2, 30), kind="physio").expand(28)
    assert list(plan.days) == [30, 37, 58]
    assert set(plan.kinds) == {"physio"}


def test_unknown_preset_lists_known_ones() -> None:
    with pytest.raises(ScheduleError, match="recovery_then_stop"):
        preset("twice_weekly_forever")


def test_bad_phases_are_refused() -> None:
    with pytest.raises(ValidationError):
        Phase(every_days=-1, weeks=2)
    with pytest.raises(ValidationError):
        Schedule(phases=(Phase(every_days=7, weeks=2),), session_days=(1,))
    with pytest.raises(ValidationError):
        Schedule(session_days=(-3,))


@given(st.lists(st.tuples(st.one_of(st.none(), st.floats(0.5, 60)), st.floats(0.5, 30)),
                min_size=1, max_size=6), st.floats(0, 400))
def test_expansion_is_sorted_inside_phases_and_counts_match(phases: list, start: float) -> None:
    sched = Schedule(phases=tuple(Phase(every_days=e, weeks=w) for e, w in phases))
    plan = sched.expand(start)
    assert np.all(np.diff(plan.days) > 0)
    assert np.all(plan.days >= start)
    assert np.all(plan.days < start + sched.duration_days)
    expected = sum(int(np.ceil(w * 7 / e - 1e-9)) for e, w in phases if e is not None)
    assert len(plan) == expected


def test_presets_are_all_expandable_and_said_in_words() -> None:
    for name in PRESETS:
        plan = preset(name).expand(0)
        assert (len(plan) == 0) == (name == "none"), name  # only "none" has no sessions
        assert np.all(np.diff(plan.days) > 0), name
    words = {name: describe(s) for name, s in PRESETS.items()}
    assert words["recovery_then_maintenance"] == ("twice a week for 6 weeks, then every 3 weeks "
                                                  "from then on")
    assert words["weekly_taper"] == ("weekly for 12 weeks, then every 2 weeks for 8 weeks, then "
                                     "every 4 weeks from then on")
    assert words["none"] == "no sessions"
    ten_days = Schedule(phases=(Phase(every_days=10, weeks=3),))
    assert describe(ten_days) == "every 10 days for 3 weeks"
    assert describe(Schedule(session_days=(1.0,), kind="physio")) == (
        "1 physio session on chosen days")
