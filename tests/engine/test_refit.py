"""One refit use case: the service's worker and `recovery fit` leave the same artefacts for the
same cohort and spec, and the spec is the HTTP body and the command's options alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
import xarray as xr
from typer.testing import CliRunner

from recovery.cli import app
from recovery.engine.refit_spec import RefitSpec, Sampler
from recovery.model import Cohort, model_identity
from recovery.model.config import SAMPLERS
from recovery.service.worker import Worker
from tests.helpers import Api

# A quick look on the small cohort: the same road as a full refit (a held-out tenth, plots,
# evaluation) in about a minute, most of it compiling the model twice.
SPEC = {"method": "advi", "iterations": 300, "keep_draws": 100, "evaluation_draws": 100,
        "seed": 4}
OPTIONS = ["--quick", "--iterations", "300", "--keep-draws", "100", "--evaluation-draws", "100",
           "--seed", "4"]
TIMINGS = {"wall_seconds", "compile_seconds"}


def _diagnostics(model: Path) -> dict[str, Any]:
    return {k: v for k, v in json.loads((model / "diagnostics.json").read_text()).items()
            if k not in TIMINGS}


def _evaluation(model: Path) -> dict[str, Any]:
    """The evaluation, less the model's own (random) id, which it must name."""
    report = json.loads((model / "evaluation.json").read_text())
    assert report.pop("model_version") == model_identity(model)[0]
    return report


def _files(model: Path) -> set[str]:
    return {p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_the_worker_and_the_cli_leave_the_same_artefacts(api: Api, small_cohort: Cohort,
                                                          tmp_path: Path) -> None:
    """A quick look through the queue and `recovery fit --quick` on the same cohort and spec:
    the same files, diagnostics, posterior and held-out evaluation; labelled, never servable."""
    if api.settings.database_url.startswith("postgresql"):
        pytest.skip("the refit is the same on either database; the queue is tested there")
    c, h = api.client, api.as_("a1")
    files = {t: (f"{t}.csv", getattr(small_cohort, t).to_csv(index=False).encode())
             for t in ("patients", "sessions", "pain")}
    stored = c.post("/v1/cohorts", files=files, headers=h).json()
    job = c.post("/v1/fits", json={"cohort_id": stored["id"], **SPEC}, headers=h).json()
    worker = Worker(api.settings)
    assert worker.run_one()
    worker.close()
    done = c.get(f"/v1/jobs/{job['id']}", headers=h).json()
    assert done["status"] == "succeeded", done
    assert "QUICK LOOK" in done["message"].upper(), done["message"]
    served = api.settings.models_dir / done["model_id"]

    small_cohort.save(tmp_path / "cohort")
    res = CliRunner().invoke(app, ["fit", str(tmp_path / "cohort"), "--out",
                                   str(tmp_path / "cli"), *OPTIONS])
    assert res.exit_code == 0, res.output
    assert "held-out evaluation on 1 patients" in res.output
    local = tmp_path / "cli"
    assert _files(local) == _files(served)
    assert {"posterior.nc", "diagnostics.json", "evaluation.json", "ppc.png"} <= _files(local)
    assert _diagnostics(local) == _diagnostics(served)
    assert _evaluation(local) == _evaluation(served)
    with xr.open_dataset(local / "posterior.nc", group="posterior") as a, \
            xr.open_dataset(served / "posterior.nc", group="posterior") as b:
        xr.testing.assert_equal(a, b)

    model = c.get(f"/v1/models/{done['model_id']}", headers=h).json()
    assert model["diagnostics"]["method"] == "advi"
    assert model["diagnostics"]["max_rhat"] is None
    assert not model["passed"]
    assert model["evaluation"]["methods"]["model"]["crps"] > 0
    assert model["evaluation"]["patients"] == 1  # a tenth of 12, kept out of the fit
    assert not model["evaluation"]["overlaps_training_cohort"]
    assert c.post(f"/v1/models/{done['model_id']}/promote", headers=h).status_code == 409


def test_the_spec_names_bad_options_as_the_command_line_does(tmp_path: Path) -> None:
    for options, said in ((["--strategy", "shards"],
                           "--strategy must be one of auto, full, subsample, not 'shards'"),
                          (["--chains", "1"], "--chains: Input should be greater than or equal"),
                          (["--holdout-days", "0"], "--holdout-days: Input should be greater")):
        res = CliRunner().invoke(app, ["fit", str(tmp_path), "--out", str(tmp_path / "m"),
                                       *options])
        assert res.exit_code == 2
        assert said in res.output
        assert not (tmp_path / "m").exists()


def test_the_http_body_is_the_spec(api: Api) -> None:
    """POST /v1/fits takes the spec's fields and bounds: the evaluation's are no longer fixed."""
    c, h = api.client, api.as_("a1")
    r = c.post("/v1/fits", json={"cohort_id": "none", "holdout_days": 0}, headers=h)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "holdout_days"
    assert c.post("/v1/fits", json={"cohort_id": "none", "evaluated_patients": 50},
                  headers=h).status_code == 404  # valid; no such cohort


def test_the_spec_knows_the_models_samplers() -> None:
    assert get_args(Sampler) == SAMPLERS
    assert RefitSpec().draws_cap() == 10_000
    assert RefitSpec(draws=20_000).draws_cap() == 100_000
