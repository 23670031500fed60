"""Member byte sources for containers: zero-copy slices of stored members, bounded incremental decompression."""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aisec.errors import LimitExceeded
from aisec.limits import Limits
from aisec.source import Source

CHUNK = 1024 * 1024
INPUT_CHUNK = 64 * 1024
"""Compressed bytes fed per step: the ratio is judged on input fed so far, so feeding 1 MiB at once would let
200 MiB (at the default ratio) come out before the first judgement."""
RATIO_GRACE_BYTES = 1024 * 1024
"""Output below this size is never called a bomb (tiny inputs compress absurdly well)."""


class SliceSource(Source):
    """A window ``[offset, offset + size)`` of another source; reads are charged to the parent."""

    def __init__(self, parent: Source, offset: int, size: int) -> None:
        self._parent = parent
        self._offset = offset
        super().__init__(size=max(0, min(size, parent.size - offset)), budget=1 << 62)

    def read_at(self, offset: int, length: int) -> bytes:
        """Read through to the parent."""
        length = max(0, min(length, self.size - offset))
        return self._parent.read_at(self._offset + offset, length) if length else b""


class Decompressor(Protocol):
    """The part of zlib/bz2/lzma/lz4 decompressor objects used here."""

    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...


@dataclass(frozen=True, kw_only=True)
class Inflated:
    """Decompressed bytes and what it took to get them."""

    data: bytes
    consumed: int
    """Compressed bytes consumed."""
    complete: bool
    """False when output was capped before the end of the compressed data."""
    unused: bytes = b""
    """Bytes after the end of the compressed stream (another member, or junk)."""


class BombError(LimitExceeded):
    """Decompression exceeded the ratio or total output limit."""

    produced: int = 0
    """Bytes decompressed before the limit hit (callers charge them to their total budget)."""


class CorruptData(ValueError):
    """The compressed data is damaged; ``partial`` is what came out before the damage."""

    partial: bytes = b""
    """A streaming loader has already consumed (unpickled) these bytes when it hits the damage."""


def make_decompressor(method: str) -> Callable[[], Any]:
    """A factory for a named codec: deflate (raw), zlib, gzip, bzip2, lzma/xz, lz4, zstd."""
    if method == "deflate":
        return lambda: zlib.decompressobj(-15)
    if method == "zlib":
        return lambda: zlib.decompressobj(15)
    if method == "gzip":
        return lambda: zlib.decompressobj(31)
    if method == "bzip2":
        return bz2.BZ2Decompressor
    if method == "xz":
        return lambda: lzma.LZMADecompressor(lzma.FORMAT_AUTO)
    if method == "lzma":
        # Legacy .lzma as joblib reads it: FORMAT_AUTO's .lzma detection is picky about the dictionary size,
        # FORMAT_ALONE (what joblib's LZMAFile uses) is not.
        return lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE)
    if method == "lzma-zip":
        return _ZipLzma
    if method == "zstd":
        return _zstd_decompressor()
    if method == "lz4":
        import lz4.frame  # type: ignore[import-untyped]

        return lz4.frame.LZ4FrameDecompressor  # type: ignore[no-any-return]
    raise ValueError(f"unsupported compression method {method}")


def _zstd_decompressor() -> Callable[[], Any]:
    """Zstandard (OCI ``tar+zstd`` layers, zstd-compressed checkpoints): the standard library's from Python 3.14,
    its backport (a py7zr dependency) before."""
    try:
        from compression import zstd  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        try:
            from backports import zstd  # type: ignore[no-redef, import-not-found, unused-ignore]
        except ImportError:
            raise ValueError("zstd data needs the backports.zstd package (Python < 3.14)") from None
    return lambda: _Zstd(zstd.ZstdDecompressor(), zstd.ZstdError)


class _Zstd:
    """A zstd decompressor whose errors are the ``ValueError`` the other codecs raise (ZstdError is not one)."""

    def __init__(self, decompressor: Any, error: type[Exception]) -> None:
        self._dec = decompressor
        self._error = error

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        try:
            return bytes(self._dec.decompress(data, max_length))
        except self._error as exc:
            raise ValueError(str(exc)) from None

    @property
    def eof(self) -> bool:
        return bool(self._dec.eof)

    @property
    def unused_data(self) -> bytes:
        return bytes(self._dec.unused_data)

    @property
    def needs_input(self) -> bool:
        return bool(self._dec.needs_input)


class _ZipLzma:
    """Zip method 14: a 4-byte version/size prefix, an LZMA properties block, then raw LZMA1 data."""

    def __init__(self) -> None:
        self._head = b""
        self._dec: Any = None

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if self._dec is None:
            self._head += data
            if len(self._head) < 4:
                return b""
            psize = int.from_bytes(self._head[2:4], "little")
            if len(self._head) < 4 + psize:
                return b""
            props = lzma._decode_filter_properties(lzma.FILTER_LZMA1, self._head[4:4 + psize])  # type: ignore[attr-defined]
            self._dec = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[props])
            data, self._head = self._head[4 + psize:], b""
        return bytes(self._dec.decompress(data, max_length))

    @property
    def eof(self) -> bool:
        return bool(self._dec is not None and self._dec.eof)

    @property
    def unused_data(self) -> bytes:
        return b"" if self._dec is None else bytes(self._dec.unused_data)

    @property
    def needs_input(self) -> bool:
        return self._dec is None or bool(self._dec.needs_input)


def inflate(source: Source, offset: int, length: int, method: str, *, limits: Limits, cap: int,
            what: str) -> Inflated:
    """Decompress ``length`` bytes at ``offset`` incrementally, producing at most ``cap`` bytes.

    Raises :class:`BombError` when the output passes ``max_decompressed_bytes`` or the output/input ratio
    passes ``max_compression_ratio``; stops quietly (``complete=False``) when ``cap`` is reached first.
    """
    dec = make_decompressor(method)()
    out = bytearray()
    consumed = 0
    pos = offset
    end = offset + length
    pending = b""
    limit_total = limits.max_decompressed_bytes
    while True:
        if not pending and _needs_input(dec):
            if pos >= end:
                break
            pending = source.read_at(pos, min(INPUT_CHUNK, end - pos))
            if not pending:
                break
            pos += len(pending)
            consumed += len(pending)
        want = min(CHUNK, cap - len(out) + 1, limit_total - len(out) + 1)
        try:
            chunk = _step(dec, pending, max(1, want))
        except CorruptData as exc:
            exc.partial = bytes(out)
            raise
        out += chunk
        pending = _leftover(dec, pending)
        _check_bomb(len(out), consumed - len(pending), limits, what)
        if len(out) > cap:
            del out[cap:]
            return Inflated(data=bytes(out), consumed=consumed, complete=False)
        if getattr(dec, "eof", False):
            unused = bytes(getattr(dec, "unused_data", b"") or b"")
            return Inflated(data=bytes(out), consumed=consumed - len(unused), complete=True, unused=unused)
        if not chunk and pending and _needs_input(dec):
            pending = b""
    return Inflated(data=bytes(out), consumed=consumed, complete=True)


def _step(dec: Any, data: bytes, want: int) -> bytes:
    try:
        return bytes(dec.decompress(data, want))
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError, RuntimeError) as exc:
        raise CorruptData(f"corrupt compressed data: {exc}") from None


def _leftover(dec: Any, data: bytes) -> bytes:
    # zlib keeps unconsumed input in ``unconsumed_tail``; bz2/lzma/lz4 buffer it internally.
    tail = getattr(dec, "unconsumed_tail", None)
    if tail is not None:
        return bytes(tail)
    return b""


def _needs_input(dec: Any) -> bool:
    return bool(getattr(dec, "needs_input", True))


def _check_bomb(produced: int, consumed: int, limits: Limits, what: str) -> None:
    error = None
    if produced > limits.max_decompressed_bytes:
        error = BombError("max_decompressed_bytes", limits.max_decompressed_bytes,
                          f"{what}: decompresses to more than max_decompressed_bytes="
                          f"{limits.max_decompressed_bytes}")
    elif produced > RATIO_GRACE_BYTES and produced > limits.max_compression_ratio * max(consumed, 1):
        error = BombError("max_compression_ratio", limits.max_compression_ratio,
                          f"{what}: compression ratio above max_compression_ratio={limits.max_compression_ratio} "
                          f"({produced} bytes from {consumed})")
    if error is not None:
        error.produced = produced
        raise error
