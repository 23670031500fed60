"""Caps bound the output, never what is counted: a capped signal says how many occurrences and rows it had."""

from __future__ import annotations

from pathlib import Path

from aisec.model import Fact
from tests.datasets.helpers import analyze, rows_of


def _overflow(facts: list[Fact], key: str) -> Fact:
    return next(f for f in facts if f.key == "dataset.fact_overflow" and f.value == key)


def test_schema_drift_beyond_the_per_column_cap_is_counted(tmp_path: Path) -> None:
    # 150 of 10,000 rows (1.5 %, under drift_max_fraction) hold text in a numeric column; the profile keeps 20.
    lines = ["item,score"] + [f"i{i},{'high' if i % 66 == 65 else i % 97}" for i in range(9_900)]
    path = tmp_path / "drift.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    facts, _ = analyze(path, {"max_facts_per_signal": 20})
    [drift] = [f for f in facts if f.key == "dataset.schema_drift"]
    assert drift.detail["affected_rows"] == 150 and len(rows_of(facts, "dataset.schema_drift")) == 150
    assert not [f for f in facts if f.key == "dataset.fact_overflow"]
    facts, _ = analyze(path, {"max_related_locations": 20})
    [drift] = [f for f in facts if f.key == "dataset.schema_drift"]
    over = _overflow(facts, "dataset.schema_drift")
    assert (drift.detail["affected_rows"], len(drift.related)) == (20, 20)
    assert (over.detail["total"], over.detail["rows"]) == (150, 150)


def test_extreme_values_beyond_the_kept_heap_are_counted(tmp_path: Path) -> None:
    values = [str(50 + (i % 7)) for i in range(3_000)]
    for i in range(0, 3_000, 100):
        values[i] = "900000"  # 30 extreme readings, cap 10
    path = tmp_path / "readings.csv"
    path.write_text("meter,reading\n" + "".join(f"m{i},{v}\n" for i, v in enumerate(values)), encoding="utf-8")
    facts, _ = analyze(path, {"max_facts_per_signal": 10})
    [kept] = [f for f in facts if f.key == "dataset.extreme_value"]
    over = _overflow(facts, "dataset.extreme_value")
    assert kept.detail["affected_rows"] == 10 and over.detail["total"] == 30 and over.detail["rows"] == 30


def test_cell_signal_overflow_reports_rows_and_occurrences(tmp_path: Path) -> None:
    # Two zero-width spaces in every one of 60 rows: one fact for the column, every row attached, cap 5.
    path = tmp_path / "notes.jsonl"
    path.write_text("".join(f'{{"note": "entry {i} with a zero\\u200bwidth\\u200b space"}}\n' for i in range(60)),
                    encoding="utf-8")
    facts, _ = analyze(path, {"max_facts_per_signal": 5})
    [kept] = [f for f in facts if f.key == "dataset.invisible_char"]
    assert (kept.detail["rows_with_signal"], kept.detail["affected_rows"], kept.detail["occurrences"]) == (60, 60, 60)
    assert kept.detail["occurrences_in_cell"] == 2 and len(kept.related) == 60
    assert not [f for f in facts if f.key == "dataset.fact_overflow"]


def test_duplicate_cluster_carries_every_member_row(tmp_path: Path) -> None:
    spam = "Buy the premium plan today for the best results in every project."
    notes = [f"note {i} about something quite different from the others" for i in range(100)] + [spam] * 45
    path = tmp_path / "notes.jsonl"
    path.write_text("".join(f'{{"text": "{n}"}}\n' for n in notes), encoding="utf-8")
    facts, _ = analyze(path)
    cluster = next(f for f in facts if f.key == "dataset.duplicate_cluster" and f.value == "exact")
    assert cluster.detail["size"] == 45 and cluster.detail["affected_rows"] == 45
    assert [r.location.line for r in cluster.related] == list(range(101, 146))
    assert "(45 in all)" in str(cluster.detail["rows"])
