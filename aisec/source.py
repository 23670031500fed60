"""Bounded, random-access byte sources for analyzers: a file on disk or bytes of an archive member."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

from aisec.errors import LimitExceeded


class Source:
    """Read-only bytes of one artifact or member; every read is bounded by ``budget``."""

    def __init__(self, *, size: int, budget: int) -> None:
        self.size = size
        self._budget = budget
        self.bytes_read = 0

    def _charge(self, n: int) -> None:
        self.bytes_read += n
        if self.bytes_read > self._budget:
            raise LimitExceeded("max_read_bytes", self._budget,
                                f"read more than max_read_bytes={self._budget} from one artifact")

    def read_at(self, offset: int, length: int) -> bytes:
        """Read up to ``length`` bytes at ``offset`` (short at end of data)."""
        raise NotImplementedError

    def head(self, length: int) -> bytes:
        """The first ``length`` bytes."""
        return self.read_at(0, length)

    def stream(self) -> BinaryIO:
        """A buffered sequential reader from offset 0 whose reads are charged to the budget."""
        return buffered(self)


class FileSource(Source):
    """A file on disk, read with positional reads (never loaded whole)."""

    def __init__(self, path: Path, *, budget: int) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        super().__init__(size=os.fstat(self._fd).st_size, budget=budget)

    def read_at(self, offset: int, length: int) -> bytes:
        """Positional read, charged to the budget."""
        length = max(0, min(length, self.size - offset))
        self._charge(length)
        return os.pread(self._fd, length, offset) if length else b""

    def close(self) -> None:
        """Release the file descriptor."""
        os.close(self._fd)

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BytesSource(Source):
    """Bytes already in memory (a decompressed archive member)."""

    def __init__(self, data: bytes, *, budget: int) -> None:
        self._data = data
        super().__init__(size=len(data), budget=budget)

    def read_at(self, offset: int, length: int) -> bytes:
        """Slice, charged to the budget."""
        chunk = self._data[offset:offset + max(0, length)]
        self._charge(len(chunk))
        return chunk


class _BudgetStream(io.RawIOBase):
    """Sequential file-like view over a :class:`Source`."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._source.read_at(self._pos, len(buffer))
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._source.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos


def buffered(source: Source, size: int = 256 * 1024) -> BinaryIO:
    """A buffered sequential reader over ``source``."""
    return io.BufferedReader(_BudgetStream(source), buffer_size=size)  # type: ignore[return-value]
