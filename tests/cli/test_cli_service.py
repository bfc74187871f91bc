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
    assert ok.exit_code == 0
    assert "created analyst 'ana'" in ok.output
    assert "a long password" not in ok.output
    again = runner.invoke(app, args, env={"RECOVERY_NEW_PASSWORD": "a long password"})
    assert again.exit_code == 2
    assert "taken" in again.output
    bad = runner.invoke(app, ["users", "create", "--username", "bo", "--role", "king"],
                        env={"RECOVERY_NEW_PASSWORD": "a long password"})
    assert bad.exit_code == 2
    assert "role" in bad.output
    short = runner.invoke(app, ["users", "create", "--username", "cy", "--role", "admin"],
                          env={"RECOVERY_NEW_PASSWORD": "short"})
    assert short.exit_code == 2
    assert "password" in short.output


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
    assert res.exit_code == 2
    assert "RECOVERY_SECRET_KEY" in res.output


def test_users_passwd_disable_enable_delete(env: Path) -> None:
    from recovery.service.db import Database
    from recovery.service.tables import User

    pw = {"RECOVERY_NEW_PASSWORD": "a long password"}
    assert runner.invoke(app, ["users", "create", "--username", "ana", "--role", "analyst"],
                         env=pw).exit_code == 0

    def ana() -> tuple[int, bool, str]:
        db = Database(f"sqlite:///{env}/r.db")
        with db.session() as s:
            u = s.get(User, 1)
            assert u is not None
            out = (u.token_version, u.active, u.username)
        db.close()
        return out

    assert ana() == (0, True, "ana")
    res = runner.invoke(app, ["users", "passwd", "--username", "ana"],
                        env={"RECOVERY_NEW_PASSWORD": "another long one"})
    assert res.exit_code == 0
    assert "another long one" not in res.output
    assert ana()[0] == 1
    assert runner.invoke(app, ["users", "disable", "--username", "ana"]).exit_code == 0
    assert ana()[:2] == (2, False)
    assert runner.invoke(app, ["users", "enable", "--username", "ana"]).exit_code == 0
    assert ana()[:2] == (3, True)
    assert runner.invoke(app, ["users", "delete", "--username", "ana"]).exit_code == 0
    assert ana() == (4, False, "deleted-1")
    missing = runner.invoke(app, ["users", "disable", "--username", "ana"])
    assert missing.exit_code == 2
    assert "no user 'ana'" in missing.output
    short = runner.invoke(app, ["users", "passwd", "--username", "deleted-1"],
                          env={"RECOVERY_NEW_PASSWORD": "short"})
    assert short.exit_code == 2
    assert "password" in short.output
    for revive in (["users", "enable", "--username", "deleted-1"],
                   ["users", "passwd", "--username", "deleted-1"]):
        res = runner.invoke(app, revive, env={"RECOVERY_NEW_PASSWORD": "a long password"})
        assert res.exit_code == 2, res.output
        assert "cannot be re-enabled" in res.output
    assert ana() == (4, False, "deleted-1")
    taken = runner.invoke(app, ["users", "create", "--username", "deleted-7", "--role",
                                "analyst"], env=pw)
    assert taken.exit_code == 2
    assert "reserved" in taken.output


def test_the_dashboards_uploader_refuses_what_the_service_would() -> None:
    from recovery.cli.running import streamlit_args
    from recovery.service.settings import Settings

    args = streamlit_args("app.py", 8501, "127.0.0.1", Settings().max_upload_bytes)
    assert args[args.index("--server.maxUploadSize") + 1] == "19"  # 20 MB, in whole MiB
