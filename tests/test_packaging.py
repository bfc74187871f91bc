"""The installed package: each part in its top-level folder, every module under one name."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

PARTS = {"recovery.model": "model", "recovery.engine": "engine", "recovery.service": "service",
         "recovery.dashboard": "dashboard", "recovery.charts": "charts", "recovery.cli": "cli"}
SKIPPED = ("recovery.service.main", "recovery.service.migrations")  # build an app / need alembic


@pytest.mark.parametrize(("package", "folder"), PARTS.items())
def test_each_part_lives_in_its_top_level_folder(package: str, folder: str) -> None:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(ROOT / folder / "recovery")


def test_every_module_is_imported_under_one_name_only() -> None:
    for package in PARTS:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if not info.name.startswith(SKIPPED):
                importlib.import_module(info.name)
    folders = [ROOT / f for f in set(PARTS.values())]
    names: dict[Path, str] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        path = Path(file).resolve() if file else None
        if path is None or not any(path.is_relative_to(f) for f in folders):
            continue
        assert name.startswith("recovery."), f"{path} imported as {name}"
        assert names.setdefault(path, name) == name, f"{path} as {name} and {names[path]}"
    assert len(names) > 60  # the walk reached every part
