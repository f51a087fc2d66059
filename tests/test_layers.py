"""The floors of the house are enforced: `make lint` (lint-imports) fails on an arrow that runs up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "cli", "core", "demo", "handlers", "reports", "services", "simulator", "storage")
LINT = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.slow


def copy_of_the_house(target: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "*.sql"))
    shutil.copy(REPO / "pyproject.toml", target / "pyproject.toml")
    return target


def lint(where: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=where, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def add_import(module: Path, line: str) -> None:
    text = module.read_text(encoding="utf-8")
    head, _, rest = text.partition("from __future__ import annotations\n")
    module.write_text(f"{head}from __future__ import annotations\n\n{line}\n{rest}", encoding="utf-8")


def test_the_house_as_it_is_keeps_every_contract(tmp_path: Path) -> None:
    result = lint(copy_of_the_house(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/clock.py", "import handlers.common  # noqa", "core.clock -> handlers.common"),
        ("storage/sqlite/db.py", "import services.flow  # noqa", "storage.sqlite.db -> services.flow"),
        ("services/flow.py", "import telegram  # noqa", "services.flow -> telegram"),
        ("handlers/visit.py", "import storage.sqlite.store  # noqa", "handlers.visit -> storage.sqlite.store"),
        ("bot/app.py", "import simulator.botapi  # noqa", "bot.app -> simulator.botapi"),
        ("reports/tally.py", "import storage.types  # noqa", "reports.tally -> storage.types"),
    ],
)
def test_an_import_that_crosses_a_floor_the_wrong_way_fails_the_lint(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    house = copy_of_the_house(tmp_path)
    add_import(house / module, line)
    result = lint(house)
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout
