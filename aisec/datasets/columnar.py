"""JSON Lines batches read by pyarrow: the per-row inputs of the profile computed column by column, so rows the
pre-screen rules out and that hold nothing irregular never become Python objects.

A block is taken only when pyarrow reads every line of the batch as one flat object of plain types (string, int,
float, bool) whose values are exactly what ``json`` gives; anything else (a line that does not parse, a nested
value, a timestamp-looking string, an integral float that ``json`` reads as ``int``, a pair column, more values than
``max_values_per_record``) is declined and read line by line as before. Inside a block, a row goes the Python way
(a full ``Row``) when the pre-screen lets it through or when the profile would note something about it: a null or
missing field (pyarrow cannot tell them apart), a value of another kind than its column, a field the schema does
not know, an empty or blank text. The rest are regular rows whose statistics are exactly ``Profile.add``'s.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aisec.datasets.pairs import _PAIR_NAMES
from aisec.datasets.records import Row
from aisec.datasets.roles import Roles, as_number

_WHITESPACE = "[\\t-\\r\\x1c-\\x1f ][\\t-\\r\\x1c-\\x1f ]+|[\\t-\\r\\x1c-\\x1f]"
"""What ``" ".join(text.split())`` turns into one space in ASCII text, leading and trailing runs aside: a run of two
or more whitespace characters, or one that is not a space (replacing only these is ten times faster than every
run)."""
_BLANK = "^[\\t-\\r\\x1c-\\x1f ]*$"
"""An ASCII value ``str.strip()`` empties (non-ASCII whitespace never reaches a regular row: the screen passes it)."""
_PLAIN_KEY = re.compile(r"[^\x00-\x1f\"\\/\x7f-\U0010ffff]+")
"""A key JSON writes only as itself (``/`` may be escaped, non-ASCII characters may be ``\\u`` escapes)."""


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What deciding a row's way needs: the roles and the schema of the first rows."""

    roles: Roles
    schema: Mapping[str, tuple[str, float]]
    max_values: int


class Columnar:
    """Set by the analyzer once roles and schema are known; until then the reader reads line by line."""

    def __init__(self) -> None:
        self.plan: Plan | None = None


@dataclass(frozen=True, kw_only=True)
class Block:
    """The rest of one batch: ``size`` rows from ``first_index``, the first on line ``first_line``."""

    first_index: int
    first_line: int
    size: int
    python: tuple[int, ...]
    """Positions (0-based in the block) read the Python way; the reader puts their rows in ``rows``."""
    rows: dict[int, Row] = field(default_factory=dict)
    labels: list[str | None] = field(default_factory=list)
    record_hashes: list[int] = field(default_factory=list)
    feature_hashes: list[int] = field(default_factory=list)
    """Per position, as ``Profile.add`` would derive them (meaningless at ``python`` positions)."""
    lengths: dict[str, Any] = field(default_factory=dict)
    """Per text column, a numpy array of each value's length in characters."""
    numbers: dict[str, Any] = field(default_factory=dict)
    """Per numeric column, a numpy float array: ``as_number`` of each value, NaN for ``None``."""
    columns: dict[str, Any] = field(default_factory=dict)
    """The Arrow columns the sample reads from (text and categorical ones), for the few rows it keeps."""

    def sample_values(self, positions: list[int], text: tuple[str, ...],
                      categorical: tuple[str, ...]) -> tuple[list[str], list[tuple[str, ...]]]:
        """For the sampled ``positions``: the joined text (as ``Profile.add`` joins it) and the categorical
        values (``str`` of each, ``""`` for a column the block does not hold)."""
        import numpy as np
        import pyarrow as pa
        # Built from its buffer: ``pa.array`` of a list or numpy array imports pandas on first use.
        index = pa.Array.from_buffers(pa.int64(), len(positions),
                                      [None, pa.py_buffer(np.asarray(positions, dtype=np.int64))])
        texts = [self.columns[name].take(index).to_pylist() for name in text]
        joined = texts[0] if len(texts) == 1 else ["\n".join(parts) for parts in zip(*texts, strict=True)] \
            if texts else [""] * len(positions)
        cats = [["" if v is None else str(v) for v in self.columns[name].take(index).to_pylist()]
                if name in self.columns else [""] * len(positions) for name in categorical]
        return joined, list(zip(*cats, strict=True)) if cats else [()] * len(positions)


def _row_hashes(keys: list[str], values: list[list[str]], size: int) -> list[int]:
    """``profile._hash64`` of each row's ``KEY\x1eVALUE`` parts joined by ``\x1f``, as ``Profile.add`` joins them
    (one ``str.format`` per row builds the joined text)."""
    blake2b, number = hashlib.blake2b, int.from_bytes
    if not keys:
        return [number(blake2b(b"", digest_size=8).digest(), "little")] * size
    template = "\x1f".join(k.replace("{", "{{").replace("}", "}}") + "\x1e{}" for k in keys)
    return [number(blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
            for text in map(template.format, *values)]


def _hashes_by_presence(keys: list[str], values: list[list[str]], absent: dict[str, Any], size: int) -> list[int]:
    """``_row_hashes`` where rows that lack optional fields hash only the fields they hold (rows grouped by which
    of ``keys`` they lack)."""
    import numpy as np
    lacking = [k for k in keys if k in absent and absent[k].any()]
    if not lacking:
        return _row_hashes(keys, values, size)
    pattern = np.zeros(size, dtype=np.int64)
    for bit, name in enumerate(lacking):
        pattern |= absent[name].astype(np.int64) << bit
    out = [0] * size
    for code in np.unique(pattern).tolist():
        rows = np.flatnonzero(pattern == code).tolist()
        held = [j for j, k in enumerate(keys) if k not in lacking or not code >> lacking.index(k) & 1]
        hashes = _row_hashes([keys[j] for j in held], [[values[j][i] for i in rows] for j in held], len(rows))
        for i, h in zip(rows, hashes, strict=True):
            out[i] = h
    return out


def build_block(data: bytes, lines: int, *, first_index: int, first_line: int, flags: bytearray,
                plan: Plan) -> Block | None:
    """The block of ``lines`` raw JSON lines in ``data`` (valid UTF-8, no CR/NUL/BOM), or ``None`` to decline."""
    if lines == 0 or (data[:1] == b"{") + data.count(b"\n{") != lines:
        return None  # a blank line or a line that is not an object
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    try:
        table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(use_threads=False,
                                                                          block_size=len(data) + 1)).combine_chunks()
    except (pa.ArrowException, ValueError, OSError):
        return None
    names = table.column_names
    if table.num_rows != lines or 1 + len(names) > plan.max_values or len(set(names)) != len(names):
        return None
    roles, schema = plan.roles, plan.schema
    if any(n.lower() in _PAIR_NAMES or n.isdigit() for n in names):
        return None
    if any(n not in names and presence >= 0.99 for n, (_kind, presence) in schema.items()):
        return None  # every row misses a field (schema drift on each)
    unknown = [n for n in names if n not in schema]
    if any(not _PLAIN_KEY.fullmatch(n) for n in unknown):
        return None  # a key JSON may spell with escapes: its lines could not be found by its name
    kinds: dict[str, str] = {}
    for name, column in zip(names, table.columns, strict=True):
        kind = column.type
        if name in unknown:
            continue  # only Python rows hold it (see below)
        if pa.types.is_string(kind):
            kinds[name] = "string"
        elif pa.types.is_int64(kind):
            kinds[name] = "number"
        elif pa.types.is_float64(kind):
            values = _numeric(column, "float64", math.nan)
            finite = values[np.isfinite(values)]
            if (finite == np.trunc(finite)).any():
                return None  # ``1`` and ``1.0`` read the same here, not in ``json``
            kinds[name] = "number"
        elif pa.types.is_boolean(kind):
            kinds[name] = "bool"
        else:
            return None
    if any(kinds.get(n) != "string" for n in roles.text):
        return None
    python = np.frombuffer(bytes(flags), dtype=np.uint8).astype(bool)
    starts = np.concatenate(([0], np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A) + 1))
    for name in unknown:
        # A field the schema does not know is drift in every row that has it, null or not; Arrow reads a missing
        # field as null, so every line that names it (as a key or anywhere else) goes the Python way.
        python |= _naming(data, starts, name)
    absent: dict[str, Any] = {}
    for name, column in zip(names, table.columns, strict=True):
        if name in unknown:
            continue
        expected = schema[name][0]
        if column.null_count:
            nulls = _bools(column.is_null())
            if schema[name][1] < 0.99 and name not in roles.text and _PLAIN_KEY.fullmatch(name):
                # An optional field: a null row whose line never names it lacks it (no drift, not hashed); one
                # that names it may hold an explicit null and goes the Python way.
                named = _naming(data, starts, name)
                python |= nulls & named
                absent[name] = nulls & ~named
            else:
                python |= nulls
        if kinds[name] == "string":
            looks = pc.and_(pc.or_(pc.starts_with(column, "{"), pc.starts_with(column, "[")),
                            pc.or_(pc.ends_with(column, "}"), pc.ends_with(column, "]")))
            obj = _bools(looks)
            if expected not in ("null", "object"):
                python |= obj
            if expected not in ("null", "string"):
                python |= ~obj
            python |= _numeric(pc.binary_length(column), "int32", 1) == 0  # (a scalar argument imports pandas)
            if name in roles.text:
                python |= _bools(pc.match_substring_regex(column, _BLANK))
        elif expected not in ("null", kinds[name]):
            return None
    if python.all() or len(absent) > 60:  # (rows are grouped by a bit per optional field)
        return None
    block = Block(first_index=first_index, first_line=first_line, size=lines,
                  python=tuple(np.flatnonzero(python).tolist()))
    _fill(block, table, kinds, roles, absent)
    return block


def _naming(data: bytes, starts: Any, name: str) -> Any:
    """A numpy bool per line of ``data`` (lines begin at ``starts``): whether the line holds ``"name"``."""
    import numpy as np
    found = np.zeros(len(starts) - (1 if data.endswith(b"\n") else 0), dtype=bool)
    key = json.dumps(name).encode()
    at = data.find(key)
    while at >= 0:
        found[np.searchsorted(starts, at, side="right") - 1] = True
        at = data.find(key, at + 1)
    return found


def _one(array: Any) -> Any:
    """A chunked array's single chunk (``build_block`` combines the table's chunks), else the array itself."""
    return array.chunk(0) if hasattr(array, "num_chunks") else array


def _bits(buffer: Any, offset: int, size: int) -> Any:
    """``size`` bits of an Arrow bitmap from ``offset`` as a numpy bool array."""
    import numpy as np
    return np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), bitorder="little")[offset:offset + size].astype(bool)


def _bools(array: Any) -> Any:
    """A boolean Arrow array (nulls as False) as numpy, from its bitmaps: pyarrow's ``to_numpy`` and even
    ``pa.scalar`` (so ``fill_null``) import pandas on first use (0.3 CPU-s and ~50 MB per process)."""
    import numpy as np
    one = _one(array)
    if not len(one):
        return np.zeros(0, dtype=bool)
    values = _bits(one.buffers()[1], one.offset, len(one))
    if one.null_count:
        values &= _bits(one.buffers()[0], one.offset, len(one))
    return values


def _numeric(array: Any, dtype: str, fill: float) -> Any:
    """A fixed-width numeric Arrow array (nulls as ``fill``) as numpy, read from its buffers."""
    import numpy as np
    one = _one(array)
    values = np.frombuffer(one.buffers()[1], dtype=dtype)[one.offset:one.offset + len(one)]
    if one.null_count:
        values = np.where(_bits(one.buffers()[0], one.offset, len(one)), values, fill)
    return values


def _normalised(column: Any, kind: str) -> list[str]:
    """``profile._norm`` of each value: ASCII strings folded by Arrow, other strings by ``_norm`` itself."""
    import pyarrow.compute as pc

    from aisec.datasets.profile import _norm
    if kind != "string":
        return [repr(v) for v in column.to_pylist()]
    folded = pc.ascii_trim(pc.replace_substring_regex(pc.ascii_lower(column), _WHITESPACE, " "), " ")
    out: list[str] = folded.to_pylist()
    ascii_only = _bools(pc.string_is_ascii(column))
    if not ascii_only.all():
        import numpy as np
        raw = column.to_pylist()
        for i in np.flatnonzero(~ascii_only).tolist():
            out[i] = _norm(raw[i])
    return out


def _fill(block: Block, table: Any, kinds: dict[str, str], roles: Roles, absent: dict[str, Any]) -> None:
    import pyarrow.compute as pc

    names = [n for n in table.column_names if n in kinds]  # regular rows lack the unknown fields
    columns = dict(zip(table.column_names, table.columns, strict=True))
    ids = frozenset(roles.ids)
    keys = sorted(n for n in names if n not in ids)
    values = [_normalised(columns[k], kinds[k]) for k in keys]
    block.record_hashes.extend(_hashes_by_presence(keys, values, absent, block.size))
    if roles.label in keys:
        at = keys.index(roles.label)
        block.feature_hashes.extend(_hashes_by_presence(keys[:at] + keys[at + 1:], values[:at] + values[at + 1:],
                                                        absent, block.size))
    else:
        block.feature_hashes.extend(block.record_hashes)
    label = roles.label
    if label is not None and label in kinds:
        # A regular row's null label is a missing one (explicit nulls went the Python way).
        block.labels.extend(None if v is None else str(v) for v in columns[label].to_pylist())
    else:
        block.labels.extend([None] * block.size)
    for name in roles.text:
        block.columns[name] = columns[name]
        block.lengths[name] = _numeric(pc.utf8_length(columns[name]), "int32", 0)
    for name in roles.categorical:
        if name in kinds:
            block.columns[name] = columns[name]
    for name in roles.numeric:
        block.numbers[name] = _numbers(columns[name] if name in kinds else None, kinds.get(name), block.size)


def _numbers(column: Any, kind: str | None, size: int) -> Any:
    """``as_number`` of each value as a numpy float array (NaN for ``None``)."""
    import numpy as np
    import pyarrow as pa
    if kind == "number":
        return _numeric(column.cast(pa.float64()), "float64", math.nan)
    if kind == "string":
        return np.array([math.nan if (n := as_number(v)) is None else n for v in column.to_pylist()], dtype=float)
    return np.full(size, math.nan)  # booleans are no numbers; a column the block lacks is missing everywhere
