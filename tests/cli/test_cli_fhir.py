"""`recovery fhir import` and `export` on a real database file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from typer.testing import CliRunner

from recovery.cli import app
from tests.helpers import CLOCK, DEFAULT_MODEL, ROOT

runner = CliRunner()
EXAMPLE = ROOT / "examples" / "fhir" / "transaction.json"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECOVERY_DATABASE_URL", f"sqlite:///{tmp_path}/r.db")
    monkeypatch.setenv("RECOVERY_DEFAULT_MODEL_DIR", str(DEFAULT_MODEL))
    monkeypatch.setenv("RECOVERY_CLOCK_DATE", str(CLOCK))
    pw = {"RECOVERY_NEW_PASSWORD": "a long password"}
    assert runner.invoke(app, ["users", "create", "--username", "clinic", "--role",
                               "therapist"], env=pw).exit_code == 0
    return tmp_path


def test_import_is_all_or_nothing_and_export_gives_a_valid_bundle(env: Path) -> None:
    bad = json.loads(EXAMPLE.read_text())
    bad["entry"][2]["resource"]["valueQuantity"]["value"] = 6.5
    (env / "bad.json").write_text(json.dumps(bad))
    refused = runner.invoke(app, ["fhir", "import", str(env / "bad.json"), "--therapist",
                                  "clinic"])
    assert refused.exit_code == 2, refused.output
    assert "Bundle.entry[2].resource.value[x]" in refused.output
    assert "not stored" in refused.output
    first = runner.invoke(app, ["fhir", "import", str(EXAMPLE), "--therapist", "clinic"])
    assert first.exit_code == 0, first.output
    assert "stored 6 new of 6 entries" in first.output
    again = runner.invoke(app, ["fhir", "import", str(EXAMPLE), "--therapist", "clinic"])
    assert "stored 0 new of 6 entries" in again.output
    pid = first.output.rsplit(": ", 1)[1].strip()
    exported = runner.invoke(app, ["fhir", "export", "--patient", pid, "--out",
                                   str(env / "out.json")])
    assert exported.exit_code == 0, exported.output
    doc = json.loads((env / "out.json").read_text())
    Bundle.model_validate(doc)
    assert sorted(e["resource"]["resourceType"] for e in doc["entry"]) == [
        "Observation", "Observation", "Observation", "Patient", "Procedure", "Procedure"]
    missing = runner.invoke(app, ["fhir", "export", "--patient", "nobody"])
    assert missing.exit_code == 2
    assert "no record 'nobody'" in missing.output
