"""The report floor never changes the gate (issue 12, verdict integrity 1): ``--min-severity``,
``AISEC_MIN_SEVERITY`` and a policy's ``min_severity`` decide what is printed; the exit code counts every finding
at or above ``fail_on``, and the summary says when the floor hid some of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aisec.cli import EXIT_FINDINGS, EXIT_OK, main
from aisec.scan import scan

HIGH_PICKLE = b"cmymodule\nfunc\n(tR."
"""A pickle that calls a global on no list: AISEC-MDL-002, high."""


@pytest.fixture
def high(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AISEC_MIN_SEVERITY", raising=False)
    monkeypatch.delenv("AISEC_FAIL_ON", raising=False)
    (tmp_path / "high.pkl").write_bytes(HIGH_PICKLE)
    return tmp_path / "high.pkl"


def test_the_sample_is_a_high_finding(high: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(high), "-q"]) == EXIT_FINDINGS
    assert "HIGH     AISEC-MDL-002" in capsys.readouterr().out


@pytest.mark.parametrize("how", ["flag", "environment", "policy"])
def test_a_floor_above_the_gate_hides_the_finding_but_not_the_verdict(
        high: Path, how: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["scan", str(high), "-q"]
    if how == "flag":
        argv += ["--min-severity", "critical"]
    elif how == "environment":
        monkeypatch.setenv("AISEC_MIN_SEVERITY", "critical")
    else:
        (high.parent / "quiet.yaml").write_text("name: quiet\nextends: default\nmin_severity: critical\n")
        argv += ["--policy", "quiet.yaml"]
    assert main(argv) == EXIT_FINDINGS
    out = capsys.readouterr().out
    assert "AISEC-MDL-002" not in out
    assert "Not shown: 1 finding(s) at or above the gate (1 high)" in out
    assert out.splitlines()[-1].startswith("FAIL:")


def test_json_and_sarif_count_what_the_floor_hid(high: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(high), "-q", "--min-severity", "critical", "-f", "json", "--sarif", "r.sarif"]) == 1
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["findings"] == 0 and summary["gate_findings"] == 1 and summary["gated_not_shown"] == 1
    run = json.loads((high.parent / "r.sarif").read_text())["runs"][0]
    assert run["results"] == [] and run["properties"]["aisec/gateFindingsNotShown"] == 1


def test_a_floor_below_the_gate_changes_nothing_and_the_gate_alone_can_pass(high: Path) -> None:
    assert main(["scan", str(high), "-q", "--min-severity", "info"]) == EXIT_FINDINGS
    assert main(["scan", str(high), "-q", "--min-severity", "critical", "--fail-on", "critical"]) == EXIT_OK
    report = scan([high], jobs=0)
    assert report.unreported == () and len(report.gate_findings) == 1


def test_under_a_baseline_a_hidden_unchanged_finding_does_not_gate_and_a_hidden_new_one_does(
        high: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(high), "-q", "--write-baseline", "base.sarif"]) == EXIT_FINDINGS
    floor = ["--min-severity", "critical", "--baseline", "base.sarif"]
    assert main(["scan", str(high), "-q", *floor]) == EXIT_OK
    (high.parent / "other.pkl").write_bytes(HIGH_PICKLE.replace(b"func", b"other"))
    capsys.readouterr()
    assert main(["scan", str(high), str(high.parent / "other.pkl"), "-q", *floor]) == EXIT_FINDINGS
    assert "Not shown: 1 finding(s)" in capsys.readouterr().out
