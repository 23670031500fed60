"""Open a dataset by kind and stream its rows; also the light pass manifests need (rows, labels, SHA-256)."""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from aisec.datasets.columnar import Block, Columnar
from aisec.datasets.csv_reader import read_csv
from aisec.datasets.json_array_reader import read_json_array
from aisec.datasets.jsonl_reader import read_jsonl
from aisec.datasets.lines import HashingReader, Screen
from aisec.datasets.parquet_reader import read_parquet
from aisec.datasets.prescreen import candidate_lines
from aisec.datasets.records import ReadIssue, Row
from aisec.datasets.roles import infer_roles
from aisec.datasets.settings import DatasetSettings
from aisec.limits import Limits
from aisec.model import ArtifactKind

BUFFER_BYTES = 1024 * 1024


def rows_of(handle: BinaryIO, kind: ArtifactKind, *, settings: DatasetSettings, limits: Limits,
            issues: list[ReadIssue]) -> tuple[HashingReader, Iterator[Row]]:
    """The hashing reader over ``handle`` and the row iterator for the kind (Parquet reads the handle itself)."""
    reader, items = items_of(handle, kind, settings=settings, limits=limits, issues=issues, columnar=None)
    return reader, cast(Iterator[Row], items)  # without ``columnar`` no block is ever yielded


def items_of(handle: BinaryIO, kind: ArtifactKind, *, settings: DatasetSettings, limits: Limits,
             issues: list[ReadIssue], columnar: Columnar | None) -> tuple[HashingReader, Iterator[Row | Block]]:
    """``rows_of``, and with ``columnar`` (JSON Lines only) blocks of regular rows once its plan is set."""
    reader = HashingReader(handle)
    if kind is ArtifactKind.CSV:
        return reader, read_csv(reader, max_line_bytes=settings.max_line_bytes, max_rows=limits.max_dataset_rows,
                                issues=issues, screen=_screen(settings, json=False))
    if kind is ArtifactKind.JSONL:
        return reader, read_jsonl(reader, max_line_bytes=settings.max_line_bytes, max_rows=limits.max_dataset_rows,
                                  max_values=settings.max_values_per_record, issues=issues,
                                  screen=_screen(settings, json=True), columnar=columnar)
    if kind is ArtifactKind.PARQUET:
        return reader, read_parquet(handle, max_rows=limits.max_dataset_rows, issues=issues,
                                    screen=settings.prescreen)
    if kind is ArtifactKind.JSON_RECORDS:
        return reader, read_json_array(reader, max_line_bytes=settings.max_line_bytes,
                                       max_rows=limits.max_dataset_rows, max_values=settings.max_values_per_record,
                                       issues=issues)
    raise ValueError(f"not a dataset kind: {kind.value}")


def _screen(settings: DatasetSettings, *, json: bool) -> Screen | None:
    if not settings.prescreen:
        return None
    return functools.partial(_screen_batch, json=json)


def _screen_batch(raw: bytes, valid_utf8: bool | None, *, json: bool) -> bytearray:
    return candidate_lines(raw, json=json, valid_utf8=valid_utf8)


@dataclass(frozen=True, kw_only=True)
class ReadResult:
    """Totals of one pass over a dataset file."""

    sha256: str
    bytes_read: int
    rows: int
    label_column: str | None
    label_counts: Counter[str] = field(default_factory=Counter)
    issues: tuple[ReadIssue, ...] = ()


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, streamed."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(BUFFER_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def read_dataset(path: Path, kind: ArtifactKind, *, settings: DatasetSettings, limits: Limits) -> ReadResult:
    """Count rows and labels (roles inferred from the first rows, as the scan does) and hash the file."""
    issues: list[ReadIssue] = []
    with open(path, "rb", buffering=BUFFER_BYTES) as handle:
        reader, rows = rows_of(handle, kind, settings=settings, limits=limits, issues=issues)
        head = list(itertools.islice(rows, settings.role_sample_rows))
        roles = infer_roles(head, settings)
        counts: Counter[str] = Counter()
        total = 0
        for row in itertools.chain(head, rows):
            total += 1
            if roles.label is not None:
                value = row.values.get(roles.label)
                if value is not None and value != "":
                    counts[str(value)] += 1
        if kind is not ArtifactKind.PARQUET:
            reader.drain()
    if kind is ArtifactKind.PARQUET:
        sha, size = file_sha256(path)
    else:
        sha, size = reader.digest.hexdigest(), reader.bytes_read
    return ReadResult(sha256=sha, bytes_read=size, rows=total, label_column=roles.label, label_counts=counts,
                      issues=tuple(issues))
