"""Keep at most N row-level observations per signal; count the rest (a hostile file cannot flood the report)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aisec.model import Location


@dataclass
class Limiter:
    """Per fact key: the first ``cap`` (location, value, detail) triples kept, and every occurrence counted."""

    cap: int
    per_value_cap: dict[str, int] = field(default_factory=dict)
    """Keys whose facts are also capped per distinct value (URL hosts)."""
    kept: dict[str, list[tuple[Location, Any, dict[str, Any]]]] = field(default_factory=dict)
    total: Counter[str] = field(default_factory=Counter)
    rows: dict[str, set[int]] = field(default_factory=dict)
    row_counts: Counter[str] = field(default_factory=Counter)
    _per_value: Counter[tuple[str, Any]] = field(default_factory=Counter)
    _last_row: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, value: Any, location: Location, detail: dict[str, Any], row: int | None) -> None:
        """Record one observation."""
        self.total[key] += 1
        if row is not None and self._last_row.get(key) != row:
            self._last_row[key] = row
            self.row_counts[key] += 1
        bucket = self.kept.setdefault(key, [])
        if key in self.per_value_cap:
            if len(bucket) >= 10 * self.cap:
                return  # checked first, so the per-value counter stays bounded too
            self._per_value[(key, value)] += 1
            if self._per_value[(key, value)] > self.per_value_cap[key]:
                return
        elif len(bucket) >= self.cap:
            return
        bucket.append((location, value, detail))

    def overflow(self) -> dict[str, tuple[int, int]]:
        """Keys with more occurrences than kept: key -> (total, kept)."""
        return {k: (n, len(self.kept.get(k, ()))) for k, n in sorted(self.total.items())
                if n > len(self.kept.get(k, ()))}
