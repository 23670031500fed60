"""Streaming JSON Lines: one object per physical line, decoded before scanning, positions mapped back."""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Iterator
from typing import Any

from aisec.datasets.json_positions import escape_pointer_token, json_locator
from aisec.datasets.lines import HashingReader, Screen, screened_lines
from aisec.datasets.records import Cell, LazyCells, ReadIssue, Row, new_row


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


_DECODER = json.JSONDecoder()
_DECODE = _DECODER.decode
"""``json.loads`` without its per-call argument handling (the reader calls it once per line)."""
_SCAN = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]  # typeshed types it as its own class
"""The decoder's own (C) scanner: for a line that is one ``{...}`` object it returns the value ``_DECODE`` would,
without the two whitespace matches and two Python frames per call; anything else goes through ``_DECODE``."""


def _decode(text: str) -> Any:
    """``_DECODE(text)``, through the scanner alone when the line is exactly one object."""
    if text[:1] == "{" and text[-1:] == "}":
        try:
            record, end = _SCAN(text, 0)
        except (StopIteration, ValueError, RecursionError):
            return _DECODE(text)  # raises the error (and message) json.loads gives
        if end == len(text):
            return record
    return _DECODE(text)


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
        if text[:1] != "{" and not text.strip():
            continue
        if index >= max_rows:
            issues.append(ReadIssue(kind="row_limit", line=number,
                                    message=f"more than max_dataset_rows={max_rows} rows; the rest was not read"))
            return
        try:
            record = _decode(text)
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
            yield Row(index=index, line=number, values=flatten_top({"messages": record}),
                      cells=_cells(record, text, number, max_values), scan=candidate)
            index += 1
            continue
        if not isinstance(record, dict):
            issues.append(ReadIssue(kind="not_object", line=number, index=index,
                                    message=f"line holds a JSON {type(record).__name__}, not an object"))
            index += 1
            continue
        # A nested value needs a second brace or a bracket in the line (structural ones are never escaped), so
        # most lines of flat records are settled by two C-level string scans.
        flat = (text.count("{") == 1 and "[" not in text) or \
            not any(type(v) in (dict, list) for v in record.values())
        if (1 + len(record) if flat else _value_count(record, max_values)) > max_values:
            issues.append(ReadIssue(kind="oversized_record", line=number, index=index,
                                    message=f"record has more than {max_values} values; the rest was not scanned"))
        # A flat record is its own top-level view (nothing to flatten; rows' values are never changed).
        yield new_row(index, number, record if flat else flatten_top(record),
                      _cells(record, text, number, max_values), candidate)
        index += 1


def _value_count(value: Any, max_values: int) -> int:
    """Values ``string_leaves`` would walk (the record itself included), counted up to one past ``max_values``."""
    count = 0
    stack = [value]
    while stack and count <= max_values:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _cells(record: Any, text: str, number: int, max_values: int) -> LazyCells:
    def make() -> list[Cell]:
        strings: list[tuple[str, str]] = []
        string_leaves(record, "", strings, [max_values])
        return [Cell(pointer=p, text=s, locate=json_locator(text, number, p)) for p, s in strings]
    return LazyCells(make)
