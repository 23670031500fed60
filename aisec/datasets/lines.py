"""Bounded physical-line reading with UTF-8 validation: bad bytes, NULs and stray BOMs become issues."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import BinaryIO

from aisec.datasets.records import ReadIssue, utf16_len

_CHUNK = 1024 * 1024


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


def physical_lines(reader: HashingReader, *, max_line_bytes: int, issues: list[ReadIssue]) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, decoded text)`` without the terminator; one leading BOM is dropped silently.

    Invalid UTF-8 is decoded with U+FFFD and reported; NUL bytes become U+FFFD (same length, so columns
    stay right) and are reported; a BOM after the first position is reported and kept.
    """
    number = 0
    while True:
        raw = reader.readline(max_line_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            issues.append(ReadIssue(kind="oversized_line", line=number,
                                    message=f"line is longer than dataset max_line_bytes={max_line_bytes}; skipped"))
            while raw and not raw.endswith(b"\n"):
                raw = reader.readline(_CHUNK)
            continue
        raw = raw.rstrip(b"\n").rstrip(b"\r")
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
        yield number, text
