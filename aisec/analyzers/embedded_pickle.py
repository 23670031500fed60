"""Find pickle streams hidden inside another format's bytes (raw, or base64 in a string), without unpickling.

A candidate start is a protocol 2-5 header (``\\x80`` + version) or a protocol 0/1 ``GLOBAL`` (``cmodule\\nname\\n``).
It counts only when ``pickletools.genops`` walks from it to ``STOP`` through an opcode that imports or calls:
random float data almost never decodes that far, and a pickle that neither imports nor calls cannot run code.
"""

from __future__ import annotations

import base64
import binascii
import io
import pickletools
import re
from collections.abc import Iterator

MAX_CANDIDATES = 20_000
"""Candidate starts tried per buffer (each walk stops at the first invalid opcode, usually within bytes)."""
MAX_OPS = 100_000
"""Opcodes walked from one candidate before it is given up as too long to be a hidden payload."""
MAX_FOUND = 8
"""Pickles reported per buffer (the first few are enough to condemn the file)."""
_START = re.compile(rb"\x80[\x02-\x05]|c[A-Za-z_][\w.]{0,200}\n[A-Za-z_][\w.]{0,200}\n")
_CODE_OPS = frozenset({"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2",
                       "EXT4", "BUILD"})
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]{24,}")


def find_pickles(data: bytes) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each code-bearing pickle stream in ``data`` (non-overlapping, in order)."""
    found = 0
    resume = 0
    for tried, match in enumerate(_START.finditer(data)):
        if tried >= MAX_CANDIDATES or found >= MAX_FOUND:
            return
        start = match.start()
        if start < resume:
            continue
        end = _pickle_end(data, start)
        if end is not None:
            found += 1
            resume = end
            yield start, end


def _pickle_end(data: bytes, start: int) -> int | None:
    stream = io.BytesIO(data)
    stream.seek(start)
    code = False
    try:
        for count, (opcode, _arg, pos) in enumerate(pickletools.genops(stream)):
            if count > MAX_OPS:
                return None
            code = code or opcode.name in _CODE_OPS
            if opcode.name == "STOP":
                return (pos or start) + 1 if code else None
    except (ValueError, EOFError, UnicodeDecodeError, OverflowError, MemoryError, IndexError, KeyError):
        return None
    return None


def decode_base64_pickle(text: str) -> bytes | None:
    """The bytes of a base64 string that decodes to a pickle header, else None (most strings are not base64)."""
    if len(text) < 24 or not _BASE64.fullmatch(text):
        return None
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if _START.match(raw) else None
