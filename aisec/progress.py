"""A one-line progress display on stderr (files and bytes), shown only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from aisec.analysis import ArtifactResult

_MIB = 1024 * 1024


class ProgressLine:
    """Call with each finished artifact; redraws at most ten times a second; ``close()`` clears the line."""

    def __init__(self, *, total_files: int, total_bytes: int, stream: TextIO | None = None) -> None:
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.files = 0
        self.bytes = 0
        self._stream = stream or sys.stderr
        self._last = 0.0

    def __call__(self, result: ArtifactResult) -> None:
        self.files += 1
        self.bytes += result.artifact.size
        now = time.monotonic()
        if now - self._last >= 0.1 or self.files == self.total_files:
            self._last = now
            self._stream.write(f"\r\x1b[Kaisec: {self.files}/{self.total_files} files, "
                               f"{self.bytes / _MIB:,.1f}/{self.total_bytes / _MIB:,.1f} MiB")
            self._stream.flush()

    def close(self) -> None:
        """Erase the progress line."""
        self._stream.write("\r\x1b[K")
        self._stream.flush()
