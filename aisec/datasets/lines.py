"""Bounded physical-line reading with UTF-8 validation: bad bytes, NULs and stray BOMs become issues."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

from aisec.datasets.records import ReadIssue, utf16_len

_CHUNK = 1024 * 1024
BATCH_BYTES = 8 * 1024 * 1024
"""Bytes read and screened at once: large enough to amortise compiling the RE2 patterns (pyarrow compiles them
per call, ~20 ms), small enough to keep memory flat."""


class HashingReader:
    """Wraps a binary stream; hashes and counts every byte read so one pass yields the file's SHA-256."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()
        self.bytes_read = 0

    def readline(self, limit: int = -1) -> bytes:
        """Like ``BinaryIO.readline``, hashing what it returns."""
        data = self._stream.readline(limit)
        self.digest.update(data)
        self.bytes_read += len(data)
        return data

    def read(self, size: int = -1) -> bytes:
        """Like ``BinaryIO.read``, hashing what it returns."""
        data = self._stream.read(size)
        self.digest.update(data)
        self.bytes_read += len(data)
        return data

    def drain(self) -> None:
        """Read (and hash) the rest, so the digest covers the whole file even after an early stop."""
        while self.read(_CHUNK):
            pass


Screen = Callable[[bytes, "bool | None"], bytearray]
"""Given a batch of whole raw lines and whether it is valid UTF-8 (``None``: not known), 1 per line that may carry
a per-cell text signal (see ``prescreen``)."""


class Taker(Protocol):
    """Takes the rest of a clean batch (valid UTF-8; no NUL, BOM or CR) as one block instead of line by line."""

    @property
    def ready(self) -> bool:
        """False until the consumer can take blocks (e.g. roles are known); lines are yielded one by one until
        then."""

    def take(self, lines: list[str], data: bytes, number: int, flags: bytearray | None) -> object | None:
        """A block for ``lines`` (the decoded lines of ``data``, numbered after ``number``), or ``None``."""


def physical_lines(reader: HashingReader, *, max_line_bytes: int, issues: list[ReadIssue]) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, decoded text)`` without the terminator; one leading BOM is dropped silently.

    Invalid UTF-8 is decoded with U+FFFD and reported; NUL bytes become U+FFFD (same length, so columns
    stay right) and are reported; a BOM after the first position is reported and kept.
    """
    for number, text, _candidate in screened_lines(reader, max_line_bytes=max_line_bytes, issues=issues):
        yield number, text


def screened_lines(reader: HashingReader, *, max_line_bytes: int, issues: list[ReadIssue],
                   screen: Screen | None = None, taker: Taker | None = None) -> Iterator[tuple[int, str, bool]]:
    """``physical_lines`` read in large batches, each line with its pre-screen verdict (always True without a
    screen). A line's issues are appended just before it is yielded, so their order is the line order.

    With a ``taker``, the rest of a clean batch may come as one ``(last line number, block, True)`` item instead
    (``block`` is what ``taker.take`` returned, not a string)."""
    number = 0
    carry = b""
    skipping = False  # inside an oversized line whose start was reported: drop bytes up to its newline
    while True:
        block = reader.read(BATCH_BYTES)
        if not block:
            break
        if skipping:
            newline = block.find(b"\n")
            if newline < 0:
                continue
            block, skipping = block[newline + 1:], False
        data = carry + block if carry else block
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        for item in _batch(data[:cut], number, max_line_bytes, issues, screen, taker):
            number = item[0]
            yield item
            del item  # a block is not held while the next batch is read
        if len(carry) > max_line_bytes:
            number += 1
            issues.append(_oversized(number, max_line_bytes))
            carry, skipping = b"", True
    if carry:
        yield from _batch(carry, number, max_line_bytes, issues, screen, taker)


def _oversized(number: int, max_line_bytes: int) -> ReadIssue:
    return ReadIssue(kind="oversized_line", line=number,
                     message=f"line is longer than dataset max_line_bytes={max_line_bytes}; skipped")


def _batch(data: bytes, number: int, max_line_bytes: int, issues: list[ReadIssue],
           screen: Screen | None, taker: Taker | None = None) -> Iterator[tuple[int, str, bool]]:
    """The lines of ``data`` (whole lines; the last may lack its newline), numbered after ``number``."""
    if not data:
        return
    text: str | None = None
    valid: bool | None = None
    if len(data) <= max_line_bytes:  # no line of it can be oversized: decode the batch at once
        try:
            text = data.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            text, valid = None, False
    flags = screen(data, valid) if screen is not None else None
    if text is None:
        raws = data.split(b"\n")
        if data.endswith(b"\n"):
            raws.pop()
        for i, raw in enumerate(raws):
            number += 1
            if len(raw) > max_line_bytes:
                issues.append(_oversized(number, max_line_bytes))
                continue
            yield number, _decode(raw, number, issues), flags is None or bool(flags[i])
        return
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    odd = "\x00" in text or "\ufeff" in text or "\r" in text
    offset = 0
    for i, line in enumerate(lines):
        if taker is not None and taker.ready and not odd:
            block = taker.take(lines[i:], data[offset:], number, None if flags is None else flags[i:])
            if block is not None:
                yield number + len(lines) - i, block, True  # type: ignore[misc]  # documented: a block, not text
                return
            taker = None  # declined: the rest of this batch goes line by line
        number += 1
        if odd or number == 1:
            line = _checked(line.rstrip("\r"), number, issues)
        if taker is not None:
            offset += len(line.encode("utf-8")) + 1  # only while the head is read: a few hundred lines
        yield number, line, flags is None or bool(flags[i])


def _decode(raw: bytes, number: int, issues: list[ReadIssue]) -> str:
    raw = raw.rstrip(b"\r")
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = raw[:exc.start].decode("utf-8", "replace")
        col = utf16_len(good) + 1
        issues.append(ReadIssue(kind="invalid_utf8", line=number, column=col, end_column=col + 1,
                                message=f"invalid UTF-8 byte 0x{raw[exc.start]:02x} at byte {exc.start} "
                                        "of the line"))
        text = raw.decode("utf-8", "replace")
    return _checked(text, number, issues, bom_dropped=True)


def _checked(text: str, number: int, issues: list[ReadIssue], bom_dropped: bool = False) -> str:
    """One leading BOM on line 1 dropped; NULs replaced and reported; other BOMs reported."""
    if number == 1 and not bom_dropped and text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        pos = text.index("\x00")
        col = utf16_len(text[:pos]) + 1
        issues.append(ReadIssue(kind="nul_byte", line=number, column=col, end_column=col + 1,
                                message=f"{text.count(chr(0))} NUL byte(s) in the line"))
        text = text.replace("\x00", "\ufffd")
    if "\ufeff" in text:
        pos = text.index("\ufeff")
        col = utf16_len(text[:pos]) + 1
        issues.append(ReadIssue(kind="bom", line=number, column=col, end_column=col + 1,
                                message="byte-order mark (U+FEFF) in the middle of the file, e.g. from "
                                        "concatenated files"))
    return text
