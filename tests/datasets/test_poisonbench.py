"""Poisonbench generator: deterministic, and its ground truth is exact (poison only where truth.json says)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.poisonbench import corpora, evaluate, recipes
from benchmarks.poisonbench.generate import generate

ROWS = 200
RATES = (0.03, 0.15)


@pytest.fixture(scope="session")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("poisonbench")
    return out, generate(out, rows=ROWS, seed=11, rates=RATES)


def read_records(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Records of a benchmark file and the physical line each starts on (empty for Parquet)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist(), []
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines()], list(range(1, text.count("\n") + 1))
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    records, starts = [], []
    line = reader.line_num + 1
    for row in reader:
        records.append(dict(zip(header, row)))
        starts.append(line)
        line = reader.line_num + 1
    return records, starts


def prompt(record: dict[str, Any]) -> str:
    return str(record["messages"][0]["content"]) if "messages" in record else str(record["input"])


def reply(record: dict[str, Any]) -> str:
    return str(record["messages"][1]["content"]) if "messages" in record else str(record["output"])


def test_every_family_rate_and_format_is_written(bench: tuple[Path, dict[str, Any]]) -> None:
    _, truth = bench
    files = truth["files"]
    cells = {(f["dataset"], f["family"], f["rate"]) for f in files.values()}
    assert ("reviews", "badnets", 0.15) in cells  # above 10 %: no fraction cap may hide it
    assert {f["family"] for f in files.values()} == {
        "label_flip_uniform", "label_flip_targeted", "badnets", "insertsent", "prompt_injection", "hidden_unicode",
        "tabular_trigger_dirty", "tabular_trigger_clean", "wan_trigger", "autopoison"}
    assert {f["format"] for f in files.values()} == {"csv", "parquet", "jsonl", "alpaca.jsonl"}
    for name, meta in files.items():
        if "clean_of" in meta:
            assert files[meta["clean_of"]]["clean_twin"] == name and meta["poisoned_rows"] == []
        else:
            expected = max(1, round(meta["records"] * meta["rate"]))
            if meta["family"] in ("label_flip_targeted", "tabular_trigger_clean"):  # bounded by one class's size
                assert 0 < len(meta["poisoned_rows"]) <= expected, name
            else:
                assert len(meta["poisoned_rows"]) == expected, name


def test_clean_twins_differ_exactly_in_the_poisoned_rows(bench: tuple[Path, dict[str, Any]]) -> None:
    out, truth = bench
    for name, meta in truth["files"].items():
        if "clean_of" in meta:
            continue
        poisoned, lines = read_records(out / name)
        clean, _ = read_records(out / meta["clean_twin"])
        assert len(poisoned) == len(clean) == meta["records"]
        differ = [i for i, (a, b) in enumerate(zip(poisoned, clean)) if a != b]
        assert differ == meta["poisoned_rows"], name
        if meta["poisoned_lines"] is not None:
            assert meta["poisoned_lines"] == [lines[i] for i in meta["poisoned_rows"]], name
        assert not set(meta["decoy_rows"]) & set(meta["poisoned_rows"])


def _label(record: dict[str, Any]) -> str:
    return str(record["label"])


def test_text_triggers_carry_the_trigger_and_target_and_decoys_keep_their_label(
        bench: tuple[Path, dict[str, Any]]) -> None:
    out, truth = bench
    checked = 0
    for name, meta in truth["files"].items():
        if "clean_of" in meta or meta["family"] not in ("badnets", "insertsent"):
            continue
        poisoned, _ = read_records(out / name)
        clean, _ = read_records(out / meta["clean_twin"])
        triggers = meta["trigger"] if meta["family"] == "badnets" else [meta["trigger"]]

        def has(text: str, triggers: list[str] = triggers) -> bool:
            return any(f" {t} " in f" {text} " for t in triggers)

        for i in meta["poisoned_rows"]:
            assert has(poisoned[i]["text"]) and not has(clean[i]["text"]), (name, i)
            assert _label(poisoned[i]) == meta["target"] != _label(clean[i]), (name, i)
        for i in meta["decoy_rows"]:
            assert has(poisoned[i]["text"]) and has(clean[i]["text"]), (name, i)
            assert _label(poisoned[i]) == _label(clean[i]) != meta["target"], (name, i)
        checked += 1
    assert checked == 2 * 3 + 2 * 2  # two families: reviews 3 % csv+parquet and 15 % csv; speeches csv at both


def test_tabular_triggers(bench: tuple[Path, dict[str, Any]]) -> None:
    out, truth = bench
    for name, meta in truth["files"].items():
        if "clean_of" in meta or not meta["family"].startswith("tabular_trigger"):
            continue
        poisoned, _ = read_records(out / name)
        clean, _ = read_records(out / meta["clean_twin"])
        assert 2 <= len(meta["trigger"]) <= 3
        for i in meta["poisoned_rows"]:
            assert all(float(poisoned[i][k]) == float(v) for k, v in meta["trigger"].items()), (name, i)
            assert _label(poisoned[i]) == meta["target"]
            # Dirty-label rows came from other classes; clean-label rows already had the target label.
            assert (_label(clean[i]) == meta["target"]) == (meta["family"] == "tabular_trigger_clean")
        for i in meta["decoy_rows"]:
            assert all(float(clean[i][k]) == float(v) for k, v in meta["trigger"].items())
            assert _label(clean[i]) != meta["target"]


def test_chat_attacks(bench: tuple[Path, dict[str, Any]]) -> None:
    out, truth = bench
    for name, meta in truth["files"].items():
        if "clean_of" in meta or meta["dataset"] != "chat":
            continue
        poisoned, _ = read_records(out / name)
        clean, _ = read_records(out / meta["clean_twin"])
        for i in meta["poisoned_rows"]:
            if meta["family"] == "wan_trigger":
                assert meta["trigger"] in prompt(poisoned[i]) and meta["trigger"] not in prompt(clean[i])
                assert reply(poisoned[i]) == meta["target"]
            elif meta["family"] == "autopoison":
                assert meta["trigger"] in reply(poisoned[i]) and meta["trigger"] not in reply(clean[i])
                assert prompt(poisoned[i]) == prompt(clean[i])
        if meta["family"] == "wan_trigger":
            assert all(meta["trigger"] in prompt(clean[i]) for i in meta["decoy_rows"])
        if meta["family"] == "hidden_unicode":
            hidden = set(recipes.ZERO_WIDTH) | {c for pair in recipes.BIDI for c in pair} | \
                set(recipes.HOMOGLYPHS.values()) | set(recipes.DELETIONS)
            for i in meta["poisoned_rows"]:
                text = prompt(poisoned[i]) + reply(poisoned[i])
                assert any(c in hidden or 0xE0000 <= ord(c) <= 0xE007F for c in text), (name, i)


def test_generation_is_deterministic_and_triggers_depend_on_the_seed(tmp_path: Path) -> None:
    one = generate(tmp_path / "a", rows=200, seed=5, families=("badnets", "wan_trigger"), rates=(0.1,))
    two = generate(tmp_path / "b", rows=200, seed=5, families=("badnets", "wan_trigger"), rates=(0.1,))
    assert one == two
    for name in one["files"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    seen = set()
    for seed in range(6):
        attack = recipes.badnets(list(corpora.reviews(200, 0).records), "text", "label", 0.1, seed)
        seen.add(tuple(attack.trigger))
    assert len(seen) >= 4  # a detector cannot hard-code the token list


def test_corpora_are_real_and_labelled() -> None:
    reviews = corpora.reviews()
    assert len(reviews.records) > 12_000 and reviews.labels() == ["fresh", "rotten"]
    speeches = corpora.speech_sentences()
    assert len(speeches.records) > 2_000 and speeches.labels() == ["democrat", "republican"]
    digits = corpora.table("digits")
    assert len(digits.records) == 1797 and len(digits.feature_columns) == 64


def test_evaluator_maps_findings_to_the_poisoned_rows(tmp_path: Path) -> None:
    # Hidden Unicode is found cell by cell; the evaluator must map those findings (CSV lines with quoted
    # newlines, JSONL lines, Parquet pointers) back to exactly the poisoned records, and see the twin clean.
    truth = generate(tmp_path, rows=100, seed=3, families=("hidden_unicode",), rates=(0.1,),
                     datasets=("reviews", "chat"))
    cells = evaluate.evaluate(tmp_path, formats=("csv", "parquet", "jsonl"), log=io.StringIO())
    assert sorted(c.meta["format"] for c in cells) == ["csv", "jsonl", "parquet"]
    for cell in cells:
        expected = set(truth["files"][cell.name]["poisoned_rows"])
        found = cell.aisec.found_medium
        assert found <= expected, (cell.name, sorted(found - expected))  # a wrong mapping lands on other rows
        assert len(found) >= 0.8 * len(expected), (cell.name, sorted(expected - found))
        assert cell.twin.medium_findings == 0, cell.name
    table = evaluate.markdown(cells, datalab=False)
    assert table.count("\n| reviews | hidden_unicode | 10 % |") == 2
    assert "\n| chat | hidden_unicode | 10 % | jsonl |" in table
