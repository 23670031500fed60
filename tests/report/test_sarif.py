"""SARIF output: valid against the official schema and GitHub's ingestion rules, for every report shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aisec.model import Report
from aisec.report.sarif import render_sarif
from aisec.scan import scan
from tests.conftest import REPO, ReadmeRun, check_sarif, fixture_path


def _reports(tmp_path: Path) -> dict[str, Report]:
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "notes.txt").write_text("nothing to see\n")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "cut.pkl").write_bytes(fixture_path("AISEC-GEN-001", "fail", "truncated.pkl").read_bytes())
    return {
        "clean": scan([clean]),
        "findings": scan([fixture_path("AISEC-MDL-001")], hashes=True),
        "errors": scan([broken, tmp_path / "missing"]),
        "suppressed": scan([fixture_path("AISEC-MDL-002")], policy=_suppressing_policy(tmp_path)),
    }


def _suppressing_policy(tmp_path: Path) -> Path:
    path = tmp_path / "suppress.yaml"
    path.write_text("name: suppress\nextends: default\nsuppressions:\n  - {rule: AISEC-MDL-002, path: '**', "
                    "justification: 'reviewed helper module'}\n")
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """Four report shapes, scanned once for the tests that each check something else about them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)  # report paths are relative to the working directory
        return _reports(tmp_path_factory.mktemp("reports"))


def test_every_report_shape_validates_against_the_official_schema(reports: dict[str, Report],
                                                                   sarif_validator: Any) -> None:
    for name, report in reports.items():
        log = json.loads(render_sarif(report))
        errors = sorted(sarif_validator.iter_errors(log), key=str)
        assert not errors, f"{name}: {errors[0].message} at {list(errors[0].path)}"


def test_every_report_shape_passes_the_strict_github_checker(reports: dict[str, Report], tmp_path: Path) -> None:
    for name, report in reports.items():
        out = tmp_path / f"{name}.sarif"
        out.write_text(render_sarif(report), encoding="utf-8")
        code, output = check_sarif(out)
        assert code == 0, f"{name}:\n{output}"


def test_clean_scan_still_has_results_and_rules(reports: dict[str, Report]) -> None:
    run = json.loads(render_sarif(reports["clean"]))["runs"][0]
    assert run["results"] == []
    assert run["tool"]["driver"]["rules"], "every enabled rule is listed even when nothing fired"
    assert run["invocations"][0]["executionSuccessful"] is True


def test_results_carry_rule_index_locations_and_fingerprints(reports: dict[str, Report]) -> None:
    run = json.loads(render_sarif(reports["findings"]))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["results"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not loc["artifactLocation"]["uri"].startswith("/")
        assert loc["region"]["startLine"] == 1
        fingerprint = result["partialFingerprints"]["primaryLocationLineHash"]
        assert fingerprint.endswith(":1") and len(fingerprint) == 18
        assert run["artifacts"][loc["artifactLocation"]["index"]]["location"]["uri"] == \
            loc["artifactLocation"]["uri"]
    for rule in rules:
        float(rule["properties"]["security-severity"])
        assert rule["help"]["markdown"] and rule["fullDescription"]["text"]
    hashed = [a for a in run["artifacts"] if "hashes" in a]
    assert hashed and all(len(a["hashes"]["sha-256"]) == 64 for a in hashed)


def test_scan_errors_are_notifications_and_findings(reports: dict[str, Report]) -> None:
    run = json.loads(render_sarif(reports["errors"]))["runs"][0]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert {n["properties"]["aisec/reason"] for n in notes} == {"malformed", "not-found"}
    assert run["invocations"][0]["executionSuccessful"] is True
    assert {r["ruleId"] for r in run["results"]} >= {"AISEC-GEN-001"}


def test_suppressed_findings_are_left_out(reports: dict[str, Report]) -> None:
    report = reports["suppressed"]
    assert report.suppressed and not [f for f in report.findings if f.rule_id == "AISEC-MDL-002"]
    run = json.loads(render_sarif(report))["runs"][0]
    assert not [r for r in run["results"] if r["ruleId"] == "AISEC-MDL-002"]
    assert run["properties"]["aisec/suppressedCount"] == len(report.suppressed)


def test_output_is_deterministic_apart_from_times(corpus_reports: dict[int, Report], readme_run: ReadmeRun) -> None:
    def strip(text: str) -> dict[str, Any]:
        log = json.loads(text)
        for inv in log["runs"][0]["invocations"]:
            inv.pop("startTimeUtc", None)
            inv.pop("endTimeUtc", None)
        return log

    # Two separate scans of every fixture (the README's command with a worker per CPU, as a process, and one
    # worker; tests/conftest.py scans once for the suite).
    first = readme_run.sarif.read_text(encoding="utf-8")
    second = render_sarif(corpus_reports[1])
    assert strip(first) == strip(second)
    fingerprints = [r["partialFingerprints"]["aisecFinding/v1"] for r in json.loads(first)["runs"][0]["results"]]
    assert len(fingerprints) == len(set(fingerprints))


def test_fingerprints_do_not_depend_on_where_the_repo_lives(tmp_path: Path, in_repo: Path) -> None:
    import shutil

    here = {r["partialFingerprints"]["aisecFinding/v1"] for r in
            json.loads(render_sarif(scan(["fixtures/generated/AISEC-MDL-001"])))["runs"][0]["results"]}
    copy = tmp_path / "elsewhere"
    shutil.copytree(REPO / "fixtures" / "generated" / "AISEC-MDL-001", copy / "fixtures/generated/AISEC-MDL-001")
    import os

    os.chdir(copy)
    there = {r["partialFingerprints"]["aisecFinding/v1"] for r in
             json.loads(render_sarif(scan(["fixtures/generated/AISEC-MDL-001"])))["runs"][0]["results"]}
    assert here == there
