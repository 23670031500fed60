"""Streaming JSON Lines: one object per physical line, decoded before scanning, positions mapped back."""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Iterator
from typing import Any

from aisec.datasets.columnar import Block, Columnar, build_block
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
               issues: list[ReadIssue], screen: Screen | None = None,
               columnar: Columnar | None = None) -> Iterator[Row | Block]:
    """Yield one row per non-blank line that parses to an object; anything else becomes an issue.

    With a ``screen``, rows of lines it rules out are marked ``scan=False`` (no per-cell signal possible). With
    ``columnar`` (and a screen), once its plan is set the rest of each clean batch may come as one ``Block``."""
    state = _Taker(columnar, max_rows, max_values) if columnar is not None and screen is not None else None
    index = 0
    for number, text, candidate in screened_lines(reader, max_line_bytes=max_line_bytes, issues=issues,
                                                  screen=screen, taker=state):
        if text.__class__ is not str:
            block: Block = text  # type: ignore[assignment]  # screened_lines' documented block item
            for position in block.python:
                line = block.first_line + position
                row = _row(line, state.lines[position] if state else "", bool(state.flags[position]) if state else True,
                           block.first_index + position, max_values, issues)
                if row is not None:
                    block.rows[position] = row
            index += block.size
            if state is not None:
                state.index, state.lines, state.flags = index, [], bytearray()
            yield block
            del block, text  # not held while the next block is built
            continue
        if text[:1] != "{" and not text.strip():
            continue
        if index >= max_rows:
            issues.append(ReadIssue(kind="row_limit", line=number,
                                    message=f"more than max_dataset_rows={max_rows} rows; the rest was not read"))
            return
        row = _row(number, text, candidate, index, max_values, issues)
        index += 1
        if state is not None:
            state.index = index
        if row is not None:
            yield row


class _Taker:
    """Hands clean batches to ``columnar.build_block`` once the plan is set; keeps the block's lines for the
    rows it reads the Python way."""

    def __init__(self, columnar: Columnar, max_rows: int, max_values: int) -> None:
        self.columnar = columnar
        self.max_rows = max_rows
        self.max_values = max_values
        self.index = 0
        self.lines: list[str] = []
        self.flags = bytearray()

    @property
    def ready(self) -> bool:
        """Whether blocks can be built (the analyzer set the plan)."""
        return self.columnar.plan is not None

    def take(self, lines: list[str], data: bytes, number: int, flags: bytearray | None) -> object | None:
        """A block of ``lines``, or ``None`` (no screen verdicts, the row limit inside, or not columnar)."""
        plan = self.columnar.plan
        if plan is None or flags is None or self.index + len(lines) > self.max_rows:
            return None
        block = build_block(data, len(lines), first_index=self.index, first_line=number + 1, flags=flags, plan=plan)
        if block is not None:
            self.lines, self.flags = lines, flags
        return block


def _row(number: int, text: str, candidate: bool, index: int, max_values: int, issues: list[ReadIssue]) -> Row | None:
    """The row of one non-blank line, or ``None`` with an issue noted."""
    try:
        record = _decode(text)
    except RecursionError:
        issues.append(ReadIssue(kind="unparseable", line=number, index=index, message="JSON nested too deeply"))
        return None
    except ValueError as exc:
        issues.append(ReadIssue(kind="unparseable", line=number, index=index,
                                message=f"line is not valid JSON: {str(exc)[:120]}"))
        return None
    if isinstance(record, list) and all(isinstance(m, dict) for m in record):
        # A bare list of chat turns per line is common; treat it as {"messages": [...]}.
        return new_row(index, number, flatten_top({"messages": record}), _cells(record, text, number, max_values),
                       candidate)
    if not isinstance(record, dict):
        issues.append(ReadIssue(kind="not_object", line=number, index=index,
                                message=f"line holds a JSON {type(record).__name__}, not an object"))
        return None
    # A nested value needs a second brace or a bracket in the line (structural ones are never escaped), so
    # most lines of flat records are settled by two C-level string scans.
    flat = (text.count("{") == 1 and "[" not in text) or \
        not any(type(v) in (dict, list) for v in record.values())
    if (1 + len(record) if flat else _value_count(record, max_values)) > max_values:
        issues.append(ReadIssue(kind="oversized_record", line=number, index=index,
                                message=f"record has more than {max_values} values; the rest was not scanned"))
    # A flat record is its own top-level view (nothing to flatten; rows' values are never changed).
    return new_row(index, number, record if flat else flatten_top(record), _cells(record, text, number, max_values),
                   candidate)


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
