"""The served model says which of the articles' claims it does not reproduce: the catalogue
every role reads carries them, from the report shipped with the bundled model."""

from __future__ import annotations

import json

from tests.helpers import DEFAULT_MODEL, ROOT, Api


def test_the_bundled_model_ships_the_committed_report() -> None:
    shipped = json.loads((DEFAULT_MODEL / "phenomena.json").read_text())
    assert shipped == json.loads((ROOT / "docs" / "phenomena" / "phenomena.json").read_text())


def test_the_catalogue_names_the_claims_the_served_model_fails(shared_api: Api) -> None:
    report = json.loads((DEFAULT_MODEL / "phenomena.json").read_text())
    got = shared_api.client.get("/v1/catalogue", headers=shared_api.as_("t1")).json()["claims"]
    assert got["passed"] == report["passed"] < got["total"] == len(report["cases"])
    assert got["failing"] == [c["claim"] for c in report["cases"] if not c["passed"]]
    assert "with care" in got["meaning"]
