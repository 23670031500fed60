"""One base per report: a folder given from anywhere names its files under its own name; a missing path keeps
the name the user can recognise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Scan

REMOTE_CODE = {"auto_map": {"AutoModel": "other/repo--modeling.Foo"}}  # a config.json finding (AISEC-MDL-048)


def _paths(report: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    return ([a["path"] for a in report["artifacts"]], [f["path"] for f in report["findings"]],
            [e["path"] for e in report["errors"]])


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A model folder outside the working directory: a config with remote code and opaque weights."""
    folder = tmp_path / "elsewhere" / "model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(REMOTE_CODE), encoding="utf-8")
    (folder / "weights.bin").write_bytes(bytes(range(64)))
    return folder


def test_an_absolute_folder_outside_the_working_directory_has_one_base(scan_json: Scan, model: Path) -> None:
    _code, report = scan_json(model)
    artifacts, findings, _errors = _paths(report)
    assert artifacts == [".", "config.json", "weights.bin"]  # was "model" beside "config.json"
    assert "config.json" in findings and "model/config.json" not in findings
    (model.parent.parent / "third.bin").write_bytes(b"\0" * 8)
    _code, report = scan_json(model, model.parent.parent / "third.bin")
    assert _paths(report)[0] == ["elsewhere/model", "elsewhere/model/config.json", "elsewhere/model/weights.bin",
                                 "third.bin"]
    assert "elsewhere/model/config.json" in _paths(report)[1]


def test_the_working_directory_itself_is_dot_and_its_files_plain(scan_json: Scan, model: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(model)
    _code, report = scan_json(".")
    artifacts, findings, _errors = _paths(report)
    assert artifacts == [".", "config.json", "weights.bin"]
    assert "config.json" in findings


def test_a_missing_path_is_shown_whole(scan_json: Scan, model: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone" / "weights.pt"
    code, report = scan_json(model, gone)
    artifacts, _findings, errors = _paths(report)
    assert code == 2
    assert errors == [gone.as_posix()]  # not "weights.pt", which reads like a file of the scanned model
    assert artifacts[0] == "."
    _code, report = scan_json("missing/weights.pt")
    assert _paths(report)[2] == ["missing/weights.pt"]


def test_a_missing_absolute_path_stays_whole_in_sarif_without_an_absolute_uri(work: Path, model: Path,
                                                                              tmp_path: Path) -> None:
    from aisec.baseline import load_baseline
    from aisec.cli import main
    from aisec.report.html import render_html_from_sarif

    gone = tmp_path / "gone" / "weights.pt"
    out = work / "r.sarif"
    assert main(["scan", str(model), str(gone), "--sarif", str(out), "--jobs", "0", "-q"]) == 2
    log = json.loads(out.read_text(encoding="utf-8"))
    run = log["runs"][0]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"]]
    assert {"uri": gone.as_posix().lstrip("/"), "uriBaseId": "%FSROOT%"} in uris
    assert run["originalUriBaseIds"]["%FSROOT%"]["uri"] == "file:///"
    assert not any(u["uri"].startswith("/") for u in uris)
    assert gone.as_posix() in {r.path for r in load_baseline(out)}  # the baseline reads the same path back
    assert f"{gone.as_posix()}<" in render_html_from_sarif(out)
