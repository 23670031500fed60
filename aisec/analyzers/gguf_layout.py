"""GGUF data section: where each tensor's bytes lie, and every byte no tensor accounts for sniffed like a file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.ggml_types import tensor_bytes
from aisec.analyzers.unaccounted import UNACCOUNTED_FACTS, analyze_unaccounted, leading_zeros
from aisec.model import Fact
from aisec.source import Source

DEFAULT_ALIGNMENT = 32
"""The spec's alignment when ``general.alignment`` is absent."""

LAYOUT_FACTS: Mapping[str, str] = {
    **UNACCOUNTED_FACTS,
    "gguf.layout_invalid": "a GGUF tensor lies outside the file, overlaps another, is misaligned, or the alignment "
                           "is not a power of two (value is the problem code)",
    "gguf.unused_bytes": "bytes of a GGUF file that no tensor covers and that are not zero padding up to the "
                         "alignment (value is the byte count)",
    "gguf.unknown_tensor_type": "a GGUF tensor of a ggml type aisec has no size for: the bytes after it cannot be "
                                "vouched for (value is the type id)",
}


@dataclass(frozen=True, kw_only=True)
class TensorInfo:
    """One tensor-info record of the header."""

    name: str
    elements: int
    type_id: int
    offset: int
    """Relative to the start of the data section."""


def _align(n: int, alignment: int) -> int:
    return -(-n // alignment) * alignment


def layout_facts(source: Source, context: AnalysisContext, tensors: Sequence[TensorInfo], *, header_end: int,
                 alignment: int) -> Iterator[Fact]:
    """Check each tensor's extent; sniff every byte between and after them (a writer leaves only zero padding)."""
    if alignment <= 0 or alignment & (alignment - 1):
        yield _invalid(context, "alignment", f"general.alignment={alignment} is not a power of two")
        alignment = DEFAULT_ALIGNMENT
    data_start = _align(header_end, alignment)
    extents: list[tuple[int, int | None, str]] = []
    for info in tensors:
        size = tensor_bytes(info.type_id, info.elements)
        if size is None:
            yield context.fact("gguf.unknown_tensor_type", info.type_id,
                               location=context.at(offset=data_start + info.offset, pointer=info.name))
        elif data_start + info.offset + size > source.size:
            yield _invalid(context, "out_of_bounds", f"tensor {info.name!r} needs bytes [{data_start + info.offset}, "
                           f"{data_start + info.offset + size}) but the file ends at {source.size}", info.name)
            if data_start + info.offset >= source.size:
                continue
            size = source.size - data_start - info.offset  # what is there is still this tensor's
        if info.offset % alignment:
            yield _invalid(context, "misaligned", f"tensor {info.name!r} starts at data offset {info.offset}, not a "
                           f"multiple of the alignment {alignment}", info.name)
        extents.append((data_start + info.offset, None if size is None else data_start + info.offset + size,
                        info.name))
    extents.sort(key=lambda e: (e[0], e[2]))
    yield from _unaccounted(source, context, extents, header_end, alignment)


def _unaccounted(source: Source, context: AnalysisContext, extents: list[tuple[int, int | None, str]],
                 cursor: int, alignment: int) -> Iterator[Fact]:
    """Walk the tensors in file order from the end of the header; ``cursor`` is the first byte not yet accounted for
    (``None`` after a tensor of unknown size: its data may run up to the next tensor)."""
    found = 0
    known: int | None = cursor
    for begin, end, name in extents:
        if known is not None and begin < known:
            yield _invalid(context, "overlap", f"tensor {name!r} starts at byte {begin}, inside the bytes before it "
                           f"(which end at {known})", name)
        elif known is not None and begin > known:
            facts = list(_range(source, context, known, begin, alignment, where="gap", before=name, index=found))
            found += any(f.key == "format.unaccounted_payload" for f in facts)
            yield from facts
        if end is None:
            known = None
        elif known is None or end > known:
            known = end
    if known is not None and source.size > known:
        yield from _range(source, context, known, source.size, alignment, where="trailing", before="", index=found)


def _range(source: Source, context: AnalysisContext, start: int, stop: int, alignment: int, *, where: str,
           before: str, index: int) -> Iterator[Fact]:
    # Writers pad with zeros up to the alignment; bytes past it, or non-zero padding, were put there by someone else.
    if stop > _align(start, alignment) or leading_zeros(source, start, stop - start) < stop - start:
        yield context.fact("gguf.unused_bytes", stop - start, location=context.at(offset=start, pointer=f"<{where} "
                           f"bytes at {start}>"), where=where, before=before)
    yield from analyze_unaccounted(source, start, stop - start, context, where=where, index=index)


def _invalid(context: AnalysisContext, code: str, message: str, tensor: str | None = None) -> Fact:
    return context.fact("gguf.layout_invalid", code, location=context.at(pointer=tensor), message=message)
