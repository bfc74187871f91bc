"""`recovery users create` and `recovery seed-demo` against a real database file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recovery.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECOVERY_DATABASE_URL", f"sqlite:///{tmp_path}/r.db")
    return tmp_path


def test_users_create(env: Path) -> None:
    args = ["users", "create", "--username", "ana", "--role", "analyst"]
    ok = runner.invoke(app, args, env={"RECOVERY_NEW_PASSWORD": "a long password"})
    assert ok.exit_code == 0 and "created analyst 'ana'" in ok.output
    assert "a long password" not in ok.output
    again = runner.invoke(app, args, env={"RECOVERY_NEW_PASSWORD": "a long password"})
    assert again.exit_code == 2 and "taken" in again.output
    bad = runner.invoke(app, ["users", "create", "--username", "bo", "--role", "king"],
                        env={"RECOVERY_NEW_PASSWORD": "a long password"})
    assert bad.exit_code == 2 and "role" in bad.output
    short = runner.invoke(app, ["users", "create", "--username", "cy", "--role", "admin"],
                          env={"RECOVERY_NEW_PASSWORD": "short"})
    assert short.exit_code == 2 and "password" in short.output


def test_seed_demo_is_repeatable(env: Path) -> None:
    creds = env / "logins.json"
    first = runner.invoke(app, ["seed-demo", "--credentials", str(creds)])
    assert first.exit_code == 0, first.output
    logins = json.loads(creds.read_text())
    assert set(logins) == {"therapist", "analyst", "admin", "patient"}
    assert runner.invoke(app, ["seed-demo", "--credentials", str(creds)]).exit_code == 0
    assert json.loads(creds.read_text())["therapist"]["password"] != logins["therapist"][
        "password"]  # passwords are reset, patients are not added twice


def test_serve_refuses_to_start_without_a_secret(env: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECOVERY_SECRET_KEY", raising=False)
    res = runner.invoke(app, ["serve", "--port", "8999"])
    assert res.exit_code == 2 and "RECOVERY_SECRET_KEY" in res.output
