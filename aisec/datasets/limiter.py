"""Keep at most N row-level observations per signal; count all of them, occurrences and rows (a hostile file
cannot flood the report, and a capped signal still says how large it was)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aisec.model import Location


@dataclass(frozen=True, kw_only=True)
class Overflow:
    """A signal that occurred more often than was kept."""

    total: int
    """Every occurrence, kept or not."""
    rows: int
    """Distinct rows with the signal (0 when the signal is not about rows)."""
    kept: int


@dataclass
class Limiter:
    """Per fact key: the first ``cap`` (location, value, detail) triples kept, and every occurrence counted."""

    cap: int
    per_value_cap: dict[str, int] = field(default_factory=dict)
    """Keys whose facts are also capped per distinct value (URL hosts)."""
    kept: dict[str, list[tuple[Location, Any, dict[str, Any]]]] = field(default_factory=dict)
    total: Counter[str] = field(default_factory=Counter)
    row_counts: Counter[str] = field(default_factory=Counter)
    _per_value: Counter[tuple[str, Any]] = field(default_factory=Counter)
    _last_row: dict[str, int] = field(default_factory=dict)
    _row_sets: dict[str, set[int]] = field(default_factory=dict)

    def add(self, key: str, value: Any, location: Location, detail: dict[str, Any], row: int | None, *,
            ordered: bool = True) -> None:
        """Record one observation. ``ordered``: rows arrive in file order (the streaming pass), so a row is
        counted once by comparing with the previous one; otherwise (dataset-level observations, bounded by the
        sample) distinct rows are kept in a set."""
        self.total[key] += 1
        if row is not None:
            self._count_row(key, row, ordered)
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

    def _count_row(self, key: str, row: int, ordered: bool) -> None:
        if ordered:
            if self._last_row.get(key) != row:
                self._last_row[key] = row
                self.row_counts[key] += 1
            return
        seen = self._row_sets.setdefault(key, set())
        if row not in seen:
            seen.add(row)
            self.row_counts[key] += 1

    def uncounted(self, key: str, occurrences: int, rows: int) -> None:
        """Occurrences (and their distinct rows) that an upstream bound already left out: still counted."""
        if occurrences > 0:
            self.total[key] += occurrences
            self.row_counts[key] += rows
            self.kept.setdefault(key, [])

    def overflow(self) -> dict[str, Overflow]:
        """Keys with more occurrences than kept."""
        return {k: Overflow(total=n, rows=self.row_counts.get(k, 0), kept=len(self.kept.get(k, ())))
                for k, n in sorted(self.total.items()) if n > len(self.kept.get(k, ()))}
