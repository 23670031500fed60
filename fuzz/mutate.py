"""Deterministic byte-level mutations (flip, insert, delete, truncate, splice, magic integers) for fuzzing."""

from __future__ import annotations

import struct
from collections.abc import Sequence

Op = tuple[int, int, int]
"""(operation, position seed, value seed): plain integers so hypothesis can draw and shrink them."""

OPERATIONS = ("flip", "set", "insert", "delete", "truncate", "duplicate", "interesting", "splice")
_INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 2 ** 63 - 1, 2 ** 64 - 1, 4096,
                65536, 10 ** 9)


def mutate(data: bytes, ops: Sequence[Op], other: bytes = b"") -> bytes:
    """Apply ``ops`` in order; ``other`` is spliced in by the splice operation."""
    buf = bytearray(data)
    for op, where, value in ops:
        name = OPERATIONS[op % len(OPERATIONS)]
        pos = where % (len(buf) + 1)
        if name == "flip" and buf:
            buf[pos % len(buf)] ^= 1 << (value % 8)
        elif name == "set" and buf:
            buf[pos % len(buf)] = value % 256
        elif name == "insert":
            buf[pos:pos] = bytes([value % 256]) * (1 + value % 16)
        elif name == "delete":
            del buf[pos:pos + 1 + value % 64]
        elif name == "truncate":
            del buf[pos:]
        elif name == "duplicate" and buf:
            chunk = buf[pos:pos + 1 + value % 256]
            buf[pos:pos] = chunk * (1 + value % 4)
        elif name == "interesting":
            number = _INTERESTING[value % len(_INTERESTING)]
            width, fmt = ((1, "<B"), (2, "<H"), (4, "<I"), (8, "<Q"), (4, ">I"), (8, ">Q"))[value // 16 % 6]
            packed = struct.pack(fmt, number % (1 << (8 * width)))
            buf[pos:pos + width] = packed
        elif name == "splice" and other:
            start = value % len(other)
            buf[pos:] = other[start:start + 4096]
    return bytes(buf)
