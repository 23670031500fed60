"""Rows and bytes of the file being analysed, for a progress display: a no-op unless the scanner sets a sink."""

from __future__ import annotations

from collections.abc import Callable

Sink = Callable[[int, int], None]
"""Called with (rows read, bytes read) of the current file."""

_sink: Sink | None = None
EVERY_ROWS = 8192
"""Readers report once per this many rows (cheap enough for the hot loop)."""


def set_sink(sink: Sink | None) -> None:
    """Where :func:`report` goes in this process (``None``: nowhere)."""
    global _sink
    _sink = sink


def report(rows: int, bytes_read: int) -> None:
    """Tell the display how far the current file is."""
    if _sink is not None:
        _sink(rows, bytes_read)
