"""Bytes a format does not account for (safetensors and GGUF gaps and trailing data, .npy tails): sniffed and analyzed
like a file of their own, because a loader that ignores them is not the only program that may read them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.members import SliceSource
from aisec.model import ArtifactKind, Fact
from aisec.sniff import SNIFF_BYTES, sniff
from aisec.source import Source

UNACCOUNTED_FACTS: Mapping[str, str] = {
    "format.unaccounted_payload": "bytes the format does not account for (a safetensors or GGUF gap or tail, a .npy "
                                  "tail) that are recognisable content of their own; value is the sniffed kind",
}
MAX_RANGES = 16
"""Most unaccounted ranges analyzed per file (each is also reported by its format's own fact)."""
_CHUNK = 1 << 16
_INERT = frozenset({ArtifactKind.BINARY, ArtifactKind.EMPTY, ArtifactKind.TEXT, ArtifactKind.CSV})
"""Kinds that are not a payload by themselves: padding, noise, a stray note."""


def analyze_unaccounted(source: Source, offset: int, length: int, context: AnalysisContext, *, where: str,
                        index: int) -> Iterator[Fact]:
    """Sniff ``source[offset:offset + length]``; report recognisable content and analyze it as a member."""
    if index >= MAX_RANGES or length <= 0:
        return
    skipped = leading_zeros(source, offset, length)
    if skipped == length:
        return  # zero padding
    # A payload after zero padding starts at its first non-zero byte: sniff there, or padding hides it.
    window = SliceSource(source, offset + skipped, length - skipped)
    kind = sniff(window.head(SNIFF_BYTES))
    if kind in _INERT:
        return
    start = offset + skipped
    name = f"<{where} bytes at {start}>"
    yield context.fact("format.unaccounted_payload", kind.value, location=context.at(offset=start, pointer=name),
                       where=where, length=length - skipped)
    yield from context.analyze_member(name, window)


def leading_zeros(source: Source, offset: int, length: int) -> int:
    """How many bytes from ``offset`` are zero (reads are charged to the source's budget, so this is bounded)."""
    done = 0
    while done < length:
        chunk = source.read_at(offset + done, min(_CHUNK, length - done))
        if not chunk:
            return length
        stripped = chunk.lstrip(b"\x00")
        if stripped:
            return done + len(chunk) - len(stripped)
        done += len(chunk)
    return length
