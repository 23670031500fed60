"""``-f gitlab-sast``: GitLab's SAST report shape, checked against the transcribed 15.x schema constraints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aisec.cli import EXIT_ERROR, EXIT_FINDINGS
from aisec.report import OutputFormat, render
from aisec.report.gitlab import gitlab_document
from tests.conftest import REPO
from tests.workflow.conftest import OS_SYSTEM_P4, TRUNCATED, UNKNOWN_IMPORT, put

SCHEMA = REPO / "tests" / "data" / "gitlab-sast-report-15.subset.schema.json"


@pytest.fixture(scope="module")
def validator() -> Any:
    import jsonschema  # here, not at module level: its import compiles 38 grammars (~2.6 CPU-s) in every
    # process that collects this module, including the pytest-xdist worker that never runs it

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def test_gitlab_report_validates_and_carries_every_finding(work: Path, aisec, validator: Any) -> None:
    put(OS_SYSTEM_P4, work / "m" / "evil.pkl")
    put(UNKNOWN_IMPORT, work / "m" / "medium.pkl")
    code, _, _ = aisec("scan", "m", "-f", "gitlab-sast", "-o", "gl-sast-report.json", "--json", "r.json")
    assert code == EXIT_FINDINGS
    doc = json.loads((work / "gl-sast-report.json").read_text())
    validator.validate(doc)
    ours = json.loads((work / "r.json").read_text())
    assert len(doc["vulnerabilities"]) == len(ours["findings"]) > 0
    assert doc["scan"]["type"] == "sast" and doc["scan"]["status"] == "success"
    assert doc["scan"]["analyzer"]["id"] == "aisec" and doc["version"].startswith("15.")
    evil = next(v for v in doc["vulnerabilities"] if v["identifiers"][0]["value"] == "AISEC-MDL-001")
    assert evil["severity"] == "Critical" and evil["location"] == {"file": "m/evil.pkl", "start_line": 1}
    assert {"type": "cwe", "name": "CWE-502", "value": "502",
            "url": "https://cwe.mitre.org/data/definitions/502.html"} in evil["identifiers"]
    fingerprints = {f["fingerprint"].replace("-", "")[:32] for f in ours["findings"]}
    assert {v["id"].replace("-", "") for v in doc["vulnerabilities"]} == fingerprints
    assert len({v["id"] for v in doc["vulnerabilities"]}) == len(doc["vulnerabilities"])
    medium = next(v for v in doc["vulnerabilities"] if v["identifiers"][0]["value"] == "AISEC-MDL-003")
    assert medium["severity"] == "Medium"


def test_incomplete_scan_is_a_failure_with_messages(work: Path, aisec, validator: Any) -> None:
    put(TRUNCATED, work / "m" / "cut.pkl")
    code, out, _ = aisec("scan", "m", "-f", "gitlab-sast")
    assert code == EXIT_ERROR
    doc = json.loads(out)
    validator.validate(doc)
    assert doc["scan"]["status"] == "failure"
    assert any(m["level"] == "warn" and "m/cut.pkl" in m["value"] for m in doc["scan"]["messages"])


def test_clean_scan_has_no_vulnerabilities_and_times_fall_back(validator: Any) -> None:
    from aisec.model import Report, Severity

    report = Report(tool_version="0.1.0", policy_name="default", policy_digest="0" * 64, fail_on=Severity.HIGH,
                    rules=(), artifacts=(), findings=())
    doc = gitlab_document(report)
    validator.validate(doc)
    assert doc["vulnerabilities"] == [] and doc["scan"]["start_time"] == "1970-01-01T00:00:00"
    assert json.loads(render(report, OutputFormat.GITLAB_SAST)) == doc


def test_the_schema_subset_rejects_what_gitlab_rejects(validator: Any) -> None:
    """The transcribed constraints bite: a wrong severity, a bad time or a missing identifier are refused."""
    put_doc = {"version": "15.1.4", "vulnerabilities": [], "scan": {
        "analyzer": {"id": "a", "name": "a", "version": "1", "vendor": {"name": "a"}},
        "scanner": {"id": "a", "name": "a", "version": "1", "vendor": {"name": "a"}},
        "type": "sast", "start_time": "2026-01-01T00:00:00", "end_time": "2026-01-01T00:00:00", "status": "success"}}
    validator.validate(put_doc)
    bad_time = json.loads(json.dumps(put_doc))
    bad_time["scan"]["start_time"] = "2026-01-01T00:00:00Z"
    bad_severity = json.loads(json.dumps(put_doc))
    bad_severity["vulnerabilities"] = [{"id": "x", "severity": "critical", "identifiers": [
        {"type": "t", "name": "n", "value": "v"}], "location": {}}]
    no_identifier = json.loads(json.dumps(put_doc))
    no_identifier["vulnerabilities"] = [{"id": "x", "identifiers": [], "location": {}}]
    for doc in (bad_time, bad_severity, no_identifier):
        assert not validator.is_valid(doc)
