"""Precision and recall per signal on poisoned datasets, and no finding above low on their clean twins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aisec.model import Severity
from aisec.report.sarif import render_sarif
from aisec.scan import scan
from tests.conftest import FIXTURES
from tests.datasets.helpers import DATASETS, analyze, lines_of, precision_recall, rows_of, truth

CELL_SIGNALS = ["dataset.tag_text", "dataset.bidi_control", "dataset.invisible_char", "dataset.confusable",
                "dataset.shell_payload", "dataset.typosquat", "dataset.prompt_injection", "dataset.role_marker",
                "dataset.secret"]


@pytest.fixture(scope="module")
def instruction_facts() -> dict[str, list]:  # type: ignore[type-arg]
    return {name: analyze(DATASETS / "instructions" / f"poisoned.{name.split('.')[1]}")[0]
            for name in ("instructions.jsonl", "instructions.csv")}


@pytest.mark.parametrize("name", ["instructions.jsonl", "instructions.csv"])
@pytest.mark.parametrize("key", CELL_SIGNALS)
def test_cell_signal_precision_and_recall(instruction_facts: dict[str, list], name: str,  # type: ignore[type-arg]
                                          key: str) -> None:
    # Compared by record: in the CSV a record spans several physical lines (quoted newlines).
    expected = {line - 1 for line in truth()["instructions.jsonl"][key]}
    found = rows_of(instruction_facts[name], key)
    precision, recall = precision_recall(found, expected)
    assert recall == 1.0, (key, sorted(expected - found))
    assert precision == 1.0, (key, sorted(found - expected))


@pytest.mark.parametrize("name", ["instructions.jsonl", "instructions.csv"])
def test_raw_ip_urls_and_duplicate_cluster(instruction_facts: dict[str, list], name: str) -> None:  # type: ignore[type-arg]
    facts = instruction_facts[name]
    raw_ip = rows_of([f for f in facts if f.detail.get("raw_ip") is True], "dataset.url_host")
    expected = {line - 1 for line in truth()["instructions.jsonl"]["dataset.url_host"]}
    # One fact per URL host (and column) with every row that links to it attached: nothing is left out.
    assert raw_ip == expected
    hosts = [f for f in facts if f.key == "dataset.url_host"]
    assert len({(f.value, f.location.pointer) for f in hosts}) == len(hosts)
    assert sum(int(f.detail["affected_rows"]) for f in hosts) == 15
    assert not [f for f in facts if f.key == "dataset.fact_overflow"]
    clusters = [f for f in facts if f.key == "dataset.duplicate_cluster"]
    assert len(clusters) == 1
    assert clusters[0].detail["size"] == 6 and clusters[0].detail["flagged_members"] == 6
    assert clusters[0].location.line == min(truth()[name]["dataset.duplicate_cluster"])


def test_label_errors_are_found_on_flipped_wine() -> None:
    facts, errors = analyze(FIXTURES / "AISEC-DAT-018" / "fail" / "wine_flipped.csv")
    assert not errors
    flipped = set(truth()["wine_flipped.csv"]["dataset.label_issue"])
    # Every reported row (each label's finding lists all of its flagged rows), not a confident subset.
    precision, recall = precision_recall(lines_of(facts, "dataset.label_issue"), flipped)
    assert recall >= 0.85 and precision >= 0.8, (precision, recall)
    noise = next(f for f in facts if f.key == "dataset.label_noise")
    assert float(noise.value) >= 0.05 and int(noise.detail["issues"]) >= 5


def test_text_backdoor_trigger_is_found_with_its_rows() -> None:
    facts, _ = analyze(FIXTURES / "AISEC-DAT-022" / "fail" / "reviews_backdoor.jsonl")
    triggers = [f for f in facts if f.key == "dataset.backdoor_trigger"]
    assert [t.value for t in triggers] == truth()["reviews_backdoor.jsonl"]["trigger"]
    t = triggers[0]
    expected = truth()["reviews_backdoor.jsonl"]["dataset.backdoor_trigger"]
    assert t.detail["target_label"] == "positive" and t.detail["affected_rows"] == len(expected)
    assert float(t.detail["p_value"]) <= 0.001 and float(t.detail["unexplained_share"]) >= 0.9
    assert t.location.line == expected[0]
    assert [r.location.line for r in t.related] == expected


def test_tabular_backdoor_trigger_is_found() -> None:
    facts, _ = analyze(FIXTURES / "AISEC-DAT-022" / "fail" / "cancer_trigger.csv")
    triggers = [f for f in facts if f.key == "dataset.backdoor_trigger"]
    assert [t.value for t in triggers] == ["mean_smoothness == 0.31337"]
    expected = truth()["cancer_trigger.csv"]["dataset.backdoor_trigger"]
    assert [r.location.line for r in triggers[0].related] == expected
    assert triggers[0].detail["target_label"] == "benign"


CLEAN_TWINS = [
    DATASETS / "instructions" / "clean.jsonl",
    DATASETS / "instructions" / "clean.csv",
    FIXTURES / "AISEC-DAT-018" / "pass" / "wine.csv",
    FIXTURES / "AISEC-DAT-022" / "pass" / "reviews.jsonl",
    FIXTURES / "AISEC-DAT-022" / "pass" / "cancer.csv",
]


@pytest.mark.parametrize("path", CLEAN_TWINS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_clean_twin_has_no_finding_above_low(path: Path, in_repo: Path) -> None:
    report = scan([path.relative_to(in_repo)], policy="default")
    loud = [(f.rule_id, f.severity.value, f.message[:120]) for f in report.findings
            if f.severity.rank > Severity.LOW.rank]
    assert loud == []
    assert not report.errors


def test_sarif_regions_point_at_the_poisoned_characters(in_repo: Path, sarif_validator) -> None:  # type: ignore[no-untyped-def]
    path = (DATASETS / "instructions" / "poisoned.jsonl").relative_to(in_repo)
    report = scan([path], policy="default")
    log = json.loads(render_sarif(report))
    sarif_validator.validate(log)
    results = [r for r in log["runs"][0]["results"] if r["ruleId"] == "AISEC-DAT-003"]
    assert results
    raw = (in_repo / path).read_text(encoding="utf-8").splitlines()
    for result in results:
        region = result["locations"][0]["physicalLocation"]["region"]
        line = raw[region["startLine"] - 1]
        # The file is ASCII (ensure_ascii), so UTF-16 columns are string offsets; each range is one \\uXXXX escape.
        text = line[region["startColumn"] - 1:region["endColumn"] - 1]
        assert text.lower() in {"\\u202e", "\\u2066", "\\u2069"}, text
        assert result["locations"][0]["logicalLocations"][0]["name"] == "/messages/1/content"
