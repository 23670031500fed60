"""A small, bounded protobuf wire-format reader (varints, length-delimited fields) with no schema library."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple, Union, overload

from aisec.errors import ArtifactError

if TYPE_CHECKING:
    from aisec.source import Source

VARINT, FIXED64, LEN, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
MAX_VARINT_BYTES = 10
MAX_DEPTH = 64
"""Deepest message nesting any caller may walk (protobuf's own default recursion limit is 100)."""


Buffer = Union[bytes, memoryview, "LazyBytes"]
"""Anything indexable like bytes: in-memory data or a lazily read source."""


class ProtobufError(ArtifactError):
    """The bytes are not a well-formed protobuf message."""


class Field(NamedTuple):
    """One decoded field: its number, wire type, and either an integer or a byte range of ``data``.

    A named tuple rather than a dataclass: graphs have millions of fields and construction cost dominates.
    """

    number: int
    wire_type: int
    offset: int
    """Offset of the field's tag in the buffer."""
    value: int = 0
    """Varint or fixed value (wire types 0, 1, 5)."""
    start: int = 0
    end: int = 0
    """Payload range in the buffer (wire type 2)."""


def read_varint(data: Buffer, pos: int, end: int) -> tuple[int, int]:
    """Decode a varint at ``pos``; return (value, next position)."""
    if pos < end:
        first = data[pos]
        if first < 0x80:  # the common one-byte case, without the loop
            return first, pos + 1
    result = 0
    shift = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= end:
            raise ProtobufError(f"varint at byte {pos} runs past the end of its message")
        byte = data[pos + i]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos + i + 1
        shift += 7
    raise ProtobufError(f"varint at byte {pos} is longer than {MAX_VARINT_BYTES} bytes")


def iter_fields(data: Buffer, start: int = 0, end: int | None = None) -> Iterator[Field]:
    """Yield the fields of the message in ``data[start:end]``; groups are rejected, lengths are checked."""
    stop = len(data) if end is None else end
    if stop > len(data):
        raise ProtobufError("message range runs past the end of the data")
    pos = start
    while pos < stop:
        tag_at = pos
        tag, pos = read_varint(data, pos, stop)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ProtobufError(f"field number 0 at byte {tag_at}")
        if wire == VARINT:
            value, pos = read_varint(data, pos, stop)
            yield Field(number=number, wire_type=wire, offset=tag_at, value=value)
        elif wire == LEN:
            length, pos = read_varint(data, pos, stop)
            if length > stop - pos:
                raise ProtobufError(f"field {number} at byte {tag_at} declares {length} bytes but only "
                                    f"{stop - pos} remain")
            yield Field(number=number, wire_type=wire, offset=tag_at, start=pos, end=pos + length)
            pos += length
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            if pos + size > stop:
                raise ProtobufError(f"fixed field {number} at byte {tag_at} runs past the end")
            value = int.from_bytes(bytes(data[pos:pos + size]), "little")
            yield Field(number=number, wire_type=wire, offset=tag_at, value=value)
            pos += size
        else:
            raise ProtobufError(f"unsupported wire type {wire} (field {number}) at byte {tag_at}")


def text(data: Buffer, item: Field, limit: int = 4096) -> str:
    """A length-delimited field as text (invalid UTF-8 replaced, clipped to ``limit`` characters)."""
    if item.wire_type != LEN:
        raise ProtobufError(f"field {item.number} at byte {item.offset} should be length-delimited")
    return bytes(data[item.start:min(item.end, item.start + limit)]).decode("utf-8", "replace")


def packed_varints(data: Buffer, item: Field) -> list[int]:
    """Values of a repeated integer field, packed (LEN) or a single unpacked varint."""
    if item.wire_type == VARINT:
        return [item.value]
    if item.wire_type != LEN:
        raise ProtobufError(f"field {item.number} at byte {item.offset} is not an integer field")
    out = []
    pos = item.start
    while pos < item.end:
        value, pos = read_varint(data, pos, item.end)
        out.append(value)
    return out


def signed64(value: int) -> int:
    """Reinterpret a varint as a two's complement int64."""
    return value - (1 << 64) if value >= 1 << 63 else value


def check_depth(depth: int) -> None:
    """Refuse hostile nesting before recursing deeper."""
    if depth > MAX_DEPTH:
        raise ProtobufError(f"messages nested deeper than {MAX_DEPTH} levels")


def top_level_shape(head: bytes) -> list[tuple[int, int]] | None:
    """(field number, wire type) of the leading top-level fields of ``head``, or None if it is not protobuf.

    The last field may be cut by the end of ``head`` (a sniff window); anything else malformed means None.
    """
    shape: list[tuple[int, int]] = []
    pos = 0
    end = len(head)
    while pos < end and len(shape) < 64:
        try:
            tag, after = read_varint(head, pos, end)
        except ProtobufError:
            return shape or None
        number, wire = tag >> 3, tag & 7
        if number == 0 or number > 10_000 or wire not in (VARINT, FIXED64, LEN, FIXED32):
            return None
        shape.append((number, wire))
        try:
            if wire == VARINT:
                _, pos = read_varint(head, after, end)
            elif wire == LEN:
                length, pos = read_varint(head, after, end)
                pos += length
            else:
                pos = after + (8 if wire == FIXED64 else 4)
        except ProtobufError:
            return shape
    return shape


_ONNX_MODEL_FIELDS = {1: VARINT, 2: LEN, 3: LEN, 4: LEN, 5: VARINT, 6: LEN, 7: LEN, 8: LEN, 14: LEN, 20: LEN,
                      25: LEN}


def classify(head: bytes) -> str | None:
    """Tell ONNX ModelProto, TF SavedModel and TF GraphDef apart by structure: an ArtifactKind value or None."""
    if head[:1] not in (b"\x08", b"\x0a", b"\x12", b"\x18", b"\x22"):
        return None
    shape = top_level_shape(head)
    if not shape:
        return None
    numbers = {n for n, _ in shape}
    if shape[0] == (2, LEN):
        # A SavedModel whose schema version is 0 (omitted, as proto3 does for zero): meta_graphs first.
        if numbers <= {1, 2} and _submessage_ok(head, 2, {1, 2, 3, 4, 5, 6, 7, 8, 9}):
            return "tf_savedmodel"
        # Or a GraphDef whose function library (2) was written before its nodes.
        if all(_GRAPH_DEF_FIELDS.get(n) == w for n, w in shape) and _graph_def_nodes(head):
            return "protobuf"
        return None
    if shape[0] == (1, VARINT):
        if head[:1] == b"\x08" and is_onnx_tensor(head):
            return None  # dims first, like a ModelProto's ir_version: a tensor, not a model
        if numbers <= {1, 2} and (2, LEN) in shape and _submessage_ok(head, 2, {1, 2, 3, 4, 5, 6, 7, 8, 9}):
            return "tf_savedmodel"
        if all(_ONNX_MODEL_FIELDS.get(n) == w for n, w in shape) and numbers & {7, 8}:
            return "onnx"
        return None
    # A GraphDef starts with a newline byte (tag of field 1): demand a control byte text would not contain,
    # or, for a small graph whose bytes happen to be printable, structure all the way down.
    binary = any(b < 0x20 and b not in (0x09, 0x0A, 0x0D) for b in head[:256])
    if shape[0] == (1, LEN) and numbers <= {1, 2, 3, 4} and \
            _submessage_ok(head, 1, {1, 2, 3, 4, 5, 6, 7}) and (binary or _graph_def_nodes(head)):
        return "protobuf"
    # Parsers take fields in any order: versions (4) or version (3) first is still a GraphDef.
    if shape[0] in ((3, VARINT), (4, LEN)) and all(_GRAPH_DEF_FIELDS.get(n) == w for n, w in shape) and \
            _graph_def_nodes(head):
        return "protobuf"
    return None


_GRAPH_DEF_FIELDS = {1: LEN, 2: LEN, 3: VARINT, 4: LEN}


def _graph_def_nodes(head: bytes) -> bool:
    """The whole fields of ``head`` hold at least one node, and every node has a name and an identifier op."""
    complete = head[:_complete_prefix(head)]
    try:
        nodes = [f for f in iter_fields(complete) if f.number == 1 and f.wire_type == LEN]
        for node in nodes:
            fields = {f.number: f for f in iter_fields(complete, node.start, node.end)}
            op = fields.get(2)
            if 1 not in fields or op is None or op.wire_type != LEN or \
                    not _OP_NAME.fullmatch(bytes(complete[op.start:op.end])):
                return False
    except ProtobufError:
        return False
    return bool(nodes)


_OP_NAME = re.compile(rb"[A-Z][A-Za-z0-9_>]{0,127}")
"""TensorFlow op names (``REGISTER_OP``): a capital, then letters, digits, underscores (``_Send`` aside)."""


def is_onnx_tensor(data: bytes) -> bool:
    """The whole of ``data`` is an ONNX TensorProto (dims, data_type, name, raw_data …, fields 1-14), as the ONNX
    test suites and external-data exports write them; such a file is data, however printable its bytes are."""
    try:
        fields = list(iter_fields(data))
    except ProtobufError:
        return False
    numbers = {f.number for f in fields}
    data_type = [f for f in fields if f.number == 2]
    return bool(fields) and numbers <= set(range(1, 15)) and len(data_type) == 1 and \
        data_type[0].wire_type == VARINT and 1 <= data_type[0].value <= 23 and \
        all(f.wire_type in (VARINT, LEN) for f in fields if f.number in (1, 2, 8, 9)) and \
        bool(numbers & {4, 5, 6, 7, 9, 10, 11, 13})


def _submessage_ok(head: bytes, number: int, allowed: set[int]) -> bool:
    """The first field ``number`` holds a message whose leading fields are all in ``allowed``."""
    try:
        for item in iter_fields(head[:_complete_prefix(head)]):
            if item.number == number and item.wire_type == LEN:
                inner = top_level_shape(head[item.start:item.end])
                return bool(inner) and all(n in allowed for n, _ in inner or ())
    except ProtobufError:
        return False
    # The first such field was cut by the sniff window: judge what is visible of it.
    for item_number, start in _open_fields(head):
        if item_number == number:
            inner = top_level_shape(head[start:])
            return bool(inner) and all(n in allowed for n, _ in inner or ())
    return False


def _complete_prefix(head: bytes) -> int:
    """Length of the longest prefix of ``head`` made of whole top-level fields."""
    pos = 0
    end = len(head)
    while pos < end:
        try:
            tag, after = read_varint(head, pos, end)
            wire = tag & 7
            if wire == VARINT:
                _, nxt = read_varint(head, after, end)
            elif wire == LEN:
                length, nxt = read_varint(head, after, end)
                nxt += length
            elif wire in (FIXED64, FIXED32):
                nxt = after + (8 if wire == FIXED64 else 4)
            else:
                return pos
        except ProtobufError:
            return pos
        if nxt > end:
            return pos
        pos = nxt
    return pos


def _open_fields(head: bytes) -> list[tuple[int, int]]:
    """The LEN field cut by the end of ``head``, as (number, payload start)."""
    pos = _complete_prefix(head)
    try:
        tag, after = read_varint(head, pos, len(head))
        if tag & 7 == LEN:
            _, start = read_varint(head, after, len(head))
            return [(tag >> 3, start)]
    except ProtobufError:
        pass
    return []


class LazyBytes:
    """Byte-indexable view of a :class:`~aisec.source.Source` that reads windows on demand.

    The wire reader only touches tags, lengths and the small fields it decodes, so large payloads (tensor
    ``raw_data``, constant tensors) are skipped without being read: a 2 GB ONNX model costs its metadata.
    """

    def __init__(self, source: Source, window: int = 16 * 1024) -> None:
        self._source = source
        self._window = window
        self._start = 0
        self._data = b""

    def __len__(self) -> int:
        return self._source.size

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> bytes: ...

    def __getitem__(self, index: int | slice) -> int | bytes:
        if isinstance(index, slice):
            start, stop, _ = index.indices(self._source.size)
            if stop <= start:
                return b""
            if self._start <= start and stop <= self._start + len(self._data):
                return self._data[start - self._start:stop - self._start]
            return self._source.read_at(start, stop - start)
        if not self._start <= index < self._start + len(self._data):
            if not 0 <= index < self._source.size:
                raise IndexError(index)
            self._start = index
            self._data = self._source.read_at(index, self._window)
        return self._data[index - self._start]


IN_MEMORY_BYTES = 32 * 1024 * 1024
"""Messages up to this size are read whole (faster indexing); larger ones lazily, skipping big payloads."""


def load(source: Source) -> Buffer:
    """The message bytes of ``source``: in memory when small, else a :class:`LazyBytes` view."""
    if source.size <= IN_MEMORY_BYTES:
        return source.read_at(0, source.size)
    return LazyBytes(source)
