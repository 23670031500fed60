"""Which row group a per-row signal belongs to: one finding per signal and column (or per value, where rules
decide by the value), so a signal in thousands of rows is one finding listing them all, not a capped sample."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from typing import Any

VALUE_GROUPED = frozenset({"dataset.url_host", "dataset.secret", "dataset.typosquat"})
"""Cell signals whose rules decide by the value (URL allowlist and raw IPs, secret kind, package name): one group
per column and value."""
OBSERVATION_GROUPS: Mapping[str, tuple[str, ...]] = {
    "dataset.label_issue": (),
    "dataset.schema_drift": ("drift",),
    "dataset.extreme_value": ("kind",),
}
"""Per-row dataset observations grouped by their value (the label or column) and these evidence fields."""
_ROW_PREFIX = re.compile(r"^/\d+(?=/|$)")


def column_of(pointer: str | None, line: int | None) -> str:
    """The column a cell pointer names: Parquet pointers (rows without lines) start with the row number."""
    if pointer is None:
        return ""
    return _ROW_PREFIX.sub("", pointer) if line is None else pointer


def cell_group(key: str, value: Any, pointer: str | None, line: int | None) -> Hashable:
    """The row group of one per-cell signal."""
    column = column_of(pointer, line)
    return (column, str(value)) if key in VALUE_GROUPED else (column,)


def observation_group(key: str, value: Any, detail: Mapping[str, Any]) -> Hashable | None:
    """The row group of a per-row observation, ``None`` for observations reported on their own."""
    fields = OBSERVATION_GROUPS.get(key)
    if fields is None or not isinstance(detail.get("row"), int):
        return None
    return (str(value), *(str(detail.get(f, "")) for f in fields))
