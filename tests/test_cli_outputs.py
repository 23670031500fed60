"""Outputs are checked before any work (issue 12, verdict integrity 5), and a closed pipe ends quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import aisec.scan
from aisec.cli import EXIT_ERROR, main
from tests.conftest import REPO


@pytest.fixture
def no_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The scan itself must not start: an unwritable output is found first."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the scan ran before the outputs were checked")
    monkeypatch.setattr(aisec.scan, "scan", refuse)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.pkl").write_bytes(b"\x80\x04K\x01.")
    (tmp_path / "folder").mkdir()
    return tmp_path


@pytest.mark.parametrize(("flags", "says"), [
    (["--sarif", "missing/dir/x.sarif"], "--sarif missing/dir/x.sarif: cannot write: folder"),
    (["-o", "missing/x.txt"], "-o missing/x.txt: cannot write: folder"),
    (["--json", "folder"], "--json folder: is a folder"),
    (["--write-baseline", "nowhere/b.sarif"], "--write-baseline nowhere/b.sarif: cannot write"),
])
def test_an_unwritable_report_path_fails_before_the_scan(no_scan: Path, flags: list[str], says: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "m.pkl", "-q", *flags]) == EXIT_ERROR
    assert says in capsys.readouterr().err
    assert not list(no_scan.glob("missing*")) and not list(no_scan.glob("nowhere*"))


def test_dataset_manifest_output_is_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import aisec.datasets.manifest

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the dataset was read before the output was checked")
    monkeypatch.setattr(aisec.datasets.manifest, "build_manifest", refuse)  # the verb imports it when run
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    assert main(["dataset", "manifest", str(tmp_path), "-o", str(tmp_path / "no" / "m.json")]) == EXIT_ERROR
    assert "cannot write: folder" in capsys.readouterr().err


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "aisec", "rules", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=REPO)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head -1` having exited before aisec writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141  # 128 + SIGPIPE, as a Unix tool killed by the signal: never 0
    assert err == ""
