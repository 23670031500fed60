"""safetensors analyzer: validates the JSON header against the file's byte ranges without reading tensor data."""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from typing import Any

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.unaccounted import UNACCOUNTED_FACTS, analyze_unaccounted
from aisec.errors import ArtifactError, LimitExceeded
from aisec.model import ArtifactKind, Fact, Location
from aisec.source import Source
from aisec.strictjson import DuplicateKeyError, strict_json

DTYPE_BITS: Mapping[str, int] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16,
    "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64, "F4": 4,
    "F6_E2M3": 6, "F6_E3M2": 6,
}
"""Element widths of the dtypes the safetensors format defines."""


class SafetensorsAnalyzer:
    """Checks length, JSON strictness, dtypes, shapes and offsets of a safetensors header."""

    name = "safetensors"
    kinds = frozenset({ArtifactKind.SAFETENSORS})
    provides: Mapping[str, str] = {
        "safetensors.header_invalid": "the safetensors header breaks the format (value is the reason code; "
                                      "detail 'message' explains)",
        "safetensors.unused_bytes": "bytes of the data section no tensor covers (gaps or trailing bytes)",
        "safetensors.tensor_count": "number of tensors the header declares",
        "safetensors.metadata": "a __metadata__ entry (key), for inventory",
        **UNACCOUNTED_FACTS,
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Validate the header; tensor data is never read, only the bytes no tensor accounts for are sniffed."""
        if source.size < 8:
            raise ArtifactError(f"safetensors file is {source.size} bytes, shorter than its 8-byte length field")
        (length,) = struct.unpack("<Q", source.read_at(0, 8))
        if length > source.size - 8:
            yield self._invalid(context, "header_length", f"header length {length} exceeds the file "
                                f"({source.size - 8} bytes after the length field)", offset=0)
            return
        if length > context.limits.max_header_bytes:
            raise LimitExceeded("max_header_bytes", context.limits.max_header_bytes,
                                f"safetensors header is {length} bytes, over max_header_bytes="
                                f"{context.limits.max_header_bytes}")
        raw = source.read_at(8, length)
        try:
            header = strict_json(raw.decode("utf-8"), context.limits.max_json_depth)
        except UnicodeDecodeError as exc:
            yield self._invalid(context, "header_encoding", f"header is not UTF-8 at byte {8 + exc.start}")
            return
        except DuplicateKeyError as exc:
            yield self._invalid(context, "duplicate_key", f"header JSON has a {exc}")
            return
        except ValueError as exc:
            yield self._invalid(context, "header_json", f"header is not valid strict JSON: {exc}")
            return
        if not isinstance(header, dict):
            yield self._invalid(context, "header_type", "header JSON is not an object")
            return
        yield from self._entries(header, source.size - 8 - length, 8 + length, context, source)

    def _entries(self, header: dict[str, Any], data_len: int, data_start: int,
                 context: AnalysisContext, source: Source) -> Iterator[Fact]:
        ranges: list[tuple[int, int, str]] = []
        count = 0
        for name, entry in header.items():
            if name == "__metadata__":
                yield from self._metadata(entry, context)
                continue
            count += 1
            problem = _tensor_problem(entry, data_len)
            if problem is not None:
                code, message = problem
                yield self._invalid(context, code, f"tensor {name!r}: {message}", tensor=name)
                continue
            begin, end = entry["data_offsets"]
            if end > begin:
                ranges.append((begin, end, name))
        yield context.fact("safetensors.tensor_count", count)
        ranges.sort()
        cursor = 0
        unused = 0
        for begin, end, name in ranges:
            if begin < cursor:
                yield self._invalid(context, "overlap", f"tensor {name!r} [{begin}, {end}) overlaps the tensor "
                                    f"before it (which ends at {cursor})", tensor=name)
            elif begin > cursor:
                yield context.fact("safetensors.unused_bytes", begin - cursor,
                                   location=_range_at(context, "gap", data_start + cursor), where="gap", before=name)
                yield from analyze_unaccounted(source, data_start + cursor, begin - cursor, context, where="gap",
                                               index=unused)
                unused += 1
            cursor = max(cursor, end)
        if data_len > cursor:
            yield context.fact("safetensors.unused_bytes", data_len - cursor,
                               location=_range_at(context, "trailing", data_start + cursor), where="trailing",
                               before="")
            yield from analyze_unaccounted(source, data_start + cursor, data_len - cursor, context,
                                           where="trailing", index=unused)

    def _metadata(self, entry: Any, context: AnalysisContext) -> Iterator[Fact]:
        if not isinstance(entry, dict):
            yield self._invalid(context, "metadata_type", "__metadata__ is not an object")
            return
        for key, value in entry.items():
            if not isinstance(value, str):
                yield self._invalid(context, "metadata_type", f"__metadata__[{key!r}] is a "
                                    f"{type(value).__name__}, not a string")
            else:
                yield context.fact("safetensors.metadata", key, location=context.at(pointer=f"/__metadata__/{key}"),
                                   chars=len(value))

    @staticmethod
    def _invalid(context: AnalysisContext, code: str, message: str, *, offset: int | None = None,
                 tensor: str = "") -> Fact:
        return context.fact("safetensors.header_invalid", code, location=context.at(offset=offset, pointer=tensor
                                                                                    or None),
                            message=message)


def _range_at(context: AnalysisContext, where: str, offset: int) -> Location:
    # Fingerprints leave offsets out; the pointer keeps a gap and a trailing range of the same length apart.
    return context.at(offset=offset, pointer=f"<{where} bytes at {offset}>")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bounded_product(dims: list[int], cap: int) -> int:
    """The product of ``dims``, or ``cap`` once it exceeds it (hostile shapes must not build huge integers)."""
    if 0 in dims:
        return 0
    total = 1
    for d in dims:
        total *= d
        if total > cap:
            return cap
    return total


def _tensor_problem(entry: Any, data_len: int) -> tuple[str, str] | None:
    """(reason code, message) when a tensor entry is not valid; None when it is."""
    if not isinstance(entry, dict):
        return "tensor_type", "entry is not an object"
    extra = set(entry) - {"dtype", "shape", "data_offsets"}
    if extra or len(entry) != 3:
        return "tensor_keys", f"entry has keys {sorted(entry)}, expected dtype, shape, data_offsets"
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        return "dtype", f"unknown dtype {dtype!r}"
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        return "shape", f"shape {shape!r} is not a list of non-negative integers"
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) and o >= 0 for o in offsets):
        return "offsets", f"data_offsets {offsets!r} is not two non-negative integers"
    begin, end = offsets
    if begin > end:
        return "offsets", f"data_offsets [{begin}, {end}) ends before it begins"
    if end > data_len:
        return "out_of_bounds", f"data_offsets [{begin}, {end}) run past the data section ({data_len} bytes)"
    bits = DTYPE_BITS[dtype] * _bounded_product(shape, data_len * 8 + 8)
    if bits % 8:
        return "shape", f"{dtype} shape {shape} does not fill whole bytes"
    if bits // 8 != end - begin:
        return "size_mismatch", f"{dtype} shape {shape} needs {bits // 8} bytes but data_offsets cover {end - begin}"
    return None
