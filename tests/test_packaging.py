"""The built wheel ships the rules and policies: `aisec rules list` works from any directory after install."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_wheel_contains_rules_and_works_outside_the_checkout(tmp_path: Path) -> None:
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(REPO)], capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("aisec-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    assert "aisec/_rules/policies/default.yaml" in names
    assert "aisec/_rules/model/AISEC-MDL-001.yaml" in names
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    run = subprocess.run([sys.executable, "-c", "import aisec, sys; from aisec.cli import main; "
                          "print(aisec.__file__); sys.exit(main(['rules', 'list']))"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert str(tmp_path / "site") in run.stdout
    assert "AISEC-MDL-001" in run.stdout
