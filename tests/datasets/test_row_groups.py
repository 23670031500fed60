"""Per-row signals are one finding per signal and column carrying every affected row: a prompt injection planted in
10 % of real reviews is reported with all of its rows, whatever max_facts_per_signal says, and the SARIF stays
valid."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from aisec.datasets.row_groups import cell_group, column_of, observation_group
from aisec.model import Report
from aisec.report.sarif import render_sarif
from aisec.scan import scan
from benchmarks.poisonbench import corpora, evaluate, recipes

ROWS = 1500
RATE = 0.10


@pytest.fixture(scope="session")
def injected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[int], Report]:
    """Real reviews with the published prompt-injection variants in 10 % of rows (150 > the cap of 100), scanned."""
    corpus = corpora.reviews(ROWS, seed=3)
    attack = recipes.prompt_injection(corpus.records, corpus.text_column or "text", RATE, 5)
    path = tmp_path_factory.mktemp("row-groups") / "reviews.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(attack.poisoned)
    return path, set(attack.rows), scan([path], policy="default", jobs=0)


def test_every_injected_row_is_reported_beyond_the_old_cap(injected: tuple[Path, set[int], Report]) -> None:
    path, truth, report = injected
    assert len(truth) == 150
    score = evaluate.score_report(report, evaluate.record_starts(path, "csv"), "csv", 0.0)
    precision, recall = evaluate.precision_recall(score.found_medium, truth)
    # Before: 100 row findings at most, so recall <= 0.67 whatever the detector found.
    assert recall is not None and recall >= 0.9, (precision, recall)
    assert precision is not None and precision >= 0.95
    injection = [f for f in report.findings if f.rule_id == "AISEC-DAT-009"]
    # One finding per column (text), not one per row.
    assert len({f.location.pointer for f in injection}) == len(injection) <= 2
    for finding in injection:
        related = [r.message for r in finding.related_locations]
        assert int(finding.evidence["affected_rows"]) == len(related) == len(set(related))
        assert f"{finding.evidence['affected_rows']} rows in this column" in finding.message


def test_sarif_lists_every_row_and_validates(injected: tuple[Path, set[int], Report], sarif_validator) -> None:  # type: ignore[no-untyped-def]
    _path, _truth, report = injected
    log = json.loads(render_sarif(report))
    sarif_validator.validate(log)
    results = [r for r in log["runs"][0]["results"] if r["ruleId"] == "AISEC-DAT-009"]
    rows = {int(r["message"]["text"].split()[1]) for res in results for r in res["relatedLocations"]}
    assert len(rows) == sum(int(f.evidence["affected_rows"]) for f in report.findings
                            if f.rule_id == "AISEC-DAT-009")


def test_group_keys() -> None:
    # Parquet pointers start with the row number; the column is what groups.
    assert column_of("/17/text", None) == "/text" and column_of("/17/text", 3) == "/17/text"
    assert cell_group("dataset.prompt_injection", "ignore previous instructions", "text", 2) == ("text",)
    # Rules decide URL hosts by value (allowlist, raw IP): one group per host.
    assert cell_group("dataset.url_host", "203.0.113.7", "text", 2) == ("text", "203.0.113.7")
    assert observation_group("dataset.label_issue", "fresh", {"row": 4}) == ("fresh",)
    assert observation_group("dataset.schema_drift", "score", {"row": 4, "drift": "type"}) == ("score", "type")
    assert observation_group("dataset.duplicate_cluster", "exact", {"row": 4}) is None
