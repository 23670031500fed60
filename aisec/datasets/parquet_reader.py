"""Parquet rows read in record batches with pyarrow (bounded memory); rows are located by index, not line.

The pre-screen runs on each batch's string columns (RE2 through pyarrow compute): a row none of whose cells can
carry a per-cell signal is marked ``scan=False`` and its cells are never built."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from aisec.datasets.json_positions import escape_pointer_token
from aisec.datasets.records import Cell, LazyCells, ReadIssue, Row, new_row

BATCH_ROWS = 2048
"""Rows turned into Python objects at once."""
SCREEN_BYTES = 8 * 1024 * 1024
"""About how many bytes of data one screened batch holds: pyarrow compiles the screen's RE2 patterns per call
(tens of milliseconds), so batches are large, but bounded so memory stays flat however wide the rows are."""
MAX_SCREEN_ROWS = 65_536


def _strings(value: Any, pointer: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, str):
        out.append((pointer, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            _strings(v, f"{pointer}/{escape_pointer_token(str(k))}", out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _strings(v, f"{pointer}/{i}", out)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, bytes):
        return value.hex()[:512]
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)[:4096]


def candidate_rows(batch: Any) -> Any:
    """A numpy bool per row of a record batch: whether any of its cells can carry a per-cell text signal. String
    columns are screened value by value; a non-null nested value (list, struct, map, dictionary …) may hold strings
    and always counts; numbers, booleans, times and bytes hold no cell."""
    import numpy as np
    import pyarrow as pa

    from aisec.datasets.prescreen import bools, candidate_values

    flags = np.zeros(batch.num_rows, dtype=bool)
    for column in batch.columns:
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            flags |= candidate_values(column)
        elif pa.types.is_string_view(kind):
            flags |= candidate_values(column.cast(pa.large_string()))
        elif pa.types.is_dictionary(kind) and (pa.types.is_string(kind.value_type)
                                               or pa.types.is_large_string(kind.value_type)):
            # Screen each distinct value once (categorical columns): a row takes its value's verdict.
            distinct = candidate_values(column.dictionary)
            indices = column.indices
            # Read from the buffer (a null's slot holds any value: clipped, then masked by validity).
            codes = np.frombuffer(indices.buffers()[1], dtype=np.dtype(str(indices.type)))
            codes = np.clip(codes[indices.offset:indices.offset + len(indices)], 0, max(len(distinct) - 1, 0))
            valid = bools(column.is_valid())
            if len(distinct):
                flags |= distinct[codes] & valid
        elif pa.types.is_nested(kind) or pa.types.is_dictionary(kind) or isinstance(kind, pa.ExtensionType):
            flags |= bools(column.is_valid())
    return flags


def read_parquet(handle: BinaryIO, *, max_rows: int, issues: list[ReadIssue], screen: bool = False) -> Iterator[Row]:
    """Yield rows batch by batch; a file pyarrow cannot read becomes one issue. With ``screen``, rows the
    pre-screen rules out are marked ``scan=False``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(handle)
        batches = parquet.iter_batches(batch_size=_screen_rows(parquet) if screen else BATCH_ROWS)
        index = 0
        for batch in batches:
            flags = candidate_rows(batch) if screen else None
            for i, record in enumerate(_records(batch)):
                if index >= max_rows:
                    issues.append(ReadIssue(kind="row_limit", message=f"more than max_dataset_rows={max_rows} "
                                                                      "rows; the rest was not read"))
                    return
                values = {str(k): _scalar(v) for k, v in record.items()}
                yield new_row(index, None, values, _cells(record, index), flags is None or bool(flags[i]))
                index += 1
    except (pa.ArrowException, OSError, ValueError) as exc:
        issues.append(ReadIssue(kind="unparseable", message=f"Parquet file cannot be read: {str(exc)[:200]}"))


def _screen_rows(parquet: Any) -> int:
    """Rows per screened batch: about ``SCREEN_BYTES`` of uncompressed data, from the row groups' sizes."""
    meta = parquet.metadata
    rows = sum(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    per_row = size / rows if rows else 1.0
    return max(BATCH_ROWS // 8, min(MAX_SCREEN_ROWS, int(SCREEN_BYTES / max(per_row, 1.0))))


def _records(batch: Any) -> Iterator[dict[str, Any]]:
    """A batch's rows as Python dicts, ``BATCH_ROWS`` at a time (a screened batch may be much larger)."""
    for start in range(0, batch.num_rows, BATCH_ROWS):
        yield from batch.slice(start, BATCH_ROWS).to_pylist()


def _cells(record: dict[str, Any], index: int) -> LazyCells:
    def make() -> list[Cell]:
        strings: list[tuple[str, str]] = []
        for name, value in record.items():
            _strings(value, f"/{index}/{escape_pointer_token(str(name))}", strings)
        return [Cell(pointer=p, text=s) for p, s in strings]
    return LazyCells(make)
