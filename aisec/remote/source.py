"""A :class:`Source` over a remote object: every read is a ranged request, counted and bounded like a file's."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aisec.errors import SourceReadError
from aisec.remote.fs import filesystem
from aisec.remote.uri import RemoteObject
from aisec.source import Source

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

PAGE = 4 * 1024
"""Reads are fetched in aligned pages of this size, and re-reads (zip directories, headers) hit the cache."""
READAHEAD = 64 * 1024
"""A read that continues the previous one fetches at least this much: a sequential parser (pickle opcodes, a
stream) makes many small reads and one round trip each would dominate. An isolated read (a zip member's local
header between two tensors) costs its pages only, so a checkpoint's tensors are never fetched."""
CACHED_PAGES = 1024
"""Pages kept per object (4 MiB)."""
HASH_CHUNK = 8 * 1024 * 1024


@dataclass(kw_only=True)
class Transfer:
    """Bytes and requests fetched from remote storage by this process (for benchmarks and tests)."""

    bytes: int = 0
    requests: int = 0


TRANSFERRED = Transfer()
"""Process-wide totals, summed over every :class:`RemoteSource`."""


class RemoteSource(Source):
    """A remote object read with ranged requests; ``fetched`` counts the bytes that crossed the network."""

    def __init__(self, remote: RemoteObject, *, budget: int, fs: AbstractFileSystem | None = None) -> None:
        self.remote = remote
        self._fs = fs if fs is not None else filesystem(remote.protocol, anonymous=remote.anonymous)
        self._pages: OrderedDict[int, bytes] = OrderedDict()
        self._last_end = -1
        self.fetched = 0
        self.requests = 0
        self._handle: Any = None
        self.failure: str | None = None
        """The first network error met (analyzers may swallow the exception; the scan still reports it)."""
        super().__init__(size=remote.size, budget=budget)

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset``, charged to the budget; missing pages are fetched in one request."""
        offset = max(0, offset)
        length = max(0, min(length, self.size - offset))
        if not length:
            return b""
        self._charge(length)
        first, last = offset // PAGE, (offset + length - 1) // PAGE
        missing = [i for i in range(first, last + 1) if i not in self._pages]
        if missing:
            low, high = missing[0], missing[-1]
            if offset == self._last_end:
                high = max(high, low + READAHEAD // PAGE - 1)
            self._fetch(low, min(high, (self.size - 1) // PAGE))
        self._last_end = offset + length
        data = b"".join(self._pages[i] for i in range(first, last + 1))
        for i in range(first, last + 1):
            self._pages.move_to_end(i)
        start = offset - first * PAGE
        return data[start:start + length]

    def _fetch(self, first: int, last: int) -> None:
        start, end = first * PAGE, min(self.size, (last + 1) * PAGE)
        data = self.fetch_range(start, end)
        for i in range(first, last + 1):
            self._pages[i] = data[(i - first) * PAGE:(i - first + 1) * PAGE]
        while len(self._pages) > max(CACHED_PAGES, last - first + 1):
            self._pages.popitem(last=False)

    def fetch_range(self, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive) in one request, uncached and not charged to the budget."""
        try:
            data = self._read(start, end)
        except MemoryError:
            raise
        except Exception as exc:  # any backend's network/storage error: one object fails, the scan goes on
            message = f"cannot fetch bytes {start}-{end - 1} of {self.remote.uri}: {type(exc).__name__}: {exc}"
            self.failure = self.failure or message
            raise SourceReadError(message) from None
        self.fetched += len(data)
        self.requests += 1
        TRANSFERRED.bytes += len(data)
        TRANSFERRED.requests += 1
        if len(data) != end - start:
            message = (f"{self.remote.uri} changed or was cut short while being read: asked for bytes "
                       f"{start}-{end - 1}, got {len(data)}")
            self.failure = self.failure or message
            raise SourceReadError(message)
        return data


    def _read(self, start: int, end: int) -> bytes:
        if self.remote.protocol not in ("http", "https"):
            return bytes(self._fs.cat_file(self.remote.path, start=start, end=end))
        # Over HTTP a server may ignore Range and send the whole file: fsspec's HTTP file checks the reply
        # and refuses (rather than reading gigabytes) where cat_file would read the whole body.
        if self._handle is None:
            self._handle = self._fs.open(self.remote.path, "rb", block_size=READAHEAD, cache_type="none",
                                         size=self.size)
        self._handle.seek(start)
        return bytes(self._handle.read(end - start))


def remote_sha256(remote: RemoteObject, max_bytes: int) -> str:
    """The object's SHA-256 (streamed in ranged chunks), or "" when it is larger than ``max_bytes``."""
    if remote.size > max_bytes:
        return ""
    source = RemoteSource(remote, budget=remote.size)
    digest = hashlib.sha256()
    for start in range(0, remote.size, HASH_CHUNK):
        digest.update(source.fetch_range(start, min(remote.size, start + HASH_CHUNK)))
    return digest.hexdigest()
