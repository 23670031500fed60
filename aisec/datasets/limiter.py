"""Bound the facts a dataset reports, never what is counted: per-row signals become one fact per signal and
column carrying every affected row as a related location; other signals keep at most N facts; every occurrence and
row is counted (a hostile file cannot flood the report, and a capped signal still says how large it was)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from aisec.model import Location, RelatedLocation

MAX_DISTINCT_VALUES = 1000
"""Distinct values a row group tallies (for its evidence); further values are counted as ``other``."""
VALUES_SHOWN = 10
"""Most common values listed in a row group's evidence."""


@dataclass(frozen=True, kw_only=True)
class Overflow:
    """A signal that occurred more often than was kept."""

    total: int
    """Every occurrence, kept or not."""
    rows: int
    """Distinct rows with the signal (0 when the signal is not about rows)."""
    kept: int


@dataclass
class RowGroup:
    """Every row of one signal in one column (or of one value): counted, and listed up to the caps."""

    rows: int = 0
    occurrences: int = 0
    shown: list[tuple[int | None, Location]] = field(default_factory=list)
    """(row label, where) of the rows attached, in arrival order; the label is the row index the reader counts."""
    values: Counter[str] = field(default_factory=Counter)
    _last_row: int | None = None
    _row_set: set[int] = field(default_factory=set)

    def add(self, row: int | None, label: int | None, location: Location, value: Any, *, ordered: bool,
            room: bool) -> bool:
        """Count one occurrence; attach its row when new and ``room`` is left. True when a row was attached."""
        self.occurrences += 1
        text = str(value)
        if text in self.values or len(self.values) < MAX_DISTINCT_VALUES:
            self.values[text] += 1
        else:
            self.values["other"] += 1
        if row is not None:
            if ordered:
                if self._last_row == row:
                    return False
                self._last_row = row
            else:
                if row in self._row_set:
                    return False
                self._row_set.add(row)
        self.rows += 1
        if room:
            self.shown.append((label if label is not None else row, location))
            return True
        return False

    def evidence(self) -> dict[str, Any]:
        """The group's totals (``affected_rows`` is never capped) and its most common values."""
        out: dict[str, Any] = {"affected_rows": self.rows, "related_shown": len(self.shown),
                               "occurrences": self.occurrences}
        if len(self.values) > 1:
            common = sorted(self.values.items(), key=lambda kv: (-kv[1], kv[0]))
            listed = ", ".join(f"{v} ({n})" for v, n in common[:VALUES_SHOWN])
            out["values"] = listed + (f", … ({len(self.values)} distinct)" if len(common) > VALUES_SHOWN else "")
        return out

    def related(self) -> tuple[RelatedLocation, ...]:
        """The attached rows as related locations (labelled ``row N``, or ``line N`` without a row), in file
        order."""
        def order(item: tuple[int | None, Location]) -> tuple[int, tuple[str, str, int, int, int, str]]:
            return (item[0] if item[0] is not None else -1, item[1].sort_key())
        return tuple(RelatedLocation(location=location,
                                     message=f"row {label}" if label is not None else f"line {location.line or 0}")
                     for label, location in sorted(self.shown, key=order))


@dataclass
class Kept:
    """One reported fact: where it was (first) seen, its value and evidence, and the rows it concerns."""

    location: Location
    value: Any
    detail: dict[str, Any]
    related: tuple[RelatedLocation, ...] = ()
    group: RowGroup | None = None

    def facts_detail(self) -> dict[str, Any]:
        """Evidence including the group's totals."""
        return self.detail if self.group is None else {**self.detail, **self.group.evidence()}

    def related_locations(self) -> tuple[RelatedLocation, ...]:
        """Related places: the producer's own, or the group's rows."""
        return self.related if self.group is None else self.group.related()


@dataclass
class Limiter:
    """Per fact key: at most ``cap`` kept facts (row groups or single facts), every occurrence and row counted.

    A row group gathers one signal's rows (one column, or one value): its first occurrence locates the fact and
    every row is attached as a related location, up to ``related_cap`` per fact and ``related_budget`` per file."""

    cap: int
    related_cap: int = 10_000
    related_budget: int = 100_000
    kept: dict[str, list[Kept]] = field(default_factory=dict)
    total: Counter[str] = field(default_factory=Counter)
    row_counts: Counter[str] = field(default_factory=Counter)
    represented: Counter[str] = field(default_factory=Counter)
    """Occurrences a kept fact stands for (itself, or every occurrence of its row group)."""
    _groups: dict[tuple[str, Hashable], RowGroup] = field(default_factory=dict)
    _last_row: dict[str, int] = field(default_factory=dict)
    _row_sets: dict[str, set[int]] = field(default_factory=dict)
    _attached: int = 0

    def add(self, key: str, value: Any, location: Location, detail: dict[str, Any], row: int | None, *,
            ordered: bool = True, group: Hashable | None = None, label: int | None = None,
            related: tuple[RelatedLocation, ...] = ()) -> None:
        """Record one observation. ``ordered``: rows arrive in file order (the streaming pass), so a row is
        counted once by comparing with the previous one; otherwise (dataset-level observations, bounded by the
        sample) distinct rows are kept in a set. ``group``: the row group the observation belongs to (``None``:
        a fact of its own); ``label``: the row number shown for it when it differs from ``row`` (shards)."""
        self.total[key] += 1
        if row is not None:
            self._count_row(key, row, ordered)
        bucket = self.kept.setdefault(key, [])
        if group is not None:
            found = self._groups.get((key, group))
            if found is None:
                if len(bucket) >= self.cap:
                    return
                found = self._groups[(key, group)] = RowGroup()
                bucket.append(Kept(location=location, value=value, detail=detail, group=found))
            self.represented[key] += 1
            room = len(found.shown) < self.related_cap and self._attached < self.related_budget
            if found.add(row, label, location, value, ordered=ordered, room=room):
                self._attached += 1
            return
        if len(bucket) >= self.cap:
            return
        self.represented[key] += 1
        bucket.append(Kept(location=location, value=value, detail=detail, related=related))

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
        """Keys with occurrences no kept fact stands for."""
        return {k: Overflow(total=n, rows=self.row_counts.get(k, 0), kept=len(self.kept.get(k, ())))
                for k, n in sorted(self.total.items()) if n > self.represented.get(k, 0)}
