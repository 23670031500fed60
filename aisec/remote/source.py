"""A :class:`Source` over a remote object: every read is a ranged request, counted and bounded like a file's."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aisec.errors import SourceReadError
from aisec.remote.fs import filesystem
from aisec.remote.uri import RemoteObject
from aisec.source import Source

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

BLOCK = 64 * 1024
"""Reads are fetched in aligned blocks of this size: analyzers make many small reads (zip directories,
pickle opcodes) and one round trip per read would dominate; a block is small next to any tensor."""
CACHED_BLOCKS = 64
"""Blocks kept per object (4 MiB): re-reads of headers and directories cost no second request."""
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
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self.fetched = 0
        self.requests = 0
        self.failure: str | None = None
        """The first network error met (analyzers may swallow the exception; the scan still reports it)."""
        super().__init__(size=remote.size, budget=budget)

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset``, charged to the budget; missing blocks are fetched in one request."""
        offset = max(0, offset)
        length = max(0, min(length, self.size - offset))
        if not length:
            return b""
        self._charge(length)
        first, last = offset // BLOCK, (offset + length - 1) // BLOCK
        missing = [i for i in range(first, last + 1) if i not in self._blocks]
        if missing:
            self._fetch(missing[0], missing[-1])
        data = b"".join(self._blocks[i] for i in range(first, last + 1))
        for i in range(first, last + 1):
            self._blocks.move_to_end(i)
        start = offset - first * BLOCK
        return data[start:start + length]

    def _fetch(self, first: int, last: int) -> None:
        start, end = first * BLOCK, min(self.size, (last + 1) * BLOCK)
        data = self.fetch_range(start, end)
        for i in range(first, last + 1):
            self._blocks[i] = data[(i - first) * BLOCK:(i - first + 1) * BLOCK]
        while len(self._blocks) > max(CACHED_BLOCKS, last - first + 1):
            self._blocks.popitem(last=False)

    def fetch_range(self, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive) in one request, uncached and not charged to the budget."""
        try:
            data = bytes(self._fs.cat_file(self.remote.path, start=start, end=end))
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


def remote_sha256(remote: RemoteObject, max_bytes: int) -> str:
    """The object's SHA-256 (streamed in ranged chunks), or "" when it is larger than ``max_bytes``."""
    if remote.size > max_bytes:
        return ""
    source = RemoteSource(remote, budget=remote.size)
    digest = hashlib.sha256()
    for start in range(0, remote.size, HASH_CHUNK):
        digest.update(source.fetch_range(start, min(remote.size, start + HASH_CHUNK)))
    return digest.hexdigest()
