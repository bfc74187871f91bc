"""The optimiser picks the cheapest candidate that reaches the level, or says none does."""

from __future__ import annotations

from recovery.model.predict.forecast import Forecaster
from recovery.model.predict.optimise import candidate_schedules, optimise
from recovery.model.requests import OptimiseRequest
from tests.helpers import history_request


def _request(**kw: object) -> OptimiseRequest:
    base = history_request()
    return OptimiseRequest.model_validate({"patient": base["patient"], "history": base["history"],
                                           "start_day": 20, "horizon_days": 84, **kw})


def test_best_is_cheapest_that_reaches_the_level(default_forecaster: Forecaster) -> None:
    res = optimise(default_forecaster, _request(target_score=5, level=0.5))
    assert res.best is not None
    assert res.best_summary is not None
    assert res.best_summary.p_target_at_horizon >= 0.5
    feasible = [c for c in res.candidates if float(c["p_target_at_horizon"]) >= 0.5]
    assert res.best_summary.cost == min(float(c["cost"]) for c in feasible)
    assert res.best.name == feasible[0]["name"]


def test_unreachable_level_gives_no_schedule(default_forecaster: Forecaster) -> None:
    res = optimise(default_forecaster, _request(target_score=0, level=0.99))
    assert res.best is None
    assert res.best_summary is None
    assert len(res.candidates) == len(candidate_schedules("massage", 84))


def test_candidates_cover_intensive_then_maintenance() -> None:
    names = [c.name for c in candidate_schedules("physio", 84)]
    assert "none" in names
    assert "every 3.5 d for 4 wk, then every 21 d" in names
    assert all(p.kind == "physio" for c in candidate_schedules("physio", 84)
               for p in (c.phases or []))
