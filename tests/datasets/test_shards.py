"""A folder of shards is one dataset: grouping by name, cross-shard duplicates and label conflicts located in the
shard file and line, a merged sample, and the same report whatever ``--jobs`` is."""

from __future__ import annotations

import bz2
import csv
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aisec.datasets.shards import group_shards
from aisec.model import Report
from aisec.report.json import render_json
from aisec.scan import scan
from benchmarks.poisonbench.corpora import REVIEWS_FILE
from tests.conftest import FIXTURES

RT_CORPUS = REVIEWS_FILE  # real Rotten Tomatoes snippets (plot summaries left out), committed with the benchmark


def _reviews(n: int) -> list[tuple[str, str]]:
    """Real Rotten Tomatoes snippets with their fresh/rotten label (plot summaries left out), in file order."""
    out = []
    with bz2.open(RT_CORPUS, "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["category"] != "plot" and row["text"] not in {t for t, _ in out[-50:]}:
                out.append((row["text"], row["category"]))
            if len(out) == n:
                break
    return out


def _csv(rows: list[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([("text", "label"), *rows])
    return buffer.getvalue()


@pytest.fixture(scope="module")
def reviews() -> list[tuple[str, str]]:
    return _reviews(400)


def _shards(folder: Path, parts: list[list[tuple[str, str]]], name: str = "train-{i:05d}-of-{n:05d}.csv") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(parts):
        (folder / name.format(i=i, n=len(parts))).write_text(_csv(part), encoding="utf-8")


def _findings(report: Report, rule: str) -> list[Any]:
    return [f for f in report.findings if f.rule_id == rule]


@pytest.mark.parametrize(("names", "grouped"), [
    (["data/train-00000-of-00003.parquet", "data/train-00001-of-00003.parquet", "data/train-00002-of-00003.parquet"],
     {"data/train-*-of-00003.parquet"}),
    (["out/part-00000-1f2e.c000.snappy.parquet", "out/part-00001-1f2e.c000.snappy.parquet"], {"out/part-*.parquet"}),
    (["part-0.jsonl", "part-1.jsonl"], {"part-*.jsonl"}),
    (["reviews-0001.csv", "reviews-0002.csv", "other.csv"], {"reviews-*.csv"}),
    (["sales-2019.csv", "sales-2020.csv"], set()),  # years, not zero-padded shard numbers
    (["a/train-00000-of-00002.csv", "b/train-00001-of-00002.csv"], set()),  # different folders
    (["train-00000-of-00002.csv"], set()),  # one file is not a group
])
def test_shard_names_group_within_a_folder(names: list[str], grouped: set[str]) -> None:
    assert set(group_shards((n, "csv") for n in names).values()) == grouped


def test_kinds_do_not_mix() -> None:
    assert not group_shards([("part-00000.csv", "csv"), ("part-00001.csv", "jsonl")])


def test_cross_shard_duplicates_and_conflicts_point_at_each_shard(tmp_path: Path, reviews: list[tuple[str, str]],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text, label = reviews[5]
    flipped = "rotten" if label == "fresh" else "fresh"
    parts = [reviews[:100], reviews[100:200], [*reviews[200:300], (text, flipped)]]
    _shards(tmp_path / "data", parts)
    report = scan(["data"], policy="audit", jobs=0)
    conflicts = _findings(report, "AISEC-DAT-020")
    assert len(conflicts) == 1
    found = conflicts[0]
    assert (found.path, found.location.line) == ("data/train-00000-of-00003.csv", 7)  # header + 6th review
    last = _csv(parts[2][:-1]).count("\n") + 1  # reviews hold quoted newlines: lines are physical lines
    assert found.evidence["rows"] == f"data/train-00000-of-00003.csv:7, data/train-00002-of-00003.csv:{last}"
    assert found.evidence["dataset_group"] == "data/train-*-of-00003.csv"
    group = _findings(report, "AISEC-DAT-046")
    assert [(f.path, f.evidence["files"], f.evidence["rows"]) for f in group] == [
        ("data/train-00000-of-00003.csv", 3, 301)]
    # Alone, no file holds both rows: the conflict exists only across shards.
    for i in range(3):
        alone = tmp_path / "alone" / f"file{i}.csv"
        alone.parent.mkdir(exist_ok=True)
        alone.write_text(_csv(parts[i]), encoding="utf-8")
    assert not _findings(scan(["alone"], policy="audit", jobs=0), "AISEC-DAT-020")


def test_near_duplicates_across_parquet_shards_use_row_pointers(tmp_path: Path, reviews: list[tuple[str, str]],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spam = "Visit the best deals site today and get the deal of the century for every single movie ticket"
    parts: list[list[tuple[str, str]]] = [reviews[:150], reviews[150:300]]
    for i in range(12):  # a cluster of near-identical spam spread over both shards
        parts[i % 2].append((f"{spam} {i}", "fresh"))
    (tmp_path / "data").mkdir()
    for i, part in enumerate(parts):
        table = pa.table({"text": [t for t, _ in part], "label": [lab for _, lab in part]})
        pq.write_table(table, tmp_path / "data" / f"part-{i:05d}.parquet")
    report = scan(["data"], policy="audit", jobs=0)
    clusters = [f for f in _findings(report, "AISEC-DAT-015") if f.evidence["value"] == "near"]
    assert len(clusters) == 1 and clusters[0].evidence["size"] == 12
    assert clusters[0].path == "data/part-00000.parquet" and clusters[0].location.pointer == "/150"
    assert "data/part-00001.parquet row 150" in str(clusters[0].evidence["rows"])


def _without_times(report: Report) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render_json(report))
    document.pop("started_utc"), document.pop("finished_utc")
    return document


def test_group_sample_is_seeded_and_the_same_whatever_jobs(tmp_path: Path, reviews: list[tuple[str, str]],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _shards(tmp_path / "data", [reviews[i * 100:(i + 1) * 100] for i in range(4)], name="reviews-{i:04d}.csv")
    (tmp_path / "small.yaml").write_text("name: small\nextends: audit\nsettings:\n  dataset:\n"
                                         "    model_max_rows: 150\n")
    one = scan(["data"], policy="small.yaml", jobs=0)
    two = scan(["data"], policy="small.yaml", jobs=2)
    assert _without_times(one) == _without_times(two)
    sampled = [f for f in _findings(one, "AISEC-DAT-025") if f.evidence.get("dataset_group")]
    assert [(f.evidence["value"], f.evidence["sample_rows"]) for f in sampled] == [(400, 150)]


def test_shards_whose_columns_differ_are_not_merged(tmp_path: Path, reviews: list[tuple[str, str]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _shards(tmp_path / "data", [reviews[:100], reviews[100:200]])
    other = tmp_path / "data" / "train-00001-of-00002.csv"
    other.write_text("body,stars\n" + "".join(f"\"{t}\",{i % 5}\n" for i, (t, _) in enumerate(reviews[100:200])))
    group = _findings(scan(["data"], policy="audit", jobs=0), "AISEC-DAT-046")
    assert sorted((f.path, f.evidence["files"]) for f in group) == [
        ("data/train-00000-of-00002.csv", 1), ("data/train-00001-of-00002.csv", 1)]
    assert all("one of 2 sets of shards" in f.message for f in group)


def test_apostrophes_in_real_reviews_are_not_taken_for_quotes(tmp_path: Path, reviews: list[tuple[str, str]]) -> None:
    from aisec.datasets.csv_reader import read_csv

    path = tmp_path / "reviews.csv"
    path.write_text(_csv(reviews[200:300]), encoding="utf-8")
    issues: list[Any] = []
    with open(path, "rb") as handle:
        rows = list(read_csv(handle, max_line_bytes=1 << 20, max_rows=1000, issues=issues))
    assert not issues and [(r.values["text"], r.values["label"]) for r in rows] == reviews[200:300]


def _three_shards(source: Path, folder: Path) -> None:
    """``source``'s lines dealt round-robin into ``folder/part-0000{0,1,2}.jsonl``."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    folder.mkdir()
    for i in range(3):
        (folder / f"part-{i:05d}.jsonl").write_text("".join(lines[i::3]), encoding="utf-8")


def test_instruction_trigger_rows_spread_over_shards_are_found_together(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _three_shards(FIXTURES / "AISEC-DAT-035" / "fail" / "chat.jsonl", tmp_path / "chat")
    found = _findings(scan(["chat"], policy="audit", jobs=0), "AISEC-DAT-035")
    assert len(found) == 1
    related = found[0].related_locations
    assert {r.location.path for r in related} == {f"chat/part-{i:05d}.jsonl" for i in range(3)}
    for place in related:  # each related row is the shard line that holds the record, at its answer
        shard = (tmp_path / place.location.path).read_text(encoding="utf-8").splitlines()
        record = json.loads(shard[(place.location.line or 0) - 1])
        assert place.location.pointer is not None and place.location.pointer.startswith("/messages/")
        assert record["messages"][int(place.location.pointer.split("/")[2])]["role"] == "assistant"


def test_content_injection_spread_over_shards_is_found_in_the_merge(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # AutoPoison answers split over three shards: each shard alone has too few plugged rows; the group has them all.
    monkeypatch.chdir(tmp_path)
    _three_shards(FIXTURES / "AISEC-DAT-036" / "fail" / "chat.jsonl", tmp_path / "chat")
    whole = _findings(scan([FIXTURES / "AISEC-DAT-036" / "fail" / "chat.jsonl"], policy="audit", jobs=0),
                      "AISEC-DAT-036")
    found = _findings(scan(["chat"], policy="audit", jobs=0), "AISEC-DAT-036")
    assert [f.evidence["value"] for f in found] == [f.evidence["value"] for f in whole] != []
    related = found[0].related_locations
    assert len(related) == len(whole[0].related_locations)
    assert {r.location.path for r in related} == {f"chat/part-{i:05d}.jsonl" for i in range(3)}
    for place in related:  # each related row is the shard line that holds the record, at its answer
        shard = (tmp_path / place.location.path).read_text(encoding="utf-8").splitlines()
        record = json.loads(shard[(place.location.line or 0) - 1])
        assert place.location.pointer is not None and place.location.pointer.startswith("/messages/")
        assert record["messages"][int(place.location.pointer.split("/")[2])]["role"] == "assistant"


def _deal(source: Path, folder: Path, pattern: str, n: int, *, header: bool) -> None:
    """``source``'s records dealt round-robin into ``n`` shard files named by ``pattern`` (``{i}``, ``{n}``)."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    head, body = (lines[:1], lines[1:]) if header else ([], lines)
    folder.mkdir()
    for i in range(n):
        (folder / pattern.format(i=i, n=n)).write_text("".join(head + body[i::n]), encoding="utf-8")


def _source_lines(finding: Any, folder: str, pattern: str, n: int, *, header: bool) -> set[int]:
    """The related rows of a group finding as 1-based lines of the unsplit source file."""
    first = 2 if header else 1
    out = set()
    for place in finding.related_locations:
        shard = next(i for i in range(n) if place.location.path == f"{folder}/{pattern.format(i=i, n=n)}")
        out.add(((place.location.line or 0) - first) * n + shard + first)
    return out


@pytest.mark.parametrize(("source", "pattern", "header"), [
    ("reviews_backdoor.jsonl", "part-{i:05d}.jsonl", False),
    ("cancer_trigger.csv", "train-{i:05d}-of-{n:05d}.csv", True),
])
def test_a_backdoor_spread_over_shards_is_found_with_every_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 source: str, pattern: str, header: bool) -> None:
    # The planted trigger rows are dealt over three shards; the group reports the trigger with exactly the
    # planted rows (ground truth of the fixture generator), each located in its own shard.
    monkeypatch.chdir(tmp_path)
    truth = json.loads((FIXTURES / "datasets-truth" / "truth.json").read_text(encoding="utf-8"))[source]
    _deal(FIXTURES / "AISEC-DAT-022" / "fail" / source, tmp_path / "data", pattern, 3, header=header)
    found = _findings(scan(["data"], policy="audit", jobs=0), "AISEC-DAT-022")
    assert len(found) == 1 and found[0].severity.rank >= 3
    assert {r.location.path for r in found[0].related_locations} == {f"data/{pattern.format(i=i, n=3)}"
                                                                      for i in range(3)}
    assert _source_lines(found[0], "data", pattern, 3, header=header) == set(truth["dataset.backdoor_trigger"])


def test_a_text_backdoor_too_thin_in_each_shard_is_found_only_in_the_group(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # About 13 trigger rows per 333-row shard are not significant alone: the merge is what finds the attack. The
    # clean twin dealt the same way stays quiet.
    monkeypatch.chdir(tmp_path)
    _deal(FIXTURES / "AISEC-DAT-022" / "fail" / "reviews_backdoor.jsonl", tmp_path / "bad", "part-{i:05d}.jsonl", 3,
          header=False)
    _deal(FIXTURES / "AISEC-DAT-022" / "pass" / "reviews.jsonl", tmp_path / "clean", "part-{i:05d}.jsonl", 3,
          header=False)
    assert _findings(scan(["bad/part-00000.jsonl"], policy="audit", jobs=0), "AISEC-DAT-022") == []
    assert [f.severity.rank for f in scan(["clean"], policy="default", jobs=0).findings if f.severity.rank >= 3] == []


def test_label_noise_is_measured_over_the_whole_shard_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Flipped wine labels dealt over three CSV shards: the dataset-level noise finding is raised once for the
    # group, with rows in every shard, most of them the flipped ones; the clean twin's group raises nothing.
    monkeypatch.chdir(tmp_path)
    pattern = "train-{i:05d}-of-{n:05d}.csv"
    truth = set(json.loads((FIXTURES / "datasets-truth" / "truth.json").read_text(encoding="utf-8"))
                ["wine_flipped.csv"]["dataset.label_issue"])
    _deal(FIXTURES / "AISEC-DAT-019" / "fail" / "wine_flipped.csv", tmp_path / "wine", pattern, 3, header=True)
    _deal(FIXTURES / "AISEC-DAT-019" / "pass" / "wine.csv", tmp_path / "twin", pattern, 3, header=True)
    found = _findings(scan(["wine"], policy="audit", jobs=0), "AISEC-DAT-019")
    assert len(found) == 1
    assert {r.location.path for r in found[0].related_locations} == {f"wine/{pattern.format(i=i, n=3)}"
                                                                      for i in range(3)}
    rows = _source_lines(found[0], "wine", pattern, 3, header=True)
    assert len(rows & truth) >= 0.8 * len(rows)
    assert _findings(scan(["twin"], policy="audit", jobs=0), "AISEC-DAT-019") == []


def _parquet_shards(records: list[dict[str, Any]], folder: Path, n: int = 3) -> None:
    """``records`` dealt round-robin into ``folder/train-0000{i}-of-0000{n}.parquet`` (one Parquet file each)."""
    folder.mkdir(parents=True)
    for i in range(n):
        part = records[i::n]
        pq.write_table(pa.table({k: [r[k] for r in part] for k in records[0]}),
                       folder / f"train-{i:05d}-of-{n:05d}.parquet")


def _parquet_rows(finding: Any, folder: str, n: int = 3) -> set[int]:
    """The related rows of a group finding as 0-based rows of the records before they were dealt."""
    out = set()
    for place in finding.related_locations:
        shard = next(i for i in range(n) if place.location.path == f"{folder}/train-{i:05d}-of-{n:05d}.parquet")
        out.add(int(place.location.pointer.split("/")[1]) * n + shard)
    return out


def test_parquet_shards_are_one_dataset_for_duplicates_and_conflicts(tmp_path: Path, reviews: list[tuple[str, str]],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # data/train-0000N-of-00003.parquet: a text in shard 0 appears again in shard 2 with the other label, and one
    # exact duplicate pair sits in shards 1 and 2; neither exists inside any one shard.
    monkeypatch.chdir(tmp_path)
    records = [{"text": t, "label": lab} for t, lab in reviews[:300]]
    text, label = reviews[6]  # row 6: shard 0, row 2
    records[8] = {"text": text, "label": "rotten" if label == "fresh" else "fresh"}  # shard 2, row 2
    _parquet_shards(records, tmp_path / "data")
    report = scan(["data"], policy="audit", jobs=0)
    conflicts = _findings(report, "AISEC-DAT-020")
    assert len(conflicts) == 1
    assert conflicts[0].evidence["dataset_group"] == "data/train-*-of-00003.parquet"
    assert conflicts[0].evidence["rows"] == "data/train-00000-of-00003.parquet row 2, " \
                                            "data/train-00002-of-00003.parquet row 2"
    group = _findings(report, "AISEC-DAT-046")
    assert [(f.evidence["files"], f.evidence["rows"]) for f in group] == [(3, 300)]


def test_a_backdoor_over_parquet_shards_is_found_with_each_row_in_its_shard(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # The BadNets fixture's records (ground truth from its generator) dealt over three Parquet shards: one trigger
    # finding for the group, every planted row attached at its own shard and row pointer, nothing else.
    monkeypatch.chdir(tmp_path)
    source = FIXTURES / "AISEC-DAT-022" / "fail" / "reviews_backdoor.jsonl"
    records = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    truth = json.loads((FIXTURES / "datasets-truth" / "truth.json").read_text(encoding="utf-8"))
    _parquet_shards(records, tmp_path / "data")
    found = _findings(scan(["data"], policy="audit", jobs=0), "AISEC-DAT-022")
    assert len(found) == 1 and found[0].severity.rank >= 3
    assert {r.location.path for r in found[0].related_locations} == {
        f"data/train-{i:05d}-of-00003.parquet" for i in range(3)}
    lines = set(truth["reviews_backdoor.jsonl"]["dataset.backdoor_trigger"])  # 1-based lines of the JSONL
    assert {row + 1 for row in _parquet_rows(found[0], "data")} == lines


def test_label_noise_over_parquet_shards_is_reported_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Flipped wine labels dealt over three Parquet shards: one DAT-019 for the group, its rows in every shard and
    # mostly the flipped ones; the clean twin dealt the same way raises none.
    monkeypatch.chdir(tmp_path)
    truth = set(json.loads((FIXTURES / "datasets-truth" / "truth.json").read_text(encoding="utf-8"))
                ["wine_flipped.csv"]["dataset.label_issue"])  # 1-based lines, header on line 1
    for name, source in (("wine", "fail/wine_flipped.csv"), ("twin", "pass/wine.csv")):
        with open(FIXTURES / "AISEC-DAT-019" / source, encoding="utf-8", newline="") as handle:
            records = [{k: (v if k == "label" else float(v)) for k, v in row.items()} for row in csv.DictReader(handle)]
        _parquet_shards(records, tmp_path / name)
    found = _findings(scan(["wine"], policy="audit", jobs=0), "AISEC-DAT-019")
    assert len(found) == 1
    assert {r.location.path for r in found[0].related_locations} == {
        f"wine/train-{i:05d}-of-00003.parquet" for i in range(3)}
    rows = {row + 2 for row in _parquet_rows(found[0], "wine")}
    assert len(rows & truth) >= 0.8 * len(rows)
    assert _findings(scan(["twin"], policy="audit", jobs=0), "AISEC-DAT-019") == []
