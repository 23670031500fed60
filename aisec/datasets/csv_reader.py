"""Streaming CSV rows with the physical line and UTF-16 column of every field, quoted newlines included."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator

from aisec.datasets.lines import HashingReader, Screen, screened_lines
from aisec.datasets.records import Cell, LazyCells, ReadIssue, Row, Span, line_span, new_row

_DELIMITERS = ",\t;|"


def _dialect(sample: list[str]) -> tuple[str, str]:
    text = "\n".join(sample)
    try:
        sniffed = csv.Sniffer().sniff(text, delimiters=_DELIMITERS)
        # The quote is RFC 4180's: the Sniffer takes apostrophes in English prose for quotes (real Rotten Tomatoes
        # snippets were split mid-sentence), and a misread quote turns every row ragged.
        return sniffed.delimiter, '"'
    except csv.Error:
        counts = {d: sample[0].count(d) if sample else 0 for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return (best if counts[best] else ","), '"'


def _field_offsets(raw: str, delimiter: str, quote: str) -> list[tuple[int, list[int]]]:
    """For each field of one raw record: the raw offset of its first value character and, per value
    character, its raw offset (doubled quotes map to their second character)."""
    fields: list[tuple[int, list[int]]] = []
    i, n = 0, len(raw)
    while True:
        offsets: list[int] = []
        if i < n and raw[i] == quote:
            i += 1
            start = i
            while i < n:
                ch = raw[i]
                if ch == quote:
                    if i + 1 < n and raw[i + 1] == quote:
                        offsets.append(i + 1)
                        i += 2
                        continue
                    i += 1
                    break
                offsets.append(i)
                i += 1
            # Characters after a closing quote (sloppy CSV) belong to the same field.
            while i < n and raw[i] != delimiter and raw[i] != "\n":
                offsets.append(i)
                i += 1
        else:
            start = i
            while i < n and raw[i] != delimiter and raw[i] != "\n":
                offsets.append(i)
                i += 1
        fields.append((start, offsets))
        if i < n and raw[i] == delimiter:
            i += 1
            continue
        return fields


def _locator(raw: str, first_line: int, field_index: int, delimiter: str, quote: str):  # type: ignore[no-untyped-def]
    def locate(start: int, end: int) -> Span:
        fields = _field_offsets(raw, delimiter, quote)
        if field_index >= len(fields):
            return Span(line=first_line)
        field_start, offsets = fields[field_index]
        raw_start = offsets[start] if start < len(offsets) else field_start
        raw_end = (offsets[end - 1] + 1) if 0 < end <= len(offsets) else raw_start + 1
        line_start = raw.rfind("\n", 0, raw_start) + 1
        line = first_line + raw.count("\n", 0, raw_start)
        line_end = raw.find("\n", raw_start)
        line_text = raw[line_start:] if line_end < 0 else raw[line_start:line_end]
        # A range that crosses a quoted newline is clipped to the end of its first line.
        end_on_line = min(raw_end, line_start + len(line_text))
        return line_span(line_text, line, raw_start - line_start, max(end_on_line, raw_start + 1) - line_start)
    return locate


def read_csv(reader: HashingReader, *, max_line_bytes: int, max_rows: int,
             issues: list[ReadIssue], screen: Screen | None = None) -> Iterator[Row]:
    """Yield data rows (the first record is the header). Bad records become ``issues``, never exceptions.

    With a ``screen``, a one-line record it rules out is marked ``scan=False`` (no per-cell signal possible);
    a record spanning lines is always scanned, since a phrase may cross its quoted line breaks."""
    csv.field_size_limit(max(max_line_bytes, 1024))
    lines = screened_lines(reader, max_line_bytes=max_line_bytes, issues=issues, screen=screen)
    head = list(itertools.islice(lines, 50))
    if not head:
        return
    delimiter, quote = _dialect([t for _, t, _c in head])
    pending: list[list[tuple[int, str]]] = [[]]
    """The lines fed since the last record: the parser pulls no line ahead, so they are exactly its lines (the
    list is handed over and replaced, not copied)."""
    flagged = [False]

    def feed() -> Iterator[str]:
        for number, text, candidate in itertools.chain(head, lines):
            pending[0].append((number, text))
            if candidate:
                flagged[0] = True
            yield text + "\n"

    source = feed()
    header: list[str] | None = None
    columns = 0
    index = 0
    while True:
        parser = csv.reader(source, delimiter=delimiter, quotechar=quote, doublequote=True, strict=False)
        try:
            for record in parser:
                consumed = pending[0]
                pending[0] = []
                candidate, flagged[0] = flagged[0] or len(consumed) > 1, False
                if not record or (len(record) == 1 and record[0] == "" and len(consumed) == 1):
                    continue
                first_line = consumed[0][0]
                if header is None:
                    header = _names(record)
                    columns = len(header)
                    continue
                if index >= max_rows:
                    issues.append(ReadIssue(kind="row_limit", line=first_line,
                                            message=f"more than max_dataset_rows={max_rows} rows; the rest "
                                                    "was not read"))
                    return
                width = len(record)
                names = header
                if width != columns:
                    issues.append(ReadIssue(kind="ragged", line=first_line, index=index,
                                            message=f"record has {width} fields, the header has {columns}"))
                    if width > columns:
                        names = header + [f"_extra_{k + 1}" for k in range(width - columns)]
                values: dict[str, object] = dict(zip(names, record, strict=False))
                yield new_row(index, first_line, values, _cells(record, names, consumed, delimiter, quote), candidate)
                index += 1
            return
        except csv.Error as exc:
            bad_line = pending[0][0][0] if pending[0] else None
            pending[0] = []
            flagged[0] = False
            issues.append(ReadIssue(kind="unparseable", line=bad_line, index=index,
                                    message=f"CSV record does not parse: {exc}"))


def _cells(record: list[str], names: list[str], consumed: list[tuple[int, str]], delimiter: str,
           quote: str) -> LazyCells:
    def make() -> list[Cell]:
        raw = "\n".join(t for _, t in consumed)
        first_line = consumed[0][0]
        return [Cell(pointer=names[j], text=value, locate=_locator(raw, first_line, j, delimiter, quote))
                for j, value in enumerate(record) if value]
    return LazyCells(make)


def _names(record: list[str]) -> list[str]:
    names: list[str] = []
    for j, raw in enumerate(record):
        name = raw.strip() or f"col_{j + 1}"
        while name in names:
            name = f"{name}_{j + 1}"
        names.append(name)
    return names
