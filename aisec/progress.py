"""A one-line progress display on stderr (files and bytes; rows and bytes inside a large file), shown only on a
terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from aisec.analysis import ArtifactResult

_MIB = 1024 * 1024


class ProgressLine:
    """Call with each finished artifact; redraws at most ten times a second; ``close()`` clears the line.

    ``in_file(path, rows, bytes_read, size)`` shows how far a large file is (executors call it while it runs).
    """

    def __init__(self, *, total_files: int, total_bytes: int, stream: TextIO | None = None) -> None:
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.files = 0
        self.bytes = 0
        self._stream = stream or sys.stderr
        self._last = 0.0
        self._current: dict[str, tuple[int, int, int]] = {}

    def __call__(self, result: ArtifactResult) -> None:
        self.files += 1
        self.bytes += result.artifact.size
        self._current.pop(result.artifact.path, None)
        self._draw(force=self.files == self.total_files)

    def in_file(self, path: str, rows: int, bytes_read: int, size: int) -> None:
        """A large file is ``rows``/``bytes_read`` into its ``size`` bytes."""
        self._current[path] = (rows, bytes_read, size)
        self._draw(force=False)

    def _draw(self, *, force: bool) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and not force:
            return
        self._last = now
        text = (f"aisec: {self.files}/{self.total_files} files, "
                f"{self.bytes / _MIB:,.1f}/{self.total_bytes / _MIB:,.1f} MiB")
        for path, (rows, done, size) in sorted(self._current.items())[:2]:
            text += f"; {path}: {rows:,} rows, {done / _MIB:,.1f}/{size / _MIB:,.1f} MiB"
        self._stream.write(f"\r\x1b[K{text}")
        self._stream.flush()

    def close(self) -> None:
        """Erase the progress line."""
        self._stream.write("\r\x1b[K")
        self._stream.flush()
