"""A bounded Universal Binary JSON reader (the draft-12 subset xgboost writes), building plain data only.

xgboost's ``.ubj`` models use ``{``/``[`` containers, the optimised ``$type#count`` form for numeric arrays and
big-endian integers and floats. Numeric typed arrays are skipped, not decoded (a model holds millions of
floats and none of them can carry code); every length is checked against the bytes that remain.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from aisec.analyzers.base import AnalyzerError

_INTS = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q"}
_FLOATS = {b"d": ">f", b"D": ">d"}
_FIXED = {**_INTS, **_FLOATS, b"C": ">c"}


@dataclass(frozen=True, kw_only=True)
class TypedArray:
    """An optimised numeric array, skipped without decoding: its element marker and count."""

    marker: str
    count: int


class _Reader:
    def __init__(self, data: bytes, *, max_depth: int, max_items: int) -> None:
        self.data = data
        self.pos = 0
        self.max_depth = max_depth
        self.items_left = max_items

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise AnalyzerError(f"UBJSON value at offset {self.pos} runs past the end of the file")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def marker(self) -> bytes:
        while True:
            byte = self.take(1)
            if byte != b"N":  # no-op padding
                return byte

    def count(self) -> int:
        marker = self.take(1)
        fmt = _INTS.get(marker)
        if fmt is None:
            raise AnalyzerError(f"UBJSON length at offset {self.pos - 1} has non-integer type {marker!r}")
        (value,) = struct.unpack(fmt, self.take(struct.calcsize(fmt)))
        if value < 0 or value > len(self.data):  # no count exceeds the file (items are capped separately)
            raise AnalyzerError(f"UBJSON length {value} at offset {self.pos} is larger than the file")
        return int(value)

    def spend(self, n: int) -> None:
        self.items_left -= n
        if self.items_left < 0:
            raise AnalyzerError("UBJSON document has more items than the reader's cap")

    def value(self, marker: bytes, depth: int) -> object:
        if marker in _FIXED:
            fmt = _FIXED[marker]
            return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        if marker in (b"S", b"H"):
            return self.take(self.count()).decode("utf-8", "replace")
        if marker == b"Z":
            return None
        if marker in (b"T", b"F"):
            return marker == b"T"
        if marker in (b"[", b"{"):
            if depth >= self.max_depth:
                raise AnalyzerError(f"UBJSON nested deeper than max_json_depth={self.max_depth}")
            return self.container(marker, depth + 1)
        raise AnalyzerError(f"unknown UBJSON type marker {marker!r} at offset {self.pos - 1}")

    def container(self, opener: bytes, depth: int) -> object:
        element: bytes | None = None
        size: int | None = None
        peek = self.data[self.pos:self.pos + 1]
        if peek == b"$":
            self.take(1)
            element = self.take(1)
            if self.take(1) != b"#":
                raise AnalyzerError(f"UBJSON typed container at offset {self.pos} has no count")
            size = self.count()
        elif peek == b"#":
            self.take(1)
            size = self.count()
        if size is not None:
            self.spend(size)
        if opener == b"[":
            return self.array(element, size, depth)
        return self.object(element, size, depth)

    def array(self, element: bytes | None, size: int | None, depth: int) -> object:
        if element is not None and size is not None and element in _FIXED:
            width = struct.calcsize(_FIXED[element])
            if element == b"U":
                return self.take(size)  # uint8 arrays are byte strings (where a payload would hide)
            self.take(width * size)
            return TypedArray(marker=element.decode(), count=size)
        out: list[object] = []
        while size is None or len(out) < size:
            marker = element if element is not None else self.marker()
            if size is None and marker == b"]":
                break
            if size is None:
                self.spend(1)
            out.append(self.value(marker, depth))
        return out

    def object(self, element: bytes | None, size: int | None, depth: int) -> dict[str, object]:
        out: dict[str, object] = {}
        read = 0
        while size is None or read < size:
            if size is None:
                if self.data[self.pos:self.pos + 1] == b"}":
                    self.take(1)
                    break
                self.spend(1)
            key = self.take(self.count()).decode("utf-8", "replace")
            marker = element if element is not None else self.marker()
            out[key] = self.value(marker, depth)
            read += 1
        return out


def read_document(data: bytes, *, max_depth: int, max_items: int) -> tuple[object, int]:
    """The first UBJSON value in ``data`` and the offset just past it; :class:`AnalyzerError` when malformed."""
    reader = _Reader(data, max_depth=max_depth, max_items=max_items)
    try:
        value = reader.value(reader.marker(), 0)
    except RecursionError:
        raise AnalyzerError("UBJSON nested too deeply to read") from None
    return value, reader.pos
