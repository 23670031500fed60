"""One streaming pass over rows: label counts, record hashes, schema, extremes and a seeded row sample."""

from __future__ import annotations

import hashlib
import heapq
import math
import random
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aisec.datasets.records import Observation, Row, Span
from aisec.datasets.roles import Roles, as_number
from aisec.datasets.settings import DatasetSettings

if TYPE_CHECKING:
    from aisec.datasets.columnar import Block

MAX_DRIFT_FIELDS = 1000
"""Distinct (field, drift kind) pairs tracked; the rest are counted under field ``*``."""
MAX_SAMPLE_TEXT = 5000
"""Characters of a row's text kept in the sample (models and MinHash need no more)."""


@dataclass(frozen=True, kw_only=True)
class SampleRow:
    """What the statistical rules need of one row."""

    index: int
    line: int | None
    text: str
    label: str | None
    numeric: tuple[float, ...]
    categorical: tuple[str, ...]
    flagged: bool


@dataclass
class _Extremes:
    high: list[tuple[float, int, int]] = field(default_factory=list)
    low: list[tuple[float, int, int]] = field(default_factory=list)


def value_kind(value: Any, typed: bool) -> str:
    """``number``/``string``/``bool``/``object``/``null`` (CSV cells are strings that may read as numbers)."""
    if value is None or value == "":
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if not typed:
        return "number" if as_number(value) is not None else "string"
    if isinstance(value, str) and value[:1] in "{[" and value[-1:] in "}]":
        return "object"
    return "string"


def _same_kind(value: Any, kind: str) -> bool:
    """A quick yes for the common case that a typed value is of its column's kind (``value_kind`` decides the rest)."""
    t = type(value)
    if kind == "number":
        return t is int or t is float
    return kind == "string" and t is str and bool(value) and not (value[0] in "{[" and value[-1] in "}]")


def _norm(value: Any) -> str:
    if not isinstance(value, str):
        return repr(value)
    text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    return " ".join(text.casefold().split())


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


class Profile:
    """Accumulates everything dataset-level rules need, in memory bounded by the settings' row caps."""

    def __init__(self, roles: Roles, settings: DatasetSettings, *, typed: bool, schema_rows: Sequence[Row]) -> None:
        self.roles = roles
        self.settings = settings
        self.typed = typed
        self.rows = 0
        self.label_counts: Counter[str] = Counter()
        self.label_overflow = False
        self.record_hashes = array("Q")
        self.feature_hashes = array("Q")
        self.label_codes = array("l")
        self.lines = array("q")
        self.flags = bytearray()
        self.label_index: dict[str, int] = {}
        self.sample: list[SampleRow] = []
        self._rng = random.Random(settings.seed)  # noqa: S311 - reproducible sampling, not secrecy
        self.schema = self._schema(schema_rows)
        self._schema_names = frozenset(self.schema)
        self._ids = frozenset(roles.ids)
        self.drift_counts: Counter[tuple[str, str]] = Counter()
        self.drift_rows: dict[tuple[str, str], list[tuple[int, int | None, str]]] = {}
        self._drift_kept = 0
        self.numeric_extremes: dict[str, _Extremes] = {c: _Extremes() for c in roles.numeric}
        self.longest: dict[str, list[tuple[int, int, int]]] = {c: [] for c in roles.text}
        self.empty_text: Counter[str] = Counter()
        self.empty_rows: dict[str, list[tuple[int, int | None]]] = {c: [] for c in roles.text}
        self.uncounted_extremes = 0
        """Extreme values beyond the kept heaps (known once the extreme observations were read)."""
        self.text_lengths: list[int] = []

    def _schema(self, rows: Sequence[Row]) -> dict[str, tuple[str, float]]:
        kinds: dict[str, Counter[str]] = {}
        presence: Counter[str] = Counter()
        for row in rows:
            for name, value in row.values.items():
                presence[name] += 1
                kind = value_kind(value, self.typed)
                if kind != "null":
                    kinds.setdefault(name, Counter())[kind] += 1
        total = max(len(rows), 1)
        return {name: ((kinds[name].most_common(1)[0][0] if name in kinds else "null"), presence[name] / total)
                for name in presence}

    def add(self, row: Row, flagged: bool) -> None:
        """Account for one row."""
        roles, cap = self.roles, self.settings.max_facts_per_signal
        self.rows += 1
        label = row.values.get(roles.label) if roles.label else None
        label_text = None if label is None or label == "" else str(label)
        if label_text is not None and not self.label_overflow:
            self.label_counts[label_text] += 1
            if len(self.label_counts) > 10 * self.settings.label_max_classes:
                self.label_overflow = True
        if len(self.record_hashes) < self.settings.dedup_max_rows:
            skip = self._ids
            parts = [(k, f"{k}\x1e{_norm(v)}") for k, v in sorted(row.values.items()) if k not in skip]
            self.record_hashes.append(_hash64("\x1f".join(p for _, p in parts)))
            self.feature_hashes.append(_hash64("\x1f".join(p for k, p in parts if k != roles.label)))
            self.label_codes.append(-1 if label_text is None else self.label_index.setdefault(label_text,
                                                                                          len(self.label_index)))
            self.lines.append(row.line if row.line is not None else -row.index - 1)
            self.flags.append(1 if flagged else 0)
        # Drift and empty-text rows are per-row signals: every row is kept (up to the related-location caps) so
        # their findings can list them all.
        self._drift(row, self.settings.max_related_locations)
        text_parts = []
        for name in roles.text:
            value = row.values.get(name)
            if not isinstance(value, str) or not value.strip():
                self.empty_text[name] += 1
                if len(self.empty_rows[name]) < self.settings.max_related_locations:
                    self.empty_rows[name].append((row.index, row.line))
                continue
            text_parts.append(value)
            heap = self.longest[name]
            item = (len(value), -row.index, row.line or 0)
            if len(heap) < cap:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
        numeric = []
        for name in roles.numeric:
            number = as_number(row.values.get(name))
            numeric.append(math.nan if number is None else number)
            if number is not None and math.isfinite(number):
                ext = self.numeric_extremes[name]
                _push(ext.high, (number, -row.index, row.line or 0), cap)
                _push(ext.low, (-number, -row.index, row.line or 0), cap)
        k = self.settings.model_max_rows
        # The reservoir draw comes first (the same draws in the same order), so rows it rejects build nothing.
        j = len(self.sample) if len(self.sample) < k else self._rng.randrange(self.rows)
        if j >= k:
            return
        text = "\n".join(text_parts)[:MAX_SAMPLE_TEXT]
        sample = SampleRow(index=row.index, line=row.line, text=text, label=label_text, numeric=tuple(numeric),
                           categorical=tuple(str(row.values.get(c, "")) for c in roles.categorical),
                           flagged=flagged)
        if j == len(self.sample):
            self.sample.append(sample)
            self.text_lengths.append(len(text))
        else:
            self.sample[j] = sample
            self.text_lengths[j] = len(text)

    def add_block(self, block: Block, flagged: Mapping[int, bool]) -> None:
        """Account for a block's rows in order: its Python rows through ``add``, the regular rows from its columns
        (the same statistics; a regular row has no drift, no empty text and is never flagged)."""
        start = 0
        for position in (*block.python, block.size):
            if position > start:
                self._add_regular(block, start, position)
            if position < block.size:
                self.add(block.rows[position], flagged[position])
            start = position + 1

    def _add_regular(self, block: Block, lo: int, hi: int) -> None:
        """``add`` for the regular rows ``lo:hi`` of ``block`` (positions), column by column."""
        s, roles, cap = self.settings, self.roles, self.settings.max_facts_per_signal
        first = block.first_index + lo
        labels = block.labels[lo:hi]
        if not self.label_overflow:
            limit = 10 * s.label_max_classes
            if len(self.label_counts) + len(set(labels) - self.label_counts.keys() - {None}) <= limit:
                self.label_counts.update(label for label in labels if label is not None)
            else:  # the cap is crossed inside this run: count row by row up to the row that crosses it
                for label in labels:
                    if label is None:
                        continue
                    self.label_counts[label] += 1
                    if len(self.label_counts) > limit:
                        self.label_overflow = True
                        break
        room = min(hi - lo, s.dedup_max_rows - len(self.record_hashes))
        if room > 0:
            self.record_hashes.extend(block.record_hashes[lo:lo + room])
            self.feature_hashes.extend(block.feature_hashes[lo:lo + room])
            index = self.label_index
            self.label_codes.extend(-1 if label is None else index.setdefault(label, len(index))
                                    for label in labels[:room])
            line = block.first_line + lo
            self.lines.extend(range(line, line + room))
            self.flags.extend(bytes(room))
        line0 = block.first_line + lo
        for name in roles.text:
            _push_top(self.longest[name], _top_items(block.lengths[name][lo:hi], first, line0, cap), cap)
        for name in roles.numeric:
            numbers = block.numbers[name][lo:hi]
            ext = self.numeric_extremes[name]
            _push_top(ext.high, _top_items(numbers, first, line0, cap), cap)
            _push_top(ext.low, _top_items(-numbers, first, line0, cap), cap)
        # The reservoir: rows fill it in order until it holds ``k``; after that each row draws once, in row order.
        k, n = s.model_max_rows, hi - lo
        fill = min(max(k - len(self.sample), 0), n)
        draws = [(i, i) for i in range(fill)]
        randrange, rows = self._rng.randrange, self.rows
        draws.extend((i, j) for i in range(fill, n) if (j := randrange(rows + i + 1)) < k)
        self.rows += n
        if not draws:
            return
        texts, categorical = block.sample_values([lo + i for i, _ in draws], roles.text, roles.categorical)
        numeric = [block.numbers[name][lo:hi].tolist() for name in roles.numeric]
        for (i, j), text, cats in zip(draws, texts, categorical, strict=True):
            text = text[:MAX_SAMPLE_TEXT]
            row = _new_sample(first + i, line0 + i, text, labels[i],
                              tuple(math.nan if (v := col[i]) != v else v for col in numeric), cats)
            if i < fill:
                self.sample.append(row)
                self.text_lengths.append(len(text))
            else:
                self.sample[j] = row
                self.text_lengths[j] = len(text)

    def _drift(self, row: Row, cap: int) -> None:
        values = row.values
        typed = self.typed
        for name, (kind, presence) in self.schema.items():
            if name not in values:
                if presence >= 0.99 and typed:
                    self._note_drift(name, "missing", row, cap, "field missing")
                continue
            value = values[name]
            if typed and _same_kind(value, kind):
                continue
            got = value_kind(value, typed)
            if got not in ("null", kind) and kind != "null":
                self._note_drift(name, "type", row, cap, f"{got} where the column holds {kind}")
        if not values.keys() <= self._schema_names:
            for name in values:
                if name not in self.schema:
                    self._note_drift(name, "unexpected", row, cap, "field not present in the first rows")

    def _note_drift(self, name: str, kind: str, row: Row, cap: int, what: str) -> None:
        key = (name, kind)
        if key not in self.drift_counts and len(self.drift_counts) >= MAX_DRIFT_FIELDS:
            key = ("*", kind)  # a file with ever-new field names must not grow this table without bound
        self.drift_counts[key] += 1
        rows = self.drift_rows.setdefault(key, [])
        if len(rows) < cap and self._drift_kept < self.settings.max_related_per_file:
            self._drift_kept += 1
            rows.append((row.index, row.line, what))

    @property
    def sampled(self) -> bool:
        """True when the statistical rules see a reservoir sample, not every row."""
        return self.rows > self.settings.model_max_rows

    def sorted_sample(self) -> list[SampleRow]:
        """The sample in file order."""
        return sorted(self.sample, key=lambda r: r.index)

    def observations(self) -> Iterator[Observation]:
        """Schema drift and extreme-field observations (row facts, bounded)."""
        yield from self._drift_observations()
        yield from self._extreme_observations()

    def uncounted(self) -> dict[str, int]:
        """Per fact key, rows the bounded observations left out (after ``observations`` was consumed): drift and
        empty cells beyond ``max_facts_per_signal`` per column, extremes beyond the kept heaps."""
        bound = self.settings.drift_max_fraction * max(self.rows, 1)
        drift = sum(count - len(self.drift_rows.get(key, ())) for key, count in self.drift_counts.items()
                    if count <= bound)
        empty = sum(count - len(self.empty_rows.get(name, ())) for name, count in self.empty_text.items()
                    if count <= bound)
        return {"dataset.schema_drift": drift, "dataset.extreme_value": empty + self.uncounted_extremes}

    def _drift_observations(self) -> Iterator[Observation]:
        for (name, kind), count in sorted(self.drift_counts.items()):
            fraction = count / max(self.rows, 1)
            if fraction > self.settings.drift_max_fraction:
                continue  # a mixed column, not a few odd rows
            for index, line, what in self.drift_rows[(name, kind)]:
                yield Observation(key="dataset.schema_drift", value=name, span=Span(line=line),
                                  pointer=_pointer(name, index, line),
                                  detail={"drift": kind, "observed": what, "row": index, "rows_affected": count,
                                          "fraction": round(fraction, 6)})

    def _extreme_observations(self) -> Iterator[Observation]:
        s = self.settings
        for name, ext in sorted(self.numeric_extremes.items()):
            col = self.roles.numeric.index(name)
            values = sorted(r.numeric[col] for r in self.sample if math.isfinite(r.numeric[col]))
            if len(values) < 20:
                continue
            median = values[len(values) // 2]
            mad = sorted(abs(v - median) for v in values)[len(values) // 2] * 1.4826
            if mad == 0:
                continue
            seen: set[int] = set()
            # The heaps keep the `cap` largest and smallest values; extremes beyond them are counted from the
            # sample (every row when the file is not sampled) so the capped signal still says how many there were.
            beyond = sum(1 for v in values if abs(v - median) / mad >= s.extreme_robust_z)
            for sign, heap in ((1.0, ext.high), (-1.0, ext.low)):
                for raw, neg_index, line in sorted(heap, reverse=True):
                    value = raw * sign
                    z = abs(value - median) / mad
                    if z < s.extreme_robust_z or -neg_index in seen:
                        continue
                    seen.add(-neg_index)
                    yield Observation(key="dataset.extreme_value", value=name, span=Span(line=line or None),
                                      pointer=_pointer(name, -neg_index, line or None),
                                      detail={"kind": "numeric_outlier", "number": value, "median": median,
                                              "robust_z": round(z, 2), "row": -neg_index})
            self.uncounted_extremes += max(0, beyond - len(seen))
        if self.text_lengths:
            median_len = sorted(self.text_lengths)[len(self.text_lengths) // 2]
            for name, longest in sorted(self.longest.items()):
                shown = 0
                for length, neg_row, text_line in sorted(longest, reverse=True):
                    if length < s.extreme_max_chars or length < 20 * max(median_len, 1):
                        break
                    shown += 1
                    yield Observation(key="dataset.extreme_value", value=name, span=Span(line=text_line or None),
                                      pointer=_pointer(name, -neg_row, text_line or None),
                                      detail={"kind": "long_text", "length": length, "median_length": median_len,
                                              "row": -neg_row})
                if shown == len(longest):  # every kept cell was extreme: count the rest from the sample
                    bound = max(s.extreme_max_chars, 20 * max(median_len, 1))
                    self.uncounted_extremes += max(0, sum(1 for n in self.text_lengths if n >= bound) - shown)
        for name, count in sorted(self.empty_text.items()):
            if count / max(self.rows, 1) > s.drift_max_fraction:
                continue
            for index, empty_line in self.empty_rows[name]:
                yield Observation(key="dataset.extreme_value", value=name, span=Span(line=empty_line),
                                  pointer=_pointer(name, index, empty_line),
                                  detail={"kind": "empty_text", "rows_affected": count, "row": index})


def _push(heap: list[tuple[float, int, int]], item: tuple[float, int, int], cap: int) -> None:
    if len(heap) < cap:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)


def _push_top(heap: list[Any], items: list[tuple[Any, int, int]], cap: int) -> None:
    """``_push`` of every item; only the ``cap`` largest can stay, so only they are pushed."""
    for item in heapq.nlargest(cap, items) if len(items) > cap else items:
        if len(heap) < cap:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)


def _top_items(values: Any, first: int, line: int, cap: int) -> list[tuple[Any, int, int]]:
    """``(value, -index, line)`` of the finite values of a numpy array (row ``i`` is index ``first + i`` on line
    ``line + i``), only those that can be among the ``cap`` largest."""
    import numpy as np
    keep = np.flatnonzero(np.isfinite(values))
    if len(keep) > cap:
        cut = np.partition(values[keep], len(keep) - cap)[len(keep) - cap]
        keep = keep[values[keep] >= cut]
    return [(v, -(first + i), line + i) for i, v in zip(keep.tolist(), values[keep].tolist(), strict=True)]


def _new_sample(index: int, line: int | None, text: str, label: str | None, numeric: tuple[float, ...],
                categorical: tuple[str, ...]) -> SampleRow:
    """``SampleRow(...)`` of a regular (never flagged) row without the frozen dataclass's per-field calls."""
    row: SampleRow = object.__new__(SampleRow)
    row.__dict__.update(index=index, line=line, text=text, label=label, numeric=numeric, categorical=categorical,
                        flagged=False)
    return row


def _pointer(name: str, index: int, line: int | None) -> str:
    return name if line is not None else f"/{index}/{name}"
