"""Flax/JAX msgpack checkpoints (``flax.serialization.to_bytes``, Orbax's ``checkpoint`` file): a bounded walk.

flax encodes arrays as msgpack extension types 1 (ndarray), 2 (native complex) and 3 (numpy scalar); its
``ext_hook`` rebuilds those and passes any other extension through. Another extension code means a writer other
than flax (or a reader with its own hook) is expected, and a pickle inside a string or binary value is a payload
waiting for a ``pickle.loads``: it is analysed as a nested pickle.

Why a hand-written walker and not ``msgpack.Unpacker``: the walker reads only type headers and skips payloads by
their length (a 10 GB checkpoint costs a few reads per tensor, not 10 GB of objects), never builds an object, has
no hook to get wrong, and bounds depth and item counts itself; msgpack's C unpacker would materialise every
binary value and every container before a limit could be checked.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.analyzers.members import SliceSource
from aisec.model import ArtifactKind, Fact
from aisec.sniff import sniff
from aisec.source import Source

FLAX_EXT_TYPES = frozenset({1, 2, 3})
"""flax.serialization._MsgpackExtType: ndarray, native_complex, npscalar."""
MAX_ITEMS = 5_000_000
"""msgpack values visited per file (a flax checkpoint has a few per tensor)."""
_WINDOW = 8 * 1024
"""Bytes read ahead per refill: enough for many small headers, little waste when a tensor payload is skipped."""
_NAMES = (".msgpack", "/checkpoint")
"""Names that claim msgpack: a file so named that does not parse is not fully scanned."""
_SNIFF = 4096
"""Leading bytes of a string or binary value sniffed for a pickle (protocol 0/1 pickles are text)."""
_MAPS = frozenset({*range(0x80, 0x90), 0xDE, 0xDF})


class MsgpackError(AnalyzerError):
    """The bytes are not well-formed msgpack."""


@dataclass
class _Reader:
    """Buffered reads over a source (headers are tiny; payloads are skipped, never read)."""

    source: Source
    pos: int = 0
    base: int = 0
    buffer: bytes = b""

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > self.source.size:
            raise MsgpackError(f"msgpack value at byte {self.pos} runs past the end of the file")
        if not (self.base <= self.pos and end <= self.base + len(self.buffer)):
            self.base = self.pos
            self.buffer = self.source.read_at(self.pos, max(n, min(_WINDOW, self.source.size - self.pos)))
        data = self.buffer[self.pos - self.base:end - self.base]
        self.pos = end
        return data

    def skip(self, n: int) -> int:
        start = self.pos
        if self.pos + n > self.source.size:
            raise MsgpackError(f"msgpack value at byte {self.pos} runs past the end of the file")
        self.pos += n
        return start


@dataclass
class _Walk:
    context: AnalysisContext
    ext_types: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Extension code -> (count, first offset)."""
    strings: list[tuple[int, int]] = field(default_factory=list)
    """(offset, length) of str/bin values that start like a pickle."""
    items: int = 0


_FIXED = {0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2,
          0xD2: 4, 0xD3: 8}
_LENGTHS = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}
_EXT_LENGTHS = {0xC7: 1, 0xC8: 2, 0xC9: 4}
_FIXEXT = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}
_SIZE = {1: ">B", 2: ">H", 4: ">I"}


def walk(source: Source, context: AnalysisContext) -> _Walk:
    """Walk one msgpack document that must fill the source exactly; raise :class:`MsgpackError` otherwise."""
    reader = _Reader(source)
    state = _Walk(context=context)
    pending = [1]  # values still to read at each open container level
    max_depth = context.limits.max_json_depth
    while pending:
        if pending[-1] == 0:
            pending.pop()
            continue
        pending[-1] -= 1
        state.items += 1
        if state.items > MAX_ITEMS:
            raise AnalyzerError(f"msgpack document has more than {MAX_ITEMS} values")
        marker = reader.take(1)[0]
        children = _value(marker, reader, state)
        if children:
            if len(pending) > max_depth:
                raise AnalyzerError(f"msgpack nested deeper than max_json_depth={max_depth}")
            pending.append(children)
    if reader.pos != source.size:
        raise MsgpackError(f"{source.size - reader.pos} bytes follow the msgpack document")
    return state


def _value(marker: int, reader: _Reader, state: _Walk) -> int:
    """Consume one value's header and payload; return how many child values follow (containers)."""
    if marker <= 0x7F or marker >= 0xE0:
        return 0
    if marker <= 0x8F:
        return 2 * (marker & 0x0F)
    if marker <= 0x9F:
        return marker & 0x0F
    if marker <= 0xBF:
        _string(reader, marker & 0x1F, state)
        return 0
    if marker in _FIXED:
        reader.skip(_FIXED[marker])
        return 0
    if marker in _LENGTHS:
        (length,) = struct.unpack(_SIZE[_LENGTHS[marker]], reader.take(_LENGTHS[marker]))
        _string(reader, length, state)
        return 0
    if marker in _EXT_LENGTHS:
        (length,) = struct.unpack(_SIZE[_EXT_LENGTHS[marker]], reader.take(_EXT_LENGTHS[marker]))
        _ext(reader, length, state)
        return 0
    if marker in _FIXEXT:
        _ext(reader, _FIXEXT[marker], state)
        return 0
    if marker in _CONTAINERS:
        width, per_entry = _CONTAINERS[marker]
        (count,) = struct.unpack(_SIZE[width], reader.take(width))
        return int(count) * per_entry
    raise MsgpackError(f"byte 0x{marker:02x} at {reader.pos - 1} is not a msgpack type")


def _string(reader: _Reader, length: int, state: _Walk) -> None:
    start = reader.skip(length)
    if length > 2 and sniff(reader.source.read_at(start, min(length, _SNIFF))) is ArtifactKind.PICKLE:
        state.strings.append((start, length))


def _ext(reader: _Reader, length: int, state: _Walk) -> None:
    (code,) = struct.unpack(">b", reader.take(1))
    start = reader.skip(length)
    count, first = state.ext_types.get(code, (0, start - 1))
    state.ext_types[code] = (count + 1, first)


def looks_like_msgpack(head: bytes) -> bool:
    """A top-level map whose first key is a string: how flax and Orbax write a state dict."""
    return len(head) >= 2 and head[0] in _MAPS and (0xA0 <= head[1] <= 0xBF or head[1] in (0xD9, 0xDA, 0x80))


class FlaxMsgpackAnalyzer:
    """Reports foreign msgpack extension types and pickles hidden in msgpack values (analysed as nested pickles)."""

    name = "flax_msgpack"
    kinds = frozenset({ArtifactKind.BINARY})
    provides: Mapping[str, str] = {
        "msgpack.document": "the artifact is a msgpack document (a flax/Orbax checkpoint); detail values",
        "msgpack.ext_type": "a msgpack extension type code used in the document (flax uses 1, 2, 3); detail count",
        "msgpack.pickle": "a msgpack string or binary value that is a pickle stream (analysed as a nested pickle)",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Files named ``*.msgpack`` or Orbax ``checkpoint``, and binaries that start like a msgpack state dict."""
        name = (context.member or context.path).rsplit("!/", 1)[-1].lower()
        claimed = name.endswith(_NAMES) or name == "checkpoint"
        if not claimed and not looks_like_msgpack(source.head(2)):
            return
        try:
            state = walk(source, context)
        except MsgpackError:
            if claimed:
                raise
            return  # bytes that merely start like a map: not msgpack
        yield context.fact("msgpack.document", "msgpack", values=state.items)
        for code, (count, offset) in sorted(state.ext_types.items()):
            yield context.fact("msgpack.ext_type", code, location=context.at(offset=offset), count=count)
        for offset, length in state.strings[:100]:
            yield context.fact("msgpack.pickle", f"{length} bytes", location=context.at(offset=offset))
            yield from context.analyze_member(f"<msgpack value at {offset}>", SliceSource(source, offset, length))
