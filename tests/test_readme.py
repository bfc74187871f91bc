"""The README is a front door that stays true: under 200 lines, every command in it run (or,
where a run takes minutes, parsed by the very CLI it names), and every link in it and in the
docs/ pages pointing at a file that exists."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from recovery.cli import app
from tests.helpers import ROOT

README = ROOT / "README.md"
SLOW = {"fit"}  # minutes: parsed by the command's own options, not run


def commands() -> list[str]:
    """The lines of the README's indented code blocks (each one command)."""
    lines, out, previous = README.read_text().splitlines(), [], ""
    for line in lines:
        if line.startswith("    ") and (previous == "" or previous.startswith("    ")):
            out.append(line.strip())
        previous = line
    return [c for c in out if c]


def test_the_readme_is_a_front_door() -> None:
    text = README.read_text()
    assert len(text.splitlines()) < 200
    for section in ("## Two commands", "## The first five minutes", "## Where to go next"):
        assert section in text
    for role in ("therapist", "patient", "analyst", "administrator"):
        assert f"**As a{'n' if role[0] in 'aeiou' else ''} {role}**" in text
    assert len(commands()) >= 5


@pytest.mark.parametrize("command", commands())
def test_every_readme_command_works(command: str, tmp_path: Path) -> None:
    words = shlex.split(command)
    if words[0] == "make":
        got = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
        assert got.returncode == 0, got.stderr
        return
    if words[0] == ".":  # the environment `make install` builds, as the tests run in it
        assert words[1] == ".venv/bin/activate"
        assert "VENV := .venv" in (ROOT / "Makefile").read_text()
        assert (Path(sys.executable).parent / "activate").is_file()
        return
    assert words[0] == "recovery", f"a README command this test does not know: {command}"
    args = [str(tmp_path / Path(w).name) if prev in ("--out", "--plot") else w
            for prev, w in pairwise(words)]
    if len(args) > 1 and args[0] in SLOW:
        click_app = get_command(app)
        sub = click_app.commands[args[0]]  # type: ignore[attr-defined]
        sub.make_context(args[0], args[1:])  # refuses unknown options and missing values
        assert (ROOT / args[1]).exists()
        return
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for prev, w in pairwise(args):
        if prev in ("--out", "--plot"):
            assert Path(w).stat().st_size > 0


def _links(page: Path) -> list[tuple[Path, str]]:
    text = page.read_text()
    found = re.findall(r"\]\(([^)#\s]+)[^)]*\)", text) + re.findall(r'src="([^"]+)"', text)
    return [(page, x) for x in found if not x.startswith(("http://", "https://", "mailto:"))]


@pytest.mark.parametrize("page", [README, *sorted((ROOT / "docs").glob("*.md"))],
                         ids=lambda p: p.name)
def test_every_link_points_at_a_file(page: Path) -> None:
    missing = [x for p, x in _links(page) if not (p.parent / x).exists()]
    assert not missing, missing
