"""7z archives, read with py7zr into memory under the archive limits; members are analyzed recursively.

Nothing is written to disk: py7zr hands every member to an in-memory writer that charges each byte to the
archive's budget. An archive that cannot be opened (encrypted, an unsupported codec, damage) is reported as
not fully scanned, never passed as clean.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aisec.analyzers.archive import ARCHIVE_FACTS, unsafe_name
from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.members import RATIO_GRACE_BYTES
from aisec.model import ArtifactKind, Fact
from aisec.source import BytesSource, Source, buffered

SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
_ERRORS = (OSError, ValueError, EOFError, KeyError, IndexError, TypeError, AttributeError, AssertionError,
           struct.error, lzma.LZMAError, zlib.error, NotImplementedError, RuntimeError)
"""What py7zr lets escape on a damaged or hostile archive besides its own exceptions."""


class _Exhausted(Exception):
    """Raised from inside py7zr's extraction when a limit is hit; aborts the extraction."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass(kw_only=True)
class _Budget:
    cap: int
    ratio: int
    archive_bytes: int
    max_members: int
    spent: int = 0
    order: list[tuple[str, bytearray]] = field(default_factory=list)

    def charge(self, n: int) -> None:
        self.spent += n
        if self.spent > self.cap:
            raise _Exhausted("max_decompressed_bytes", f"7z archive decompresses past {self.cap} bytes")
        if self.spent > RATIO_GRACE_BYTES and self.spent > self.ratio * max(self.archive_bytes, 1):
            raise _Exhausted("max_compression_ratio", f"7z archive: compression ratio above "
                             f"max_compression_ratio={self.ratio} ({self.spent} bytes from {self.archive_bytes})")


def _factory(budget: _Budget) -> Any:
    """A py7zr ``WriterFactory`` whose writers keep bytes in memory and charge them to ``budget``."""
    from py7zr.io import Py7zIO, WriterFactory

    class _Writer(Py7zIO):
        def __init__(self, buffer: bytearray) -> None:
            self._buffer = buffer

        def write(self, s: bytes | bytearray) -> int:
            budget.charge(len(s))
            self._buffer += s
            return len(s)

        def read(self, size: int | None = None) -> bytes:
            return bytes(self._buffer)

        def seek(self, offset: int, whence: int = 0) -> int:
            return 0

        def flush(self) -> None:
            return None

        def size(self) -> int:
            return len(self._buffer)

    class _Factory(WriterFactory):
        def create(self, filename: str) -> Py7zIO:
            if len(budget.order) >= budget.max_members:
                raise _Exhausted("max_archive_members", "7z archive has more than max_archive_members members")
            buffer = bytearray()
            budget.order.append((filename, buffer))
            return _Writer(buffer)

    return _Factory()


class SevenZipAnalyzer:
    """7z archives: hostile names and links, bombs, encryption; every file member analyzed by content."""

    name = "7z"
    kinds = frozenset({ArtifactKind.SEVEN_ZIP})
    provides = ARCHIVE_FACTS

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """List members, report hostile ones, decompress the files in memory and analyze each."""
        try:
            import py7zr
            from py7zr.exceptions import ArchiveError, PasswordRequired
        except ImportError:
            context.error("unsupported", "7z archive: py7zr is not installed, so its members were not analyzed",
                          location=context.at())
            return
        limits = context.limits
        budget = _Budget(cap=min(limits.max_read_bytes, limits.max_decompressed_bytes),
                         ratio=limits.max_compression_ratio, archive_bytes=source.size,
                         max_members=limits.max_archive_members)
        links: set[str] = set()
        try:
            with py7zr.SevenZipFile(buffered(source), mode="r", max_extract_size=budget.cap) as archive:
                infos = archive.list()
                yield context.fact("archive.members", len(infos))
                targets: list[str] = []
                for info in infos:
                    name = str(info.filename)
                    reason = unsafe_name(name)
                    if reason is not None:
                        yield context.fact("archive.unsafe_path", name, location=context.at(pointer=name),
                                           reason=reason)
                        if not info.is_directory:
                            # py7zr refuses to hand such a member over; 7z tools write it outside the folder.
                            context.error("unsupported", f"7z member {name!r} has an unsafe name and was not "
                                          "analyzed", location=context.at(pointer=name))
                        continue
                    if info.is_symlink:
                        links.add(name)
                    if not info.is_directory:
                        targets.append(name)
                if archive.needs_password():
                    yield context.fact("archive.anomaly", "encrypted", location=context.at(),
                                       description="the 7z archive is encrypted; its members were not analyzed")
                    context.error("encrypted", _ENCRYPTED, location=context.at())
                    return
                if targets:
                    archive.extract(targets=targets, factory=_factory(budget))
        except _Exhausted as exc:
            context.error("limit", str(exc), location=context.at(), limit=exc.limit)
            if exc.limit != "max_archive_members":
                yield context.fact("archive.bomb", "7z", location=context.at(), limit=exc.limit)
        except PasswordRequired:
            context.error("encrypted", _ENCRYPTED, location=context.at())
        except (ArchiveError, *_ERRORS) as exc:
            context.error("malformed", f"7z archive cannot be read: {type(exc).__name__}: {exc}",
                          location=context.at())
        for name, data in budget.order:
            if name in links:
                target = bytes(data[:4096]).decode("utf-8", "replace")
                yield context.fact("archive.link", name, location=context.at(pointer=name), type="symlink",
                                   target=target)
                target_reason = unsafe_name(target)
                if target_reason is not None:
                    yield context.fact("archive.unsafe_path", target, location=context.at(pointer=name),
                                       reason=f"link-{target_reason}")
                continue
            yield from context.analyze_member(name, BytesSource(bytes(data), budget=limits.max_read_bytes))


_ENCRYPTED = "7z archive is encrypted: its members cannot be analyzed, so it cannot be vouched for"
