"""A bounded FlatBuffers reader over a Source: root table, vtables, scalars, strings and vectors, every offset checked.

FlatBuffers are read in place through offsets; a hostile file can point anywhere, loop, or claim huge vectors. Every
offset here is checked against the file size before it is followed, vector lengths against what the file can hold
and a caller's cap, and reads go through a small page cache so repeated small reads are not charged twice.
"""

from __future__ import annotations

import struct

from aisec.analyzers.base import AnalyzerError
from aisec.source import Source

PAGE = 16 * 1024
"""Bytes read at once; tables, vtables and strings of one object usually share a page."""
MAX_CACHED_PAGES = 256


class FlatBufferError(AnalyzerError):
    """An offset, a vtable or a length points outside the buffer."""


class FlatBuffer:
    """Random access to one flatbuffer (``what`` names the format in error messages)."""

    def __init__(self, source: Source, *, what: str, base: int = 0, size: int | None = None) -> None:
        self._source = source
        self.what = what
        self.base = base
        self.size = (source.size - base) if size is None else size
        self._pages: dict[int, bytes] = {}

    def bytes_at(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` (relative to the buffer's base), or an error if they are not all there."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise FlatBufferError(f"{self.what}: offset {offset}+{length} lies outside the {self.size}-byte buffer")
        out = bytearray()
        position = offset
        while len(out) < length:
            page_no = (self.base + position) // PAGE
            page = self._pages.get(page_no)
            if page is None:
                if len(self._pages) >= MAX_CACHED_PAGES:
                    self._pages.clear()
                page = self._source.read_at(page_no * PAGE, PAGE)
                self._pages[page_no] = page
            start = self.base + position - page_no * PAGE
            chunk = page[start:start + length - len(out)]
            if not chunk:
                raise FlatBufferError(f"{self.what}: the file ends before offset {position}")
            out += chunk
            position += len(chunk)
        return bytes(out)

    def _unpack(self, fmt: str, offset: int) -> int:
        value: int = struct.unpack(fmt, self.bytes_at(offset, struct.calcsize(fmt)))[0]
        return value

    def u32(self, offset: int) -> int:
        """An unsigned 32-bit little-endian integer (a ``uoffset_t``)."""
        return self._unpack("<I", offset)

    def root(self) -> int:
        """The root table's position."""
        return self._follow(0)

    def _follow(self, position: int) -> int:
        target = position + self.u32(position)
        if target >= self.size:
            raise FlatBufferError(f"{self.what}: offset at {position} points past the end ({target})")
        return target

    def field(self, table: int, index: int) -> int | None:
        """Where field ``index`` of the table at ``table`` is stored, or None when it is absent (default)."""
        vtable = table - self._unpack("<i", table)
        vtable_size = self._unpack("<H", vtable)
        table_size = self._unpack("<H", vtable + 2)
        if vtable_size < 4 or vtable_size % 2 or table_size < 4:
            raise FlatBufferError(f"{self.what}: vtable at {vtable} has impossible sizes {vtable_size}/{table_size}")
        slot = 4 + 2 * index
        if slot + 2 > vtable_size:
            return None
        offset = self._unpack("<H", vtable + slot)
        if offset == 0:
            return None
        if offset >= table_size:
            raise FlatBufferError(f"{self.what}: field {index} at {offset} lies outside its {table_size}-byte table")
        return table + offset

    def scalar(self, table: int, index: int, fmt: str, default: int) -> int:
        """A scalar field (``fmt`` a struct format such as ``<b``, ``<i``, ``<I``) or its schema default."""
        position = self.field(table, index)
        return default if position is None else self._unpack(fmt, position)

    def table(self, table: int, index: int) -> int | None:
        """The sub-table a field points to, or None."""
        position = self.field(table, index)
        return None if position is None else self._follow(position)

    def vector(self, table: int, index: int, *, element_size: int, cap: int) -> tuple[int, int] | None:
        """(first element position, length) of a vector field, or None; longer than ``cap`` is an error."""
        position = self.field(table, index)
        if position is None:
            return None
        start = self._follow(position)
        length = self.u32(start)
        if length > cap:
            raise FlatBufferError(f"{self.what}: a vector of {length} elements exceeds the cap of {cap}")
        if start + 4 + length * element_size > self.size:
            raise FlatBufferError(f"{self.what}: a vector of {length} elements runs past the end of the file")
        return start + 4, length

    def tables(self, table: int, index: int, *, cap: int) -> list[int]:
        """The tables of a vector-of-tables field (empty when absent)."""
        found = self.vector(table, index, element_size=4, cap=cap)
        if found is None:
            return []
        start, length = found
        return [self._follow(start + 4 * i) for i in range(length)]

    def string(self, table: int, index: int, *, cap: int = 4096) -> str | None:
        """A string field (at most ``cap`` bytes are read; longer strings are cut), or None."""
        found = self.vector(table, index, element_size=1, cap=1 << 31)
        if found is None:
            return None
        start, length = found
        return self.bytes_at(start, min(length, cap)).decode("utf-8", "replace")
