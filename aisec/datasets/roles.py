"""Column roles (text, label, id, numeric, categorical) from the policy or inferred from a sample of rows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from aisec.datasets.records import Row
from aisec.datasets.settings import DatasetSettings

_ID_NAME = re.compile(r"(?i)^(?:id|uuid|guid|idx|index|key|row|_id|.*[_-]id|.*[_-]uuid|timestamp|created_at|date)$")


@dataclass(frozen=True, kw_only=True)
class Roles:
    """Which columns play which part; ``inferred`` says, per role, what was guessed (empty when configured)."""

    text: tuple[str, ...] = ()
    label: str | None = None
    ids: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    inferred: dict[str, str] = field(default_factory=dict)


def as_number(value: object) -> float | None:
    """A float for numbers and numeric strings, else ``None`` (booleans are not numbers here)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            number = float(value)
        except ValueError:
            return None
        return number if number == number else None  # NaN is not a usable number
    return None


def _is_label_name(name: str, patterns: Sequence[str]) -> bool:
    low = name.lower()
    return low in patterns or any(low.endswith(f"_{p}") for p in patterns if len(p) > 1)


def infer_roles(rows: Sequence[Row], settings: DatasetSettings) -> Roles:
    """Decide roles from ``rows`` (the first rows of the file); configured roles always win."""
    columns: list[str] = []
    for row in rows:
        for name in row.values:
            if name not in columns:
                columns.append(name)
    stats = {}
    for name in columns:
        values = [row.values.get(name) for row in rows]
        present = [v for v in values if v is not None and v != ""]
        numbers = [as_number(v) for v in present]
        numeric_share = sum(n is not None for n in numbers) / len(present) if present else 0.0
        distinct = len({str(v) for v in present})
        mean_len = sum(len(str(v)) for v in present) / len(present) if present else 0.0
        stats[name] = (len(present), numeric_share, distinct, mean_len)
    inferred: dict[str, str] = {}
    label = settings.label_column if settings.label_column in columns else None
    if settings.label_column is None:
        for name in columns:
            n, _share, distinct, _mean = stats[name]
            # One distinct value is accepted: a file sorted by label starts with a single class.
            if _is_label_name(name, settings.label_name_patterns) and n and \
                    distinct <= settings.label_max_classes and distinct < max(2, 0.5 * n):
                label = name
                inferred["label"] = f"{name} (named like a label, {distinct} distinct values in {n} sampled rows)"
                break
    ids = tuple(c for c in settings.id_columns if c in columns)
    if not settings.id_columns:
        ids = tuple(c for c in columns if c != label and _ID_NAME.match(c) and stats[c][0] and
                    stats[c][2] >= 0.95 * stats[c][0])
        if ids:
            inferred["ids"] = ", ".join(ids) + " (named like ids, nearly all values distinct)"
    text = tuple(c for c in settings.text_columns if c in columns)
    if not settings.text_columns:
        picked = []
        for name in columns:
            n, share, distinct, mean_len = stats[name]
            if name in (label, *ids) or not n or share >= 0.95:
                continue
            if name == "messages" or (distinct >= settings.text_min_distinct_ratio * n and
                                      mean_len >= settings.text_min_mean_chars):
                picked.append(name)
        text = tuple(picked)
        if text:
            inferred["text"] = ", ".join(text) + " (strings with mostly distinct, long values)"
    numeric = tuple(c for c in columns if c not in (label, *ids, *text) and stats[c][0] and stats[c][1] >= 0.95)
    categorical = tuple(c for c in columns if c not in (label, *ids, *text, *numeric) and stats[c][0] and
                        stats[c][2] <= settings.label_max_classes)
    return Roles(text=text, label=label, ids=ids, numeric=numeric, categorical=categorical,
                 columns=tuple(columns), inferred=inferred)
