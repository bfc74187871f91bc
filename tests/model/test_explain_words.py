"""The explanation's sentences: a share is never larger than the whole it is a share of."""

from __future__ import annotations

import json
import re

from recovery.model import ExplainRequest, Forecaster, explain
from recovery.model.predict.explain import _words
from tests.helpers import ROOT


def test_a_part_larger_than_the_net_improvement_is_not_called_most_of_it() -> None:
    shares = {"natural_course": 2.1 / 1.8, "relief": 0.0, "durable_gain": 0.0,
              "soreness": -0.1 / 1.8, "recent_scores": -0.2 / 1.8}
    said = _words(1.8, shares, None, "01 January 2026")
    assert "Most of" not in said
    assert said.startswith("There is a 1.8-point improvement since 01 January 2026.")
    assert "2.1 points come from natural recovery" in said
    assert "add 0.3 back" in said
    numbers = [float(x) for x in re.findall(r"(\d+\.\d) points? come", said)]
    assert numbers == [2.1]


def test_most_of_still_says_a_true_share() -> None:
    shares = {"natural_course": 0.7, "relief": 0.3, "durable_gain": 0.0, "soreness": 0.0,
              "recent_scores": 0.0}
    said = _words(2.0, shares, 30.0, "01 January 2026")
    assert said.startswith("Most of the 2.0-point improvement since 01 January 2026 is natural "
                           "recovery: 1.4 points come from natural recovery and 0.6 from relief")


def test_each_schedule_gets_its_own_sentence(default_forecaster: Forecaster) -> None:
    request = json.loads((ROOT / "examples" / "explain_request.json").read_text())
    said = {name: explain(default_forecaster, ExplainRequest.model_validate(
        {**request, "schedule": {"name": name}})).words
        for name in ("none", "weekly_taper")}
    assert said["none"] != said["weekly_taper"]
    assert "On 'none', expected pain rises" in said["none"]
    assert "the relief from the sessions fading" in said["none"]
    assert "On 'weekly_taper'" in said["weekly_taper"]
