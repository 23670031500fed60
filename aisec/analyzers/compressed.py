"""Compressed wrappers (gzip, bzip2, xz/lzma, zlib, lz4, zstd; joblib's compressed dumps and legacy Z-files):
decompress, then recurse."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.members import BombError, CorruptData, inflate
from aisec.model import ArtifactKind, Fact
from aisec.sniff import LZMA_ALONE_PREFIX, SNIFF_BYTES, joblib_zfile_offset, sniff
from aisec.source import BytesSource, Source

_METHODS = {ArtifactKind.GZIP: "gzip", ArtifactKind.BZIP2: "bzip2", ArtifactKind.XZ: "xz",
            ArtifactKind.ZLIB: "zlib", ArtifactKind.LZ4: "lz4"}
_LZMA_ALONE = LZMA_ALONE_PREFIX
"""joblib's ``compress='lzma'`` writes the legacy .lzma (LZMA-alone) format, which has no real magic."""
_ZSTD = b"\x28\xb5\x2f\xfd"
"""A Zstandard frame (sniffed as binary; OCI image layers are often ``tar+zstd``)."""
_UNRECOGNISED = frozenset({ArtifactKind.BINARY, ArtifactKind.EMPTY, ArtifactKind.TEXT})
_MAX_MEMBERS = 64
"""Most concatenated streams (gzip members, bzip2 streams) followed in one file."""


def _method(head: bytes) -> str | None:
    if joblib_zfile_offset(head) is not None:
        return "zlib"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(_LZMA_ALONE):
        return "lzma"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if head.startswith(_ZSTD):
        return "zstd"
    if len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    return None


class CompressedAnalyzer:
    """Decompresses incrementally (capped by max_decompressed_bytes and max_compression_ratio) and recurses."""

    name = "compressed"
    kinds = frozenset({*_METHODS, ArtifactKind.BINARY})
    provides: Mapping[str, str] = {
        "archive.bomb": "a member or archive whose decompression passed max_compression_ratio or "
                        "max_decompressed_bytes",
        "compressed.trailing_bytes": "bytes after the end of the compressed stream(s) that are not another stream",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Decompress every concatenated stream, then analyze the result as one member."""
        head = source.head(32)
        method = _method(head)
        if method is None:
            return
        if not head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x04\x22\x4d\x18", _ZSTD)) and \
                not _plausible_binary(head, method):
            return
        limits = context.limits
        cap = min(limits.max_read_bytes, limits.max_decompressed_bytes)
        out = bytearray()
        # A joblib Z-file is zlib data behind a short text header; joblib unpickles what it inflates to.
        offset = joblib_zfile_offset(head) or 0
        zfile = offset > 0
        first = offset
        for _ in range(_MAX_MEMBERS):
            try:
                result = inflate(source, offset, source.size - offset, method, limits=limits, cap=cap - len(out),
                                 what=f"{method} stream")
            except BombError as exc:
                context.error("limit", str(exc), location=context.at(offset=offset), limit=exc.limit)
                yield context.fact("archive.bomb", method, location=context.at(offset=offset), limit=exc.limit)
                return
            except ValueError as exc:
                if offset == first:
                    # What decompressed before the damage was already unpickled by a streaming loader
                    # (joblib): analyze it. With a weak magic, output that is not recognisable data means
                    # the file was not compressed after all.
                    partial = exc.partial if isinstance(exc, CorruptData) else b""
                    recognised = bool(partial) and sniff(partial[:SNIFF_BYTES]) not in _UNRECOGNISED
                    if (head.startswith(_LZMA_ALONE) or method == "zlib") and not recognised and not zfile:
                        return
                    context.error("malformed", f"{method} data is corrupt: {exc}", location=context.at())
                    if not partial:
                        return
                    out += partial
                    break
                yield context.fact("compressed.trailing_bytes", source.size - offset,
                                   location=context.at(offset=offset))
                break
            out += result.data
            if not result.complete:
                context.error("limit", f"{method} stream decompresses past {cap} bytes; the rest was not "
                              "analyzed", location=context.at(), limit="max_decompressed_bytes")
                break
            offset += result.consumed
            if _check_total_ratio(len(out), offset, context):
                # Many small streams, each under the ratio limit, must not add up to a bomb.
                context.error("limit", f"concatenated {method} streams decompress past max_compression_ratio="
                              f"{limits.max_compression_ratio} together", location=context.at(offset=offset),
                              limit="max_compression_ratio")
                yield context.fact("archive.bomb", method, location=context.at(offset=offset),
                                   limit="max_compression_ratio")
                return
            if offset >= source.size or method not in ("gzip", "bzip2", "xz", "lzma", "lz4", "zstd") or \
                    _method(source.read_at(offset, 16)) != method:
                if offset < source.size and source.read_at(offset, 16).strip(b"\x00"):
                    yield context.fact("compressed.trailing_bytes", source.size - offset,
                                       location=context.at(offset=offset))
                break
        if _check_total_ratio(len(out), source.size, context):
            yield context.fact("archive.bomb", method, limit="max_compression_ratio")
        name = "<joblib-zfile>" if zfile else f"<{method}>"
        yield from context.analyze_member(name, BytesSource(bytes(out), budget=limits.max_read_bytes))


def _plausible_binary(head: bytes, method: str) -> bool:
    # For BINARY/ZLIB artifacts only the weak magics remain: accept them, inflate decides.
    return method in ("lzma", "zlib")


def _check_total_ratio(produced: int, consumed: int, context: AnalysisContext) -> bool:
    return produced > 1024 * 1024 and produced > context.limits.max_compression_ratio * max(consumed, 1)
