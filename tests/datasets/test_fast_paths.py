"""Speed-ups that must not change a result: the per-word character n-gram counts, lazily built cells, the reservoir
draw before a sample row is built, and the quick drift check."""

from __future__ import annotations

import io
import json
import random

import numpy as np

from aisec.datasets import features
from aisec.datasets.csv_reader import read_csv
from aisec.datasets.jsonl_reader import read_jsonl
from aisec.datasets.lines import HashingReader
from aisec.datasets.profile import Profile, value_kind
from aisec.datasets.records import LazyCells, Row
from aisec.datasets.roles import Roles
from aisec.datasets.settings import load_settings
from benchmarks.poisonbench import corpora

ODD_TEXTS = ["", "   ", "\u0130stanbul \u00c7A  x\tY\nz", "a" * 3000, "\u01c5 \u00df \ufb01", "one", "x\x1cy\u00a0z",
             "Caf\u00e9 \u2014 \u201cquoted\u201d", "tab\tand\r\nbreaks", "\U0001f600 emoji \u200b zero"]


def test_char_counts_equal_the_char_vectorizer_on_real_text() -> None:
    texts = [str(r["text"]) for r in corpora.reviews(rows=800, seed=4).records] + \
        [str(r["text"]) for r in corpora.speech_sentences(rows=300, seed=4).records] + ODD_TEXTS
    expected = features._char_vectorizer().transform([t[:features.CHAR_PREFIX] for t in texts])
    got = features.char_counts(texts)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert np.array_equal(got.indptr, expected.indptr)
    assert np.array_equal(got.indices, expected.indices)
    assert np.array_equal(got.data, expected.data)
    assert features.char_counts(["", " \n "]).nnz == 0


def test_cells_are_built_on_first_use_and_equal_eager_ones() -> None:
    built: list[int] = []

    def make() -> list[str]:
        built.append(1)
        return ["a", "b"]

    lazy = LazyCells(make)  # type: ignore[arg-type]
    assert not built
    assert list(lazy) == ["a", "b"] and len(lazy) == 2 and lazy[1] == "b" and lazy[0:1] == ["a"]
    assert built == [1]  # once

    data = (b'{"id": 1, "text": "caf\\u00e9 \\"x\\"", "label": "a"}\n'
            b'{"messages": [{"role": "user", "content": "hi"}], "n": {"k": ["v", 2]}}\n')
    rows = list(read_jsonl(HashingReader(io.BytesIO(data)), max_line_bytes=1 << 20, max_rows=10, max_values=100,
                           issues=[]))
    assert [[(c.pointer, c.text) for c in r.cells] for r in rows] == [
        [("/text", 'caf\u00e9 "x"'), ("/label", "a")],
        [("/messages/0/role", "user"), ("/messages/0/content", "hi"), ("/n/k/0", "v")]]
    span = rows[0].cells[0].locate(0, 4)
    assert (span.line, span.column, span.end_column) == (1, 20, 29)  # the escape \u00e9 spans six raw columns
    table = b'id,text,label\n1,"multi\nline, quoted",a\n2,,b\n'
    csv_rows = list(read_csv(HashingReader(io.BytesIO(table)), max_line_bytes=1 << 20, max_rows=10, issues=[]))
    assert [[(c.pointer, c.text) for c in r.cells] for r in csv_rows] == [
        [("id", "1"), ("text", "multi\nline, quoted"), ("label", "a")], [("id", "2"), ("label", "b")]]
    assert csv_rows[1].cells[1].locate(0, 1).column == 4


def test_oversized_flat_and_nested_records_are_reported_as_before() -> None:
    flat = json.dumps({f"k{i}": i for i in range(10)})
    nested = json.dumps({"a": [1, 2, {"b": [3, 4, 5]}], "c": "x"})
    for line, limit, oversized in ((flat, 11, False), (flat, 10, True), (nested, 10, False), (nested, 9, True)):
        issues: list = []  # type: ignore[type-arg]
        list(read_jsonl(HashingReader(io.BytesIO(line.encode() + b"\n")), max_line_bytes=1 << 20, max_rows=10,
                        max_values=limit, issues=issues))
        assert [i.kind for i in issues] == (["oversized_record"] if oversized else []), (line, limit)


def test_profile_sample_and_drift_are_unchanged_by_the_quick_paths() -> None:
    rng = random.Random(3)
    settings = load_settings({"dataset": {"model_max_rows": 50, "max_facts_per_signal": 1000}})
    roles = Roles(text=["text"], label="label", ids=["id"], numeric=["x"], categorical=[], inferred={})
    head = [Row(index=i, line=i + 1, values={"id": i, "text": f"t{i}", "x": 1.0, "label": "a"}) for i in range(5)]
    profile = Profile(roles, settings, typed=True, schema_rows=head)
    kinds = ["text", 3, 2.5, None, "", True, "[1]", {"k": 1}, float("nan"), "{x}"]
    expected: dict[tuple[str, str], int] = {}
    for i in range(500):
        values = {"id": i, "text": rng.choice(kinds), "x": rng.choice(kinds), "label": rng.choice("ab")}
        if i % 97 == 0:
            values["extra"] = 1
        if i % 89 == 0:
            del values["x"]
        for name, column_kind in (("text", "string"), ("x", "number")):
            if name in values and value_kind(values[name], True) not in ("null", column_kind):
                expected[(name, "type")] = expected.get((name, "type"), 0) + 1
        profile.add(Row(index=i, line=i + 1, values=values), False)
    expected[("extra", "unexpected")] = 6
    expected[("x", "missing")] = 6
    assert dict(profile.drift_counts) == expected
    expected_rng = random.Random(settings.seed)
    chosen = list(range(50))
    for i in range(50, 500):
        j = expected_rng.randrange(i + 1)
        if j < 50:
            chosen[j] = i
    assert [r.index for r in profile.sample] == chosen
    assert all(r.text == str(r.text) for r in profile.sample) and len(profile.text_lengths) == 50


def test_object_lines_decode_as_json_loads_does() -> None:
    """The reader's scanner-only path for ``{...}`` lines gives json.loads's value, or its exact error."""
    from aisec.datasets import jsonl_reader

    lines = ['{"a": 1}', '{"a": 1} ', ' {"a": 1}', '{"a": 1}{"b": 2}', '{"a": 1}, {"b": 2}', '{"a": }', '{}',
             '{"a": NaN, "b": -Infinity, "c": 1e400, "d": 1.0, "e": true, "f": null}', '{"a": "\\ud800"}',
             '{"a": "x\\u0000y", "a": 2}', '{"a": [1, {"b": "}"}]}', '{"a": 1', '{"a": "\t"}', '{' * 50 + '}' * 50,
             '{"a": 1}\n{"b": 2}', "{'a': 1}", '{"a": 01}']
    for line in lines:
        try:
            expected: object = json.loads(line)
        except ValueError as exc:
            expected = ("error", str(exc))
        try:
            got: object = jsonl_reader._decode(line)
        except ValueError as exc:
            got = ("error", str(exc))
        assert repr(got) == repr(expected), line


def test_rows_built_by_new_row_equal_dataclass_rows_and_stay_frozen() -> None:
    import dataclasses

    import pytest

    from aisec.datasets.records import new_row

    cells = LazyCells(lambda: [])
    fast = new_row(3, 7, {"a": 1}, cells, False)
    slow = Row(index=3, line=7, values={"a": 1}, cells=cells, scan=False)
    assert fast == slow and repr(fast) == repr(slow) and type(fast) is Row
    # Every field is set (a field added to Row later must be added to new_row too).
    assert set(vars(fast)) == {f.name for f in dataclasses.fields(Row)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.index = 4  # type: ignore[misc]
