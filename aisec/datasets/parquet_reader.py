"""Parquet rows read in record batches with pyarrow (bounded memory); rows are located by index, not line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from aisec.datasets.json_positions import escape_pointer_token
from aisec.datasets.records import Cell, ReadIssue, Row

BATCH_ROWS = 2048


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


def read_parquet(handle: BinaryIO, *, max_rows: int, issues: list[ReadIssue]) -> Iterator[Row]:
    """Yield rows batch by batch; a file pyarrow cannot read becomes one issue."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(handle)
        batches = parquet.iter_batches(batch_size=BATCH_ROWS)
        index = 0
        for batch in batches:
            for record in batch.to_pylist():
                if index >= max_rows:
                    issues.append(ReadIssue(kind="row_limit", message=f"more than max_dataset_rows={max_rows} "
                                                                      "rows; the rest was not read"))
                    return
                strings: list[tuple[str, str]] = []
                for name, value in record.items():
                    _strings(value, f"/{index}/{escape_pointer_token(str(name))}", strings)
                values = {str(k): _scalar(v) for k, v in record.items()}
                yield Row(index=index, line=None, values=values,
                          cells=[Cell(pointer=p, text=s) for p, s in strings])
                index += 1
    except (pa.ArrowException, OSError, ValueError) as exc:
        issues.append(ReadIssue(kind="unparseable", message=f"Parquet file cannot be read: {str(exc)[:200]}"))
