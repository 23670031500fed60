"""The first day: an empty folder says why nothing was scanned, counts name files and folders, ``--jobs`` is capped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import aisec.scan
from aisec.cli import EXIT_ERROR, EXIT_OK, main
from aisec.executor import default_jobs
from tests.cli.conftest import Scan
from tests.conftest import fixture_path

BENIGN = fixture_path("AISEC-MDL-001", "pass", "state_dict.pkl")


@pytest.mark.parametrize(("make", "why"), [
    (lambda p: None, "empty is an empty folder"),
    (lambda p: (p / ".git" / "objects").mkdir(parents=True), "empty holds only .git (version-control and cache"),
    (lambda p: (p / "a" / "b").mkdir(parents=True), "empty holds no files, only empty folders"),
])
def test_an_empty_folder_says_nothing_to_scan_and_why(work: Path, make: Any, why: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (work / "empty").mkdir()
    make(work / "empty")
    assert main(["scan", "empty", "--jobs", "0"]) == EXIT_ERROR
    out = capsys.readouterr().out
    assert f"Notice: nothing to scan: {why}" in out
    assert "FAIL: nothing to scan, 0 findings, 0 scan errors" in out and "artifacts" not in out


def test_counts_name_files_and_model_folders_with_singulars(work: Path, scan_json: Scan,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    model = work / "model"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    (model / "weights.pkl").write_bytes(BENIGN.read_bytes())
    assert main(["scan", "model", "--jobs", "0"]) == EXIT_OK
    assert "PASS: 2 files and 1 model folder scanned, 0 findings, 0 scan errors" in capsys.readouterr().out
    assert main(["scan", "model/weights.pkl", "--jobs", "0"]) == EXIT_OK
    assert "PASS: 1 file scanned, 0 findings, 0 scan errors" in capsys.readouterr().out
    _code, report = scan_json("model")
    assert report["summary"]["files"] == 2 and report["summary"]["model_folders"] == 1
    main(["scan", "gone", "--jobs", "0"])
    assert "FAIL: nothing scanned, 1 finding (1 high), 1 scan error," in capsys.readouterr().out


def test_jobs_beyond_the_cpus_are_capped_with_a_notice(work: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (work / "w.pkl").write_bytes(BENIGN.read_bytes())
    asked: list[int | None] = []
    real = aisec.scan.scan

    def spy(*args: Any, **kwargs: Any) -> aisec.scan.Report:
        asked.append(kwargs["jobs"])
        return real(*args, **{**kwargs, "jobs": 0})  # the spy checks the request; analysis stays in-process

    monkeypatch.setattr(aisec.scan, "scan", spy)
    cpus = default_jobs()
    assert main(["scan", "w.pkl", "--jobs", "1000"]) == EXIT_OK
    assert asked == [cpus]
    assert (f"aisec: notice: --jobs 1000 is more than the {cpus} CPU(s) this process may use; running {cpus} "
            "workers") in capsys.readouterr().err
    assert main(["scan", "w.pkl", "--jobs", str(cpus)]) == EXIT_OK and asked[-1] == cpus
    assert main(["scan", "w.pkl", "--jobs", "0"]) == EXIT_OK and asked[-1] == 0
    assert "notice" not in capsys.readouterr().err


@pytest.mark.parametrize("cut", [30, 61])
def test_a_truncated_pickle_names_the_byte_where_it_really_ended(work: Path, scan_json: Scan, cut: int) -> None:
    import pickle

    whole = pickle.dumps({"weights": [1.5, 2.5, 3.5], "name": "x" * 40}, protocol=4)
    (work / "cut.pkl").write_bytes(whole[:cut])
    code, report = scan_json("cut.pkl")
    assert code == EXIT_ERROR
    [error] = [e for e in report["errors"] if e["reason"] == "malformed"]
    assert f"reading stopped at byte {cut} of {cut}" in error["message"]
    assert "at or after byte 0" not in error["message"] and error["location"]["offset"] == cut
