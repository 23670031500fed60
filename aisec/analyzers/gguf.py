"""GGUF analyzer: parses the metadata header with every length checked, and analyzes embedded chat templates."""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.gguf_layout import DEFAULT_ALIGNMENT, LAYOUT_FACTS, TensorInfo, layout_facts
from aisec.analyzers.jinja_template import TEMPLATE_FACTS, template_facts
from aisec.errors import ArtifactError, LimitExceeded
from aisec.model import ArtifactKind, Fact
from aisec.source import Source

_SCALARS: Mapping[int, str] = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
                               12: "d"}
_STRING, _ARRAY = 8, 9
MAX_DIMS = 8
"""GGML supports 4 dimensions; more than this is certainly malformed."""
MIN_TENSOR_INFO = 8 + 4 + 4 + 8
"""Smallest possible tensor-info record (empty name, zero dims)."""
_ALIGNMENT_KEY = "general.alignment"
_INT_TYPES = frozenset({0, 1, 2, 3, 4, 5, 10, 11})


class GGUFError(ArtifactError):
    """The GGUF header is malformed or truncated."""


@dataclass
class _Reader:
    """Sequential reads from a bounded window of the source, every length checked before reading."""

    source: Source
    order: str
    end: int
    pos: int = 0
    wide: bool = True
    """Lengths and counts are 64-bit (v2+); v1 used 32-bit ones."""

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            if self.pos + n > self.source.size:
                raise GGUFError(f"{what} at byte {self.pos} needs {n} bytes; the file ends at {self.source.size}")
            raise LimitExceeded("max_header_bytes", self.end, f"GGUF header is larger than max_header_bytes="
                                f"{self.end} ({what} at byte {self.pos})")
        data = self.source.read_at(self.pos, n)
        self.pos += n
        return data

    def scalar(self, code: str, what: str) -> int | float | bool:
        size = struct.calcsize(code)
        value: int | float | bool = struct.unpack(self.order + code, self.take(size, what))[0]
        return value

    def u64(self, what: str) -> int:
        return int(self.scalar("Q", what))

    def u32(self, what: str) -> int:
        return int(self.scalar("I", what))

    def length(self, what: str) -> int:
        return self.u64(what) if self.wide else self.u32(what)

    def string(self, what: str) -> bytes:
        length = self.length(f"{what} length")
        return self.take(length, what)

    def skip(self, n: int, what: str) -> None:
        if self.pos + n > min(self.end, self.source.size):
            self.take(n, what)  # raises the right error without reading
        self.pos += n


class GGUFAnalyzer:
    """Parses GGUF v1-v3 (either byte order) metadata and tensor infos; reports chat templates, header anomalies
    and bytes of the data section that no tensor accounts for."""

    name = "gguf"
    kinds = frozenset({ArtifactKind.GGUF})
    provides: Mapping[str, str] = {
        **TEMPLATE_FACTS,
        **LAYOUT_FACTS,
        "gguf.version": "the GGUF format version",
        "gguf.byte_order": "byte order of the GGUF file (little or big)",
        "gguf.tensor_count": "number of tensors the header declares",
        "gguf.kv_count": "number of metadata key/value pairs the header declares",
        "gguf.architecture": "general.architecture from the metadata",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Walk the header; strings, arrays and counts are checked against the file size before reading."""
        head = source.read_at(0, 24)
        if len(head) < 24 or head[:4] != b"GGUF":
            raise GGUFError("truncated GGUF header (needs at least 24 bytes)")
        (version,) = struct.unpack("<I", head[4:8])
        order = "<"
        if version > 0xFFFF and struct.unpack(">I", head[4:8])[0] <= 0xFFFF:
            order = ">"
            (version,) = struct.unpack(">I", head[4:8])
        if version not in (1, 2, 3):
            raise GGUFError(f"unsupported GGUF version {version}")
        yield context.fact("gguf.version", version)
        yield context.fact("gguf.byte_order", "little" if order == "<" else "big")
        reader = _Reader(source=source, order=order, end=min(source.size, context.limits.max_header_bytes), pos=8)
        reader.wide = version > 1
        tensors = reader.length("tensor count")
        kvs = reader.length("metadata count")
        yield context.fact("gguf.tensor_count", tensors)
        yield context.fact("gguf.kv_count", kvs)
        # Each KV needs at least a key length, a type and a 1-byte value; each tensor info 24 bytes.
        if kvs * 13 > source.size or tensors * MIN_TENSOR_INFO > source.size:
            raise GGUFError(f"header declares {kvs} metadata pairs and {tensors} tensors, more than a "
                            f"{source.size}-byte file can hold")
        alignment = [DEFAULT_ALIGNMENT]
        for _ in range(kvs):
            yield from self._pair(reader, context, alignment)
        infos = self._tensor_infos(reader, tensors)
        yield from layout_facts(source, context, infos, header_end=reader.pos, alignment=alignment[0])

    def _pair(self, reader: _Reader, context: AnalysisContext, alignment: list[int]) -> Iterator[Fact]:
        at = reader.pos
        key = reader.string("metadata key").decode("utf-8", "replace")
        vtype = reader.u32(f"type of {key!r}")
        if key == _ALIGNMENT_KEY:
            # The data section starts at this alignment: it decides which bytes are padding.
            if vtype not in _INT_TYPES:
                raise GGUFError(f"{_ALIGNMENT_KEY} has value type {vtype}, not an integer")
            alignment[0] = int(reader.scalar(_SCALARS[vtype], f"value of {key!r}"))
            return
        if vtype == _STRING and (key == "general.architecture" or _is_template_key(key)):
            text = reader.string(f"value of {key!r}").decode("utf-8", "replace")
            if key == "general.architecture":
                yield context.fact("gguf.architecture", text[:200], location=context.at(offset=at, pointer=key))
            else:
                yield from template_facts(text, context, source=key, location=context.at(offset=at, pointer=key))
            return
        self._skip_value(reader, vtype, key, depth=0)

    def _skip_value(self, reader: _Reader, vtype: int, key: str, depth: int) -> None:
        if vtype in _SCALARS:
            reader.skip(struct.calcsize(_SCALARS[vtype]), f"value of {key!r}")
        elif vtype == _STRING:
            length = reader.length(f"string length in {key!r}")
            reader.skip(length, f"string in {key!r}")
        elif vtype == _ARRAY:
            if depth > 4:
                raise GGUFError(f"arrays nested too deeply in {key!r}")
            item_type = reader.u32(f"array type of {key!r}")
            n = reader.length(f"array length of {key!r}")
            if item_type in _SCALARS:
                reader.skip(n * struct.calcsize(_SCALARS[item_type]), f"array {key!r}")
            elif item_type in (_STRING, _ARRAY):
                if n * 8 > reader.source.size - reader.pos:
                    raise GGUFError(f"array {key!r} declares {n} items, more than the file can hold")
                for _ in range(n):
                    self._skip_value(reader, item_type, key, depth + 1)
            else:
                raise GGUFError(f"unknown array item type {item_type} in {key!r}")
        else:
            raise GGUFError(f"unknown value type {vtype} for {key!r}")

    def _tensor_infos(self, reader: _Reader, tensors: int) -> list[TensorInfo]:
        infos: list[TensorInfo] = []
        for i in range(tensors):
            name = reader.string(f"name of tensor {i}").decode("utf-8", "replace")
            dims = reader.u32(f"dimension count of tensor {i}")
            if dims > MAX_DIMS:
                raise GGUFError(f"tensor {i} declares {dims} dimensions")
            elements = 1
            for d in range(dims):
                # v1 stored dimensions as 32-bit, like its other lengths; a product past 2**64 fits no file.
                elements = min(elements * reader.length(f"dimension {d} of tensor {i}"), 1 << 64)
            type_id = reader.u32(f"type of tensor {i}")
            infos.append(TensorInfo(name=name, elements=elements, type_id=type_id,
                                    offset=reader.u64(f"offset of tensor {i}")))
        return infos


def _is_template_key(key: str) -> bool:
    return key == "tokenizer.chat_template" or key.startswith("tokenizer.chat_template.")
