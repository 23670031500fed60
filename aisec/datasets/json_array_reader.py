"""JSON arrays of records (``[{...}, {...}]``, or wrapped as ``{"data": [...]}``): told apart from other JSON by
content, streamed one record at a time with bounded memory (a whole array on one line included), every string
located by line and UTF-16 column."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from aisec.datasets.json_positions import decoded_offsets, string_spans
from aisec.datasets.jsonl_reader import flatten_top, string_leaves
from aisec.datasets.lines import HashingReader
from aisec.datasets.records import Cell, ReadIssue, Row, Span, new_row, utf16_len

WRAPPER_KEYS = frozenset({"data", "rows", "records", "examples", "instances", "items"})
"""Top-level keys whose array value holds the records (``{"data": [...]}``, the usual API/export wrappers)."""
MIN_RECORDS = 3
"""An array is records only with at least this many objects in the first 64 KiB …"""
MIN_SHARED_KEYS = 0.5
"""… each sharing at least this share of its keys with the first object (configs are rarely that regular)."""
PIECE_BYTES = 1024 * 1024
"""Bytes read at a time: a line longer than this (a whole array written on one line) is read in pieces."""
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*(?P<close>")?|[{}\[\],:]')
_STRING_REST = re.compile(r'(?:[^"\\]|\\.)*(?P<close>")?')


@dataclass(frozen=True, kw_only=True)
class Piece:
    """Decoded text of (part of) one physical line and where it starts on that line."""

    line: int
    utf16_base: int
    """UTF-16 code units of the line before this piece."""
    text: str


@dataclass
class _Element:
    """One record being collected: its raw text and, per stretch of it, the line and UTF-16 column it starts at."""

    line: int
    marks: list[tuple[int, int, int]]
    """``(offset in the raw record, line, UTF-16 column base)`` for each stretch."""
    parts: list[str] = field(default_factory=list)
    size: int = 0
    oversized: bool = False
    scalar: bool = False
    """A number, ``true``, ``false`` or ``null`` element (no tokens of its own; seen between separators)."""

    def add(self, text: str, line: int, base: int, *, newline: bool, cap: int) -> None:
        """Append a stretch of raw text that starts at ``line``, UTF-16 column ``base`` (0-based)."""
        if self.oversized:
            self.size += len(text)
            return
        if newline and self.parts:
            self.parts.append("\n")
            self.size += 1
        if self.parts:
            self.marks.append((self.size, line, base))
        self.parts.append(text)
        self.size += len(text)
        if self.size > cap:
            self.oversized, self.parts, self.marks = True, [], []

    def locate(self, raw: str, first: int, end: int) -> Span:
        """The span of raw record offsets ``[first, end)`` (a JSON string never crosses a line)."""
        mark = max((m for m in self.marks if m[0] <= first), default=(0, self.line, 0))
        column = mark[2] + utf16_len(raw[mark[0]:first]) + 1
        return Span(line=mark[1], column=column, end_column=column + max(utf16_len(raw[first:end]), 1))


class _Units:
    """UTF-16 length of prefixes of one piece, computed forward once (element starts only move forward)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._ascii = text.isascii()
        self._pos = 0
        self._units = 0

    def at(self, offset: int) -> int:
        """UTF-16 code units in ``text[:offset]``."""
        if self._ascii:
            return offset
        if offset < self._pos:
            self._pos, self._units = 0, 0
        self._units += utf16_len(self.text[self._pos:offset])
        self._pos = offset
        return self._units


class _Scanner:
    """Tracks JSON nesting over pieces of text and cuts the records array into raw elements."""

    def __init__(self, max_record_chars: int) -> None:
        self.stack: list[str] = []
        self.array_depth: int | None = None
        self.key: str | None = None
        self.expect_value = False
        self.in_string = False
        self.escape_pending = False
        self.current: _Element | None = None
        self.slot = ""
        """At the records array's level: ``open`` after its ``[``, ``sep`` after a comma, ``filled`` after an
        element (a separator that finds ``open``/``sep`` closes a scalar element)."""
        self.done = False
        self.cap = max_record_chars
        self._last_line = 0

    def feed(self, piece: Piece) -> Iterator[_Element]:
        """Elements that end in this piece (an element may start in an earlier one)."""
        text = piece.text
        units = _Units(text)
        newline = piece.line != self._last_line
        self._last_line = piece.line
        start: int | None = 0 if self.current is not None else None
        pos = self._string_rest(text) if self.in_string else 0
        for match in _TOKEN.finditer(text, pos):
            if self.done:
                break
            tok = match.group()
            at_level = self.array_depth is not None and len(self.stack) == self.array_depth and self.current is None
            if at_level and tok in ",]":
                if self.slot == "sep" or (tok == "," and self.slot == "open"):
                    yield _Element(line=piece.line, marks=[], scalar=True)
                self.slot = "sep"
            elif at_level:
                self.slot = "filled"
            if at_level and tok not in ",]":
                base = piece.utf16_base + units.at(match.start())
                self.current = _Element(line=piece.line, marks=[(0, piece.line, base)])
                start, newline = match.start(), False
            if tok.startswith('"'):
                if match.group("close") is None:  # the string goes on in the next piece
                    self.in_string, self.escape_pending = True, text[match.end():] == "\\"
                    break
                if self.stack and self.stack[-1] == "{" and not self.expect_value:
                    self.key = tok[1:-1]
                elif self.current is not None and len(self.stack) == self.array_depth:
                    yield self._close(piece, units, start or 0, match.end(), newline)  # a bare string element
                    start, newline = None, False
            elif tok in "{[":
                self._open(tok)
            elif tok in "}]":
                if self.stack:
                    self.stack.pop()
                if self.array_depth is not None and len(self.stack) < self.array_depth:
                    self.done, self.current = True, None  # the records array closed
                elif self.current is not None and len(self.stack) == self.array_depth:
                    yield self._close(piece, units, start or 0, match.end(), newline)
                    start, newline = None, False
            else:
                self.expect_value = tok == ":"
        if self.current is not None and start is not None:
            self._add(piece, units, start, len(text), newline)

    def _string_rest(self, text: str) -> int:
        pos = 1 if self.escape_pending and text else 0
        match = _STRING_REST.match(text, pos)
        assert match is not None  # the pattern also matches the empty string
        self.in_string = match.group("close") is None
        self.escape_pending = self.in_string and text[match.end():] == "\\"
        return len(text) if self.in_string else match.end()

    def _open(self, tok: str) -> None:
        depth = len(self.stack)
        self.stack.append(tok)
        if self.array_depth is None and tok == "[" and (
                depth == 0 or (depth == 1 and self.stack[0] == "{" and self.expect_value and
                               self.key in WRAPPER_KEYS)):
            self.array_depth, self.slot = len(self.stack), "open"
        self.expect_value = False

    def _add(self, piece: Piece, units: _Units, start: int, end: int, newline: bool) -> None:
        assert self.current is not None
        base = piece.utf16_base + units.at(start) if start else piece.utf16_base
        self.current.add(units.text[start:end], piece.line, base, newline=newline, cap=self.cap)

    def _close(self, piece: Piece, units: _Units, start: int, end: int, newline: bool) -> _Element:
        self._add(piece, units, start, end, newline)
        element, self.current = self.current, None
        assert element is not None
        return element


def pieces(reader: HashingReader, issues: list[ReadIssue], *, piece_bytes: int = PIECE_BYTES) -> Iterator[Piece]:
    """Decoded pieces of physical lines (long lines in several pieces); bad UTF-8 and NULs become issues."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    line, base, first = 1, 0, True
    while True:
        raw = reader.readline(piece_bytes)
        final = not raw
        text = decoder.decode(raw, final=final)
        if first and text.startswith("\ufeff"):
            text, first = text[1:], False
        first = False
        if "\ufffd" in text and b"\xef\xbf\xbd" not in raw:
            issues.append(ReadIssue(kind="invalid_utf8", line=line, message="invalid UTF-8 in the line"))
        if "\x00" in text:
            issues.append(ReadIssue(kind="nul_byte", line=line, message=f"{text.count(chr(0))} NUL byte(s)"))
            text = text.replace("\x00", "\ufffd")
        ends = text.endswith("\n")
        body = text[:-1].rstrip("\r") if ends else text
        if body or ends:
            yield Piece(line=line, utf16_base=base, text=body)
        if final:
            return
        if ends:
            line, base = line + 1, 0
        else:
            base += utf16_len(body)


class _Spans:
    """Raw ranges of a record's strings, computed when a cell is first located (most cells never are)."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._spans: dict[str, tuple[int, int]] | None = None

    def get(self, pointer: str) -> tuple[int, int] | None:
        if self._spans is None:
            self._spans = string_spans(self.raw)
        return self._spans.get(pointer)


def _locator(element: _Element, raw: str, spans: _Spans, pointer: str) -> Callable[[int, int], Span]:
    def locate(start: int, end: int) -> Span:
        span = spans.get(pointer)
        if span is None:
            return Span(line=element.line)
        offsets = decoded_offsets(raw, *span) or [span[0]]
        first = offsets[min(start, len(offsets) - 1)]
        last = offsets[min(max(end - 1, start), len(offsets) - 1)]
        width = 1 if raw[last] != "\\" else (12 if raw[last + 6:last + 8] == "\\u" and
                                             0xD800 <= int(raw[last + 2:last + 6], 16) < 0xDC00 else
                                             6 if raw[last + 1] == "u" else 2)
        return element.locate(raw, first, last + width)
    return locate


def _row(element: _Element, index: int, max_values: int, issues: list[ReadIssue]) -> Row | None:
    if element.scalar:
        issues.append(ReadIssue(kind="not_object", line=element.line, index=index,
                                message="array element is a number, true, false or null, not an object"))
        return None
    if element.oversized:
        issues.append(ReadIssue(kind="oversized_line", line=element.line, index=index,
                                message="record is longer than dataset max_line_bytes; skipped"))
        return None
    raw = "".join(element.parts)
    try:
        record = json.loads(raw)
    except RecursionError:
        issues.append(ReadIssue(kind="unparseable", line=element.line, index=index, message="JSON nested too deeply"))
        return None
    except ValueError as exc:
        issues.append(ReadIssue(kind="unparseable", line=element.line, index=index,
                                message=f"record is not valid JSON: {str(exc)[:120]}"))
        return None
    if not isinstance(record, dict):
        issues.append(ReadIssue(kind="not_object", line=element.line, index=index,
                                message=f"array element is a JSON {type(record).__name__}, not an object"))
        return None
    strings: list[tuple[str, str]] = []
    budget = [max_values]
    string_leaves(record, "", strings, budget)
    if budget[0] < 0:
        issues.append(ReadIssue(kind="oversized_record", line=element.line, index=index,
                                message=f"record has more than {max_values} values; the rest was not scanned"))
    spans = _Spans(raw)
    cells = [Cell(pointer=p, text=s, locate=_locator(element, raw, spans, p)) for p, s in strings]
    return new_row(index, element.line, flatten_top(record), cells, True)


def read_json_array(reader: HashingReader, *, max_line_bytes: int, max_rows: int, max_values: int,
                    issues: list[ReadIssue]) -> Iterator[Row]:
    """Yield one row per object of the records array; other elements and broken records become issues."""
    scanner = _Scanner(max_record_chars=max_line_bytes)
    index = 0
    for piece in pieces(reader, issues):
        for element in scanner.feed(piece):
            if index >= max_rows:
                issues.append(ReadIssue(kind="row_limit", line=element.line,
                                        message=f"more than max_dataset_rows={max_rows} rows; the rest was not read"))
                return
            row = _row(element, index, max_values, issues)
            if row is not None:
                yield row
            index += 1
        if scanner.done:
            return
    if scanner.array_depth is None:
        issues.append(ReadIssue(kind="unparseable", line=1, message="no array of records found"))
    else:
        issues.append(ReadIssue(kind="unparseable", message="the records array is not closed (truncated file?)"))


def looks_like_records(text: str) -> bool:
    """Whether a file's first characters hold a records array: at least ``MIN_RECORDS`` objects whose keys mostly
    agree with the first one's (an array of a few odd objects, or any other JSON, stays plain JSON)."""
    scanner = _Scanner(max_record_chars=len(text) + 1)
    keys: list[set[str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        for element in scanner.feed(Piece(line=number, utf16_base=0, text=line)):
            try:
                value = json.loads("".join(element.parts))
            except (ValueError, RecursionError):
                return False
            if not isinstance(value, dict) or not value:
                return False
            keys.append(set(value))
        if scanner.done or len(keys) >= 20 or (scanner.array_depth is None and len(scanner.stack) > 1):
            break
    if len(keys) < MIN_RECORDS:
        return False
    if scanner.done and scanner.array_depth == 1:
        try:  # an array closed early: the whole document must be that array (``[...]\n[...]`` is line data)
            json.loads(text)
        except (ValueError, RecursionError):
            return False
    first = keys[0]
    return all(len(k & first) >= MIN_SHARED_KEYS * len(k) for k in keys)
