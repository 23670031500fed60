"""File names that are not UTF-8 round-trip through every report (issue 12): percent-encoded SARIF URIs,
escaped JSON strings, readable text, and a baseline that recognises the same finding again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest

from aisec.cli import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, main

NAME = b"bad\xff\xfename.pkl"
HIGH_PICKLE = b"cmymodule\nfunc\n(tR."


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / os.fsdecode(NAME)).write_bytes(HIGH_PICKLE)
    return tmp_path


def test_every_format_names_the_file_and_round_trips(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "m", "-q", "-j", "0", "--json", "r.json", "--sarif", "r.sarif"]) == EXIT_FINDINGS
    assert "m/bad\\xff\\xfename.pkl" in capsys.readouterr().out
    doc = json.loads((tree / "r.json").read_text(encoding="utf-8"))
    assert [os.fsencode(f["path"]) for f in doc["findings"]] == [b"m/" + NAME]
    run = json.loads((tree / "r.sarif").read_text(encoding="utf-8"))["runs"][0]
    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "m/bad%FF%FEname.pkl" and unquote_to_bytes(uri) == b"m/" + NAME
    assert "bad\\xff\\xfename.pkl" in run["results"][0]["message"]["text"]
    assert main(["scan", "m", "-q", "-j", "0", "--baseline", "r.sarif"]) == EXIT_OK  # unchanged, not new
    assert main(["report", "r.sarif", "-o", "r.html"]) == EXIT_OK
    assert "m/bad\\xff\\xfename.pkl" in (tree / "r.html").read_text(encoding="utf-8")


def test_a_symlink_loop_is_reported_and_the_rest_is_scanned(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.symlink("b", tree / "m" / "a")
    os.symlink("a", tree / "m" / "b")
    assert main(["scan", "m", "-q", "-j", "0", "--json", "r.json"]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    doc = json.loads((tree / "r.json").read_text(encoding="utf-8"))
    assert {(e["path"], e["reason"]) for e in doc["errors"]} == {("m/a", "symlink"), ("m/b", "symlink")}
    assert any(f["rule_id"] == "AISEC-MDL-002" for f in doc["findings"])
    assert "symlink loop" in captured.out
