"""Dataset manifests (library, CLI, scan-time comparison) and the bounds a hostile file cannot exceed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aisec.cli import main
from aisec.datasets.manifest import SIBLING_NAME, build_manifest, check_directory, dump
from aisec.limits import Limits
from aisec.scan import scan
from tests.conftest import FIXTURES
from tests.datasets.helpers import DATASETS, analyze


@pytest.fixture
def release(tmp_path: Path) -> Path:
    folder = tmp_path / "release"
    folder.mkdir()
    shutil.copy(FIXTURES / "AISEC-DAT-018" / "pass" / "wine.csv", folder / "wine.csv")
    shutil.copy(DATASETS / "instructions" / "clean.jsonl", folder / "chat.jsonl")
    return folder


def test_manifest_records_rows_labels_and_hashes(release: Path) -> None:
    manifest = build_manifest(release)
    wine = manifest["files"]["wine.csv"]
    assert (wine["rows"], wine["label_column"]) == (178, "label")
    assert wine["labels"] == {"cultivar_0": 59, "cultivar_1": 71, "cultivar_2": 48}
    assert manifest["files"]["chat.jsonl"]["rows"] == 300
    assert dump(manifest) == dump(build_manifest(release))  # deterministic


def test_check_reports_silent_edits_added_and_removed_files(release: Path) -> None:
    (release / SIBLING_NAME).write_text(dump(build_manifest(release)), encoding="utf-8")
    assert check_directory(release, release / SIBLING_NAME) == []
    text = (release / "wine.csv").read_text(encoding="utf-8")
    (release / "wine.csv").write_text(text.replace("cultivar_2\n", "cultivar_1\n", 1), encoding="utf-8")
    (release / "chat.jsonl").rename(release / "extra.jsonl")
    changes = {(c.path, c.change) for c in check_directory(release, release / SIBLING_NAME)}
    assert changes == {("wine.csv", "sha256"), ("wine.csv", "labels"), ("chat.jsonl", "removed"),
                       ("extra.jsonl", "added")}


def test_cli_manifest_and_check_exit_codes(release: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dataset", "manifest", str(release)]) == 0
    assert (release / SIBLING_NAME).is_file()
    assert main(["dataset", "check", str(release)]) == 0
    with open(release / "wine.csv", "a", encoding="utf-8") as handle:
        handle.write("1,2,3,4,5,6,7,8,9,10,11,12,13,cultivar_0\n")
    assert main(["dataset", "check", str(release)]) == 1
    assert "wine.csv: rows: row count changed (178 → 179)" in capsys.readouterr().out
    assert main(["dataset", "check", str(release), "--manifest", str(release / "missing.json")]) == 2


def test_scan_compares_against_the_policy_manifest(release: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "trusted-manifest.json"
    manifest.write_text(dump(build_manifest(release)), encoding="utf-8")
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"name: pinned\nextends: default\nsettings:\n  dataset:\n    manifest: {manifest}\n",
                      encoding="utf-8")
    assert not [f for f in scan([release], policy=str(policy)).findings if f.rule_id == "AISEC-DAT-023"]
    with open(release / "wine.csv", "a", encoding="utf-8") as handle:
        handle.write("1,2,3,4,5,6,7,8,9,10,11,12,13,cultivar_0\n")
    hits = [f for f in scan([release], policy=str(policy)).findings if f.rule_id == "AISEC-DAT-023"]
    assert {f.evidence["value"] for f in hits} == {"sha256", "rows", "labels"}
    assert {f.path.rsplit("/", 1)[-1] for f in hits} == {"wine.csv"}


def test_row_level_signal_is_one_fact_with_every_row_and_capped_output(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("".join(f'{{"t": "zero\\u200bwidth {i}"}}\n' for i in range(500)), encoding="utf-8")
    facts, _ = analyze(path, {"max_facts_per_signal": 7})
    [zwsp] = [f for f in facts if f.key == "dataset.invisible_char"]
    assert (zwsp.detail["affected_rows"], zwsp.detail["related_shown"]) == (500, 500)
    assert [r.message for r in zwsp.related] == [f"row {i}" for i in range(500)]
    assert not [f for f in facts if f.key == "dataset.fact_overflow"]
    # The output is bounded per finding; the count is not.
    facts, _ = analyze(path, {"max_facts_per_signal": 7, "max_related_locations": 30})
    [zwsp] = [f for f in facts if f.key == "dataset.invisible_char"]
    assert (zwsp.detail["affected_rows"], zwsp.detail["related_shown"], len(zwsp.related)) == (500, 30, 30)
    # Signals in more columns than the per-signal cap: the columns beyond it are counted in a summary fact.
    wide = tmp_path / "wide.jsonl"
    wide.write_text("".join("{" + ", ".join(f'"c{j}": "zero\\u200bwidth {i}"' for j in range(10)) + "}\n"
                            for i in range(40)), encoding="utf-8")
    facts, _ = analyze(wide, {"max_facts_per_signal": 7})
    assert len([f for f in facts if f.key == "dataset.invisible_char"]) == 7
    overflow = [f for f in facts if f.key == "dataset.fact_overflow"]
    assert [(f.value, f.detail["total"], f.detail["rows"], f.detail["reported"]) for f in overflow] == \
        [("dataset.invisible_char", 400, 40, 7)]


def test_row_limit_is_a_scan_error_not_a_pass(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n" + "".join(f"{i},x\n" for i in range(100)), encoding="utf-8")
    facts, errors = analyze(path, limits=Limits(max_dataset_rows=10))
    assert [(e.reason, e.limit) for e in errors] == [("limit", "max_dataset_rows")]
    assert next(f.value for f in facts if f.key == "dataset.rows") == 10


def test_statistics_use_a_bounded_seeded_sample(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text("".join(f'{{"text": "sentence number {i} about item {i * 7}", "label": "{"ab"[i % 2]}"}}\n'
                            for i in range(3000)), encoding="utf-8")
    settings = {"model_max_rows": 400, "dedup_max_rows": 1000}
    facts, _ = analyze(path, settings)
    sampled = next(f for f in facts if f.key == "dataset.sampled")
    assert (sampled.value, sampled.detail["sample_rows"]) == (3000, 400)
    again, _ = analyze(path, settings)
    assert [(f.key, f.value, f.location) for f in facts] == [(f.key, f.value, f.location) for f in again]


def test_parquet_dataset_is_scanned_with_row_pointers(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "chat.parquet"
    texts = [f"ordinary answer number {i}" for i in range(50)]
    texts[17] = "hidden \u202e override"
    pq.write_table(pa.table({"text": texts}), path)
    facts, errors = analyze(path)
    assert not errors
    bidi = [f for f in facts if f.key == "dataset.bidi_control"]
    assert [(f.location.pointer, f.location.line, f.detail["row"]) for f in bidi] == [("/17/text", None, 17)]


def test_ever_new_field_names_and_url_hosts_stay_bounded(tmp_path: Path) -> None:
    from aisec.datasets.limiter import Limiter
    from aisec.model import Location

    limiter = Limiter(cap=5, related_cap=100, related_budget=300)
    for i in range(10_000):
        limiter.add("dataset.url_host", f"host{i}.invalid", Location(line=i + 1), {}, i, group=("u", str(i)))
        limiter.add("dataset.invisible_char", "U+200B", Location(line=i + 1), {}, i, group=(f"c{i % 4}",))
    assert len(limiter.kept["dataset.url_host"]) == 5 and len(limiter._groups) == 9
    over = limiter.overflow()["dataset.url_host"]
    assert (over.total, over.rows, over.kept) == (10_000, 10_000, 5)
    # Rows attached in all stay under the file's budget; every row is still counted.
    groups = [k.group for k in limiter.kept["dataset.invisible_char"] if k.group is not None]
    assert [g.rows for g in groups] == [2500] * 4 and sum(len(g.shown) for g in groups) == 300 - 5
    assert "dataset.invisible_char" not in limiter.overflow()
    path = tmp_path / "fields.jsonl"
    path.write_text("".join(f'{{"a": 1, "f{i}": 2}}\n' for i in range(3000)), encoding="utf-8")
    facts, errors = analyze(path, {"role_sample_rows": 10})
    assert not errors and next(f.value for f in facts if f.key == "dataset.rows") == 3000
