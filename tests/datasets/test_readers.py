"""Readers keep physical lines and UTF-16 columns right through quoted newlines, escapes and bad bytes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from aisec.datasets.csv_reader import read_csv
from aisec.datasets.jsonl_reader import read_jsonl
from aisec.datasets.lines import HashingReader
from aisec.datasets.parquet_reader import read_parquet
from aisec.datasets.records import ReadIssue, Row, utf16_len


def _csv_rows(data: bytes) -> tuple[list[Row], list[ReadIssue]]:
    issues: list[ReadIssue] = []
    rows = list(read_csv(HashingReader(io.BytesIO(data)), max_line_bytes=1 << 20, max_rows=1000, issues=issues))
    return rows, issues


def _jsonl_rows(data: bytes) -> tuple[list[Row], list[ReadIssue]]:
    issues: list[ReadIssue] = []
    rows = list(read_jsonl(HashingReader(io.BytesIO(data)), max_line_bytes=1 << 20, max_rows=1000,
                           max_values=1000, issues=issues))
    return rows, issues


def _expected_span(raw_line: str, needle: str) -> tuple[int, int]:
    start = raw_line.index(needle)
    col = utf16_len(raw_line[:start]) + 1
    return col, col + utf16_len(needle)


def test_csv_quoted_newlines_and_doubled_quotes_keep_lines_and_columns() -> None:
    data = ('id,text\n1,plain\n2,"first line\nsecond ""quoted"" 😀 line with \u202e here"\n3,after\n'
            ).encode("utf-8")
    rows, issues = _csv_rows(data)
    assert not issues
    assert [r.line for r in rows] == [2, 3, 5]
    cell = next(c for c in rows[1].cells if c.pointer == "text")
    pos = cell.text.index("\u202e")
    span = cell.locate(pos, pos + 1)
    raw_line = 'second ""quoted"" 😀 line with \u202e here"'
    assert span.line == 4
    assert (span.column, span.end_column) == _expected_span(raw_line, "\u202e")
    # The emoji before it counts two UTF-16 code units, as SARIF requires.
    assert span.column == len(raw_line[:raw_line.index("\u202e")]) + 2


def test_csv_ragged_and_header_only_rows_are_issues_not_crashes() -> None:
    rows, issues = _csv_rows(b"a,b,c\n1,2,3\n4,5\n6,7,8\n")
    assert [r.line for r in rows] == [2, 3, 4]
    assert [(i.kind, i.line) for i in issues] == [("ragged", 3)]


def test_jsonl_escaped_characters_map_to_their_escape_sequences() -> None:
    record = {"a": "\U0001F600 x", "text": "tab\there \u202e evil"}
    line = json.dumps(record)  # ensure_ascii: every non-ASCII character is an escape in the raw line
    rows, issues = _jsonl_rows(b'{"a": "ok"}\n' + line.encode() + b"\n")
    assert not issues
    cell = next(c for c in rows[1].cells if c.pointer == "/text")
    pos = cell.text.index("\u202e")
    span = cell.locate(pos, pos + 1)
    assert span.line == 2
    assert (span.column, span.end_column) == _expected_span(line, "\\u202e")
    word = cell.text.index("evil")
    assert cell.locate(word, word + 4).column == _expected_span(line, "evil")[0]


def test_jsonl_raw_non_bmp_characters_count_two_columns() -> None:
    line = '{"text": "😀😀 \u2066x"}'
    rows, _ = _jsonl_rows(line.encode("utf-8") + b"\n")
    cell = rows[0].cells[0]
    pos = cell.text.index("\u2066")
    span = cell.locate(pos, pos + 1)
    assert (span.column, span.end_column) == (16, 17)  # { " t e x t " : _ " = 10, two emoji = 4, space = 1
    assert span.column == _expected_span(line, "\u2066")[0]


def test_jsonl_chat_messages_have_json_pointers() -> None:
    rows, _ = _jsonl_rows(b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
                          b'[{"role": "user", "content": "bare list"}]\n')
    assert [c.pointer for c in rows[0].cells] == ["/messages/0/role", "/messages/0/content", "/messages/1/role",
                                                 "/messages/1/content"]
    assert rows[0].values["messages"] == "hi\nyo"
    assert (rows[1].cells[1].pointer, rows[1].cells[1].text) == ("/0/content", "bare list")


@pytest.mark.parametrize(("data", "kind", "line"), [
    (b'{"a": "x"}\n{"a": "caf\xe9"}\n', "invalid_utf8", 2),
    (b'{"a": "x"}\n{"a": broken\n', "unparseable", 2),
    (b'{"a": "x"}\n\xef\xbb\xbf{"a": "y"}\n', "bom", 2),
    (b'{"a": "x"}\n[1, 2]\n', "not_object", 2),
    (b'{"a": "x"}\n' + b"[" * 100_000 + b"\n", "unparseable", 2),
])
def test_jsonl_bad_lines_become_issues(data: bytes, kind: str, line: int) -> None:
    rows, issues = _jsonl_rows(data)
    assert rows[0].values == {"a": "x"}
    assert (issues[0].kind, issues[0].line) == (kind, line)


def test_leading_bom_is_not_an_issue_and_oversized_lines_are_skipped() -> None:
    issues: list[ReadIssue] = []
    data = b'\xef\xbb\xbf{"a": 1}\n{"a": "' + b"x" * 5000 + b'"}\n{"a": 3}\n'
    rows = list(read_jsonl(HashingReader(io.BytesIO(data)), max_line_bytes=1000, max_rows=10, max_values=10,
                           issues=issues))
    assert [r.values["a"] for r in rows] == [1, 3]
    assert [r.line for r in rows] == [1, 3]
    assert [(i.kind, i.line) for i in issues] == [("oversized_line", 2)]


def test_parquet_rows_are_read_in_batches_with_row_pointers(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"text": [f"row {i}" for i in range(5000)], "label": [i % 3 for i in range(5000)]}),
                   path, row_group_size=1000)
    issues: list[ReadIssue] = []
    with open(path, "rb") as handle:
        rows = list(read_parquet(handle, max_rows=10_000, issues=issues))
    assert len(rows) == 5000 and not issues
    assert rows[4321].cells[0].pointer == "/4321/text"
    assert rows[4321].values == {"text": "row 4321", "label": 4321 % 3}


def test_truncated_parquet_is_an_issue(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"x": list(range(100))}), path)
    path.write_bytes(path.read_bytes()[:-20])
    issues: list[ReadIssue] = []
    with open(path, "rb") as handle:
        assert list(read_parquet(handle, max_rows=10, issues=issues)) == []
    assert issues[0].kind == "unparseable"
