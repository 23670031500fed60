"""Static quality gates that run with the suite: ruff, mypy --strict, and a docstring on every module."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import REPO


def test_ruff_is_clean() -> None:
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "aisec", "tests", "fixtures", "benchmarks"],
                         cwd=REPO, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_strict_is_clean() -> None:
    run = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_module_has_a_docstring() -> None:
    missing = []
    for path in sorted((REPO / "aisec").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not ast.get_docstring(tree):
            missing.append(str(path.relative_to(REPO)))
    assert not missing, missing
