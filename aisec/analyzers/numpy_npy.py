"""NumPy ``.npy`` analyzer: parses the header literal safely; an object array's pickle is analyzed as a member."""

from __future__ import annotations

import ast
import re
import struct
from collections.abc import Iterator, Mapping

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.analyzers.members import SliceSource
from aisec.analyzers.unaccounted import UNACCOUNTED_FACTS, analyze_unaccounted
from aisec.model import ArtifactKind, Fact
from aisec.source import Source

MAX_NPY_HEADER = 64 * 1024
"""Largest .npy header dict parsed (NumPy itself refuses headers above 10 000 bytes by default)."""


def parse_header(source: Source) -> tuple[dict[str, object], int]:
    """The header dict and the offset where array data starts; :class:`AnalyzerError` when malformed."""
    head = source.head(12)
    if not head.startswith(b"\x93NUMPY") or len(head) < 10:
        raise AnalyzerError("not a .npy file (bad magic)")
    major = head[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", head[8:10])
        start = 10
    elif major in (2, 3):
        if len(head) < 12:
            raise AnalyzerError(".npy header truncated")
        (hlen,) = struct.unpack("<I", head[8:12])
        start = 12
    else:
        raise AnalyzerError(f"unsupported .npy format version {major}")
    if hlen > MAX_NPY_HEADER:
        raise AnalyzerError(f".npy header of {hlen} bytes is larger than {MAX_NPY_HEADER}")
    raw = source.read_at(start, hlen)
    if len(raw) < hlen:
        raise AnalyzerError(".npy header truncated")
    try:
        # A literal parser, not eval: only Python literals are accepted.
        header = ast.literal_eval(raw.decode("utf-8" if major == 3 else "latin-1").strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, UnicodeDecodeError) as exc:
        raise AnalyzerError(f".npy header is not a literal dict: {exc}") from None
    if not isinstance(header, dict) or "descr" not in header:
        raise AnalyzerError(".npy header is not a dict with 'descr'")
    return header, start + hlen


def has_object(descr: object) -> bool:
    """True when a dtype description (string or structured list) contains Python objects."""
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, (list, tuple)):
        return any(has_object(part) for part in descr)
    return False


class NpyAnalyzer:
    """Reports object arrays (they are pickles) and walks the embedded pickle; numeric data is never read."""

    name = "npy"
    kinds = frozenset({ArtifactKind.NPY})
    provides: Mapping[str, str] = {
        "numpy.object_array": "a .npy array with an object dtype: np.load(allow_pickle=True) unpickles it",
        "numpy.dtype": "the dtype description of a .npy array",
        **UNACCOUNTED_FACTS,
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Parse the header; for object arrays, analyze the pickle that follows it."""
        header, data_start = parse_header(source)
        descr = header["descr"]
        yield context.fact("numpy.dtype", str(descr)[:200])
        if has_object(descr):
            yield context.fact("numpy.object_array", str(descr)[:200], location=context.at(offset=data_start))
            payload = SliceSource(source, data_start, source.size - data_start)
            yield from context.analyze_member("<object array pickle>", payload)
            return
        expected = _data_bytes(header)
        if expected is not None and source.size > data_start + expected:
            # np.load reads exactly the array: bytes after it are for someone else.
            yield from analyze_unaccounted(source, data_start + expected, source.size - data_start - expected,
                                           context, where="npy-tail", index=0)


_PLAIN_SIZES = {"?": 1, "b1": 1, "i1": 1, "u1": 1, "i2": 2, "u2": 2, "f2": 2, "i4": 4, "u4": 4, "f4": 4, "i8": 8,
                "u8": 8, "f8": 8, "c8": 8, "c16": 16, "b": 1, "B": 1, "h": 2, "H": 2, "e": 2, "f": 4, "d": 8, "F": 8,
                "D": 16}
"""Itemsizes of the platform-independent numeric dtype strings (after the byte-order character)."""
_BYTES_DESCR = re.compile(r"([SVU])(\d{1,9})|([Mm])8(\[[0-9]*[A-Za-z]+\])?")
"""Byte strings, voids and unicode of a given length; datetimes and timedeltas (always 8 bytes)."""


def _itemsize(descr: object) -> int | None:
    """numpy.dtype(descr).itemsize, without importing numpy for the plain dtype strings real files hold."""
    if isinstance(descr, str):
        plain = descr[1:] if descr[:1] in ("<", ">", "|", "=") else descr
        if plain in _PLAIN_SIZES:
            return _PLAIN_SIZES[plain]
        match = _BYTES_DESCR.fullmatch(plain)
        if match is not None:
            code, digits, timed, _unit = match.groups()
            return 8 if timed else int(digits) * (4 if code == "U" else 1)
    import numpy  # structured or unusual dtypes: numpy parses the literal (never code)

    try:
        return int(numpy.dtype(descr).itemsize)  # type: ignore[call-overload]
    except (TypeError, ValueError, KeyError):
        return None


def _data_bytes(header: dict[str, object]) -> int | None:
    """Bytes of a numeric array's data (shape x itemsize), or None when the header does not say."""
    shape = header.get("shape")
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        return None
    if "descr" not in header:
        return None
    itemsize = _itemsize(header["descr"])
    if itemsize is None:
        return None
    count = 1
    for d in shape:
        count *= d
    return int(count * itemsize)
