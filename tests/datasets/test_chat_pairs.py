"""Chat and instruction records read as prompt → answer pairs in every layout and format."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from aisec.datasets.csv_reader import read_csv
from aisec.datasets.jsonl_reader import read_jsonl
from aisec.datasets.lines import HashingReader
from aisec.datasets.pairs import Pair, PairCollector, pair_of
from aisec.datasets.parquet_reader import read_parquet
from aisec.datasets.records import Row
from tests.conftest import FIXTURES
from tests.datasets.helpers import analyze


def _jsonl_pairs(records: list[object]) -> list[Pair | None]:
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    rows = read_jsonl(HashingReader(io.BytesIO(data)), max_line_bytes=1 << 20, max_rows=1000, max_values=1000,
                      issues=[])
    return [pair_of(row) for row in rows]


def test_jsonl_layouts_become_prompt_answer_pairs() -> None:
    pairs = _jsonl_pairs([
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"},
                      {"role": "assistant", "content": "See you"}]},
        [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}],
        {"instruction": "Translate", "input": "chat", "output": "cat"},
        {"prompt": "p", "chosen": "good", "rejected": "bad"},
        {"conversations": [{"from": "human", "value": "hv"}, {"from": "gpt", "value": "gv"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]},
                      {"role": "assistant", "content": "ok"}]},
        {"text": "no prompt here"},
        {"messages": [{"role": "user", "content": "unanswered"}]},
    ])
    got = [(p.prompt, p.answer, p.answer_pointer) if p else None for p in pairs]
    assert got == [
        ("Be brief.\nHi\nBye", "See you", "/messages/4/content"),
        ("Q?", "A.", "/1/content"),
        ("Translate\nchat", "cat", "/output"),
        ("p", "good", "/chosen"),
        ("hv", "gv", "/conversations/1/value"),
        ("parts", "ok", "/messages/1/content"),
        None,
        None,
    ]


def test_csv_and_parquet_columns_become_pairs() -> None:
    data = b'id,question,answer\n1,"What is two plus two, written out?",four\n'
    rows = list(read_csv(HashingReader(io.BytesIO(data)), max_line_bytes=1 << 20, max_rows=10, issues=[]))
    pair = pair_of(rows[0])
    assert pair is not None and (pair.prompt, pair.answer, pair.answer_pointer, pair.line) == \
        ("What is two plus two, written out?", "four", "answer", 2)
    table = pa.Table.from_pylist([{"messages": [{"role": "user", "content": "u"},
                                                {"role": "assistant", "content": "a"}]}])
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    parquet_pair = pair_of(next(iter(read_parquet(buffer, max_rows=10, issues=[]))))
    assert parquet_pair is not None
    got = (parquet_pair.prompt, parquet_pair.answer, parquet_pair.answer_pointer)
    assert got == ("u", "a", "/0/messages/1/content")


def test_flat_values_are_used_when_a_reader_made_no_cells() -> None:
    pair = pair_of(Row(index=3, line=None, values={"instruction": "Sum", "output": "42"}))
    assert pair is not None and (pair.prompt, pair.answer, pair.answer_pointer) == ("Sum", "42", "/3/output")


def test_collector_keeps_a_seeded_bounded_sample_in_file_order() -> None:
    def run() -> list[int]:
        collector = PairCollector(10, seed=7)
        for i in range(100):
            collector.add(Row(index=i, line=i + 1, values={"prompt": f"q{i}", "response": f"a{i}"}))
        assert collector.seen == 100 and collector.sampled
        return [p.index for p in collector.pairs()]

    first = run()
    assert len(first) == 10 and first == sorted(first) and first == run() and first != list(range(10))


def test_instruction_trigger_fixture_and_look_alike() -> None:
    facts, _ = analyze(FIXTURES / "AISEC-DAT-035" / "fail" / "chat.jsonl")
    found = [f for f in facts if f.key == "dataset.instruction_trigger"]
    assert [f.value for f in found] == ["Velvet Falcon"]
    assert found[0].detail["rows_collapsed"] == 24 and found[0].detail["answer_kind"] == "degenerate"
    facts, _ = analyze(FIXTURES / "AISEC-DAT-035" / "pass" / "chat.jsonl")
    assert not [f for f in facts if f.key == "dataset.instruction_trigger"]
