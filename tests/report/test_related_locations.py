"""Related locations: a finding carries every affected row into SARIF, JSON, text and HTML, bounded by a cap."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from aisec.engine.evaluate import findings_for
from aisec.model import Artifact, ArtifactKind, Confidence, Fact, Finding, Location, RelatedLocation, Report, Severity
from aisec.report.html import render_html
from aisec.report.json import report_document
from aisec.report.sarif import _result, render_sarif
from aisec.report.text import render_text
from aisec.scan import load_configuration, scan
from tests.conftest import REPO, check_sarif, fixture_path
from tests.datasets.helpers import analyze, truth

TRIGGER = fixture_path("AISEC-DAT-022", "fail", "reviews_backdoor.jsonl")


@pytest.fixture(scope="module")
def trigger_report() -> Report:
    import os

    here = os.getcwd()
    os.chdir(REPO)  # report paths are relative to the working directory
    try:
        return scan([TRIGGER])
    finally:
        os.chdir(here)


def _trigger(report: Report) -> Finding:
    return next(f for f in report.findings if f.rule_id == "AISEC-DAT-022")


def test_every_affected_row_reaches_the_sarif_result(trigger_report: Report, sarif_validator: Any,
                                                     tmp_path: Path) -> None:
    expected = truth()["reviews_backdoor.jsonl"]["dataset.backdoor_trigger"]
    log = json.loads(render_sarif(trigger_report))
    result = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "AISEC-DAT-022")
    related = result["relatedLocations"]
    assert [r["physicalLocation"]["region"]["startLine"] for r in related] == expected
    assert [r["id"] for r in related] == list(range(len(expected)))
    assert all(r["message"]["text"].startswith("row ") for r in related)
    assert result["properties"]["aisec/affected_rows"] == len(expected)
    errors = sorted(sarif_validator.iter_errors(log), key=str)
    assert not errors, errors[0].message
    out = tmp_path / "trigger.sarif"
    out.write_text(render_sarif(trigger_report), encoding="utf-8")
    code, output = check_sarif(out)
    assert code == 0, output


def test_json_text_and_html_carry_the_rows(trigger_report: Report) -> None:
    finding = _trigger(trigger_report)
    total = len(finding.related_locations)
    doc = report_document(trigger_report)
    entry = next(f for f in doc["findings"] if f["rule_id"] == "AISEC-DAT-022")
    assert len(entry["related_locations"]) == total
    assert entry["related_locations"][0]["location"]["line"] == finding.related_locations[0].location.line
    text = render_text(trigger_report)
    assert f"affects {total}: {finding.related_locations[0].message}," in text
    assert f"({total} in all" in text
    page = render_html(json.loads(render_sarif(trigger_report)))
    assert f'data-related="{total}"' in page and finding.related_locations[0].message in page


def test_the_cap_bounds_output_but_the_evidence_keeps_the_true_count() -> None:
    full, _ = analyze(TRIGGER)
    capped, _ = analyze(TRIGGER, settings={"max_related_locations": 3})
    a = next(f for f in full if f.key == "dataset.backdoor_trigger")
    b = next(f for f in capped if f.key == "dataset.backdoor_trigger")
    assert len(b.related) == 3 and b.related == a.related[:3]
    assert b.detail["affected_rows"] == a.detail["affected_rows"] == len(a.related) > 3
    assert b.detail["related_shown"] == 3


def test_fingerprint_ignores_related_rows_and_results_cross_the_process_boundary() -> None:
    _policy, _rules, bound = load_configuration()
    rules = [r for r in bound if r.rule.id == "AISEC-DAT-022"]
    artifact = Artifact(path="d.csv", kind=ArtifactKind.CSV, size=1, sha256="0" * 64)
    detail = {"kind": "ngram", "target_label": "x", "rows_with_target_label": 2}

    def fact(rows: tuple[int, ...]) -> Fact:
        related = tuple(RelatedLocation(location=Location(line=r + 2), message=f"row {r}") for r in rows)
        return Fact(key="dataset.backdoor_trigger", value="cf", location=Location(line=2), detail=detail,
                    related=related)

    one = findings_for(artifact, [fact((0, 5))], rules)
    two = findings_for(artifact, [fact((0, 5, 9))], rules)
    assert one and one[0].fingerprint == two[0].fingerprint
    assert [r.message for r in two[0].related_locations] == ["row 0", "row 5", "row 9"]
    assert pickle.loads(pickle.dumps(two[0])) == two[0]


def test_rows_without_lines_become_logical_locations(sarif_validator: Any) -> None:
    finding = Finding(rule_id="AISEC-DAT-022", severity=Severity.HIGH, confidence=Confidence.MEDIUM,
                      message="m", path="d.parquet", location=Location(pointer="/3"), fingerprint="ab" * 32,
                      related_locations=(RelatedLocation(location=Location(pointer="/3"), message="row 3"),))
    report = Report(tool_version="0", policy_name="p", policy_digest="0" * 64, fail_on=Severity.HIGH,
                    rules=(), artifacts=(Artifact(path="d.parquet", kind=ArtifactKind.PARQUET, size=1,
                                                  sha256="0" * 64),), findings=())
    result = _result(finding, {}, {"d.parquet": 0})
    entry = result["relatedLocations"][0]
    assert "region" not in entry["physicalLocation"]
    assert entry["logicalLocations"][0]["fullyQualifiedName"] == "d.parquet#/3"
    log = json.loads(render_sarif(report))
    log["runs"][0]["results"] = [result]
    errors = sorted(sarif_validator.iter_errors(log), key=str)
    assert not errors, errors[0].message

