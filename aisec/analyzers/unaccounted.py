"""Bytes a format does not account for (safetensors gaps and trailing data, .npy tails): sniffed and analyzed like a
file of their own, because a loader that ignores them is not the only program that may read them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.members import SliceSource
from aisec.model import ArtifactKind, Fact
from aisec.sniff import SNIFF_BYTES, sniff
from aisec.source import Source

UNACCOUNTED_FACTS: Mapping[str, str] = {
    "format.unaccounted_payload": "bytes the format does not account for (a safetensors gap or tail, a .npy tail) "
                                  "that are recognisable content of their own; value is the sniffed kind",
}
MAX_RANGES = 16
"""Most unaccounted ranges analyzed per file (each is also reported by its format's own fact)."""
_INERT = frozenset({ArtifactKind.BINARY, ArtifactKind.EMPTY, ArtifactKind.TEXT, ArtifactKind.CSV})
"""Kinds that are not a payload by themselves: padding, noise, a stray note."""


def analyze_unaccounted(source: Source, offset: int, length: int, context: AnalysisContext, *, where: str,
                        index: int) -> Iterator[Fact]:
    """Sniff ``source[offset:offset + length]``; report recognisable content and analyze it as a member."""
    if index >= MAX_RANGES or length <= 0:
        return
    window = SliceSource(source, offset, length)
    head = window.head(SNIFF_BYTES)
    if not head.strip(b"\x00"):
        return  # zero padding
    kind = sniff(head)
    if kind in _INERT:
        return
    yield context.fact("format.unaccounted_payload", kind.value, location=context.at(offset=offset),
                       where=where, length=length)
    yield from context.analyze_member(f"<{where} bytes at {offset}>", window)
