"""Streaming JSON Lines: one object per physical line, decoded before scanning, positions mapped back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aisec.datasets.json_positions import escape_pointer_token, json_locator
from aisec.datasets.lines import HashingReader, Screen, screened_lines
from aisec.datasets.records import Cell, ReadIssue, Row


def string_leaves(value: Any, pointer: str, out: list[tuple[str, str]], budget: list[int]) -> None:
    """Append (JSON pointer, string) for every string under ``value``, walking at most ``budget[0]`` values."""
    stack: list[tuple[str, Any]] = [(pointer, value)]
    while stack:
        where, item = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            return
        if isinstance(item, str):
            out.append((where, item))
        elif isinstance(item, dict):
            stack.extend((f"{where}/{escape_pointer_token(str(k))}", v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{where}/{i}", v) for i, v in reversed(list(enumerate(item))))


def flatten_top(record: dict[str, Any]) -> dict[str, Any]:
    """Top-level fields as scalars; chat ``messages`` become their joined contents; other nesting is JSON text."""
    values: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, (dict, list)):
            if key == "messages" and isinstance(value, list):
                values[key] = "\n".join(str(m.get("content", "")) for m in value if isinstance(m, dict)
                                        and isinstance(m.get("content"), str))
            else:
                values[key] = json.dumps(value, sort_keys=True, ensure_ascii=False)[:4096]
        else:
            values[key] = value
    return values


def read_jsonl(reader: HashingReader, *, max_line_bytes: int, max_rows: int, max_values: int,
               issues: list[ReadIssue], screen: Screen | None = None) -> Iterator[Row]:
    """Yield one row per non-blank line that parses to an object; anything else becomes an issue.

    With a ``screen``, rows of lines it rules out are marked ``scan=False`` (no per-cell signal possible)."""
    index = 0
    for number, text, candidate in screened_lines(reader, max_line_bytes=max_line_bytes, issues=issues,
                                                  screen=screen):
        if not text.strip():
            continue
        if index >= max_rows:
            issues.append(ReadIssue(kind="row_limit", line=number,
                                    message=f"more than max_dataset_rows={max_rows} rows; the rest was not read"))
            return
        try:
            record = json.loads(text)
        except RecursionError:
            issues.append(ReadIssue(kind="unparseable", line=number, index=index,
                                    message="JSON nested too deeply"))
            index += 1
            continue
        except ValueError as exc:
            issues.append(ReadIssue(kind="unparseable", line=number, index=index,
                                    message=f"line is not valid JSON: {str(exc)[:120]}"))
            index += 1
            continue
        if isinstance(record, list) and all(isinstance(m, dict) for m in record):
            # A bare list of chat turns per line is common; treat it as {"messages": [...]}.
            strings: list[tuple[str, str]] = []
            string_leaves(record, "", strings, [max_values])
            cells = [Cell(pointer=p, text=s, locate=json_locator(text, number, p)) for p, s in strings]
            yield Row(index=index, line=number, values=flatten_top({"messages": record}), cells=cells,
                      scan=candidate)
            index += 1
            continue
        if not isinstance(record, dict):
            issues.append(ReadIssue(kind="not_object", line=number, index=index,
                                    message=f"line holds a JSON {type(record).__name__}, not an object"))
            index += 1
            continue
        strings = []
        budget = [max_values]
        string_leaves(record, "", strings, budget)
        if budget[0] < 0:
            issues.append(ReadIssue(kind="oversized_record", line=number, index=index,
                                    message=f"record has more than {max_values} values; the rest was not scanned"))
        cells = [Cell(pointer=p, text=s, locate=json_locator(text, number, p)) for p, s in strings]
        yield Row(index=index, line=number, values=flatten_top(record), cells=cells, scan=candidate)
        index += 1
