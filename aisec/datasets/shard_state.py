"""What one shard of a dataset contributes to the group's cross-row analysis, as plain picklable data (bytes,
tuples, frozen dataclasses): produced per shard (in any worker, later any Dask task), merged once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aisec.datasets.pairs import Pair, PairCollector
from aisec.datasets.profile import Profile, SampleRow
from aisec.datasets.roles import Roles


@dataclass(frozen=True, kw_only=True)
class ShardState:
    """One shard's mergeable statistics: row hashes (the first ``dedup_max_rows`` rows), label counts and codes,
    physical lines, signal flags and a seeded reservoir sample of at most ``model_max_rows`` rows."""

    path: str
    """Report path of the shard file."""
    group: str
    """The group pattern (``data/train-*-of-00008.parquet``)."""
    rows: int
    roles: Roles
    labels: tuple[str, ...]
    """Label text of each label code used in ``label_codes``."""
    label_counts: tuple[tuple[str, int], ...]
    label_overflow: bool
    record_hashes: bytes
    """uint64 per row: hash of the normalised record (ids left out)."""
    feature_hashes: bytes
    """uint64 per row: the same without the label."""
    label_codes: bytes
    """int64 per row: index into ``labels``, -1 without a label."""
    lines: bytes
    """int64 per row: physical line, or ``-(row index + 1)`` for formats without lines."""
    flags: bytes
    """uint8 per row: 1 when a per-cell signal fired in the row."""
    sample: tuple[SampleRow, ...]
    pairs: tuple[Pair, ...] = ()
    """Prompt → answer pairs (chat and instruction records): every one, or a seeded reservoir of them."""
    pairs_seen: int = 0
    """Rows that read as pairs (the population ``pairs`` samples)."""

    def roles_key(self) -> tuple[object, ...]:
        """Shards merge only when their roles agree (the sample rows' features line up)."""
        r = self.roles
        return (r.label, r.text, r.numeric, r.categorical, r.ids)


def shard_state(profile: Profile, *, path: str, group: str, pairs: PairCollector | None = None) -> ShardState:
    """Freeze a shard's profile into plain data."""
    by_code = sorted(profile.label_index.items(), key=lambda item: item[1])
    return ShardState(
        path=path, group=group, rows=profile.rows, roles=profile.roles, labels=tuple(k for k, _ in by_code),
        label_counts=tuple(sorted(profile.label_counts.items())), label_overflow=profile.label_overflow,
        record_hashes=profile.record_hashes.tobytes(), feature_hashes=profile.feature_hashes.tobytes(),
        label_codes=np.asarray(profile.label_codes, dtype=np.int64).tobytes(),
        lines=np.asarray(profile.lines, dtype=np.int64).tobytes(), flags=bytes(profile.flags),
        sample=tuple(profile.sorted_sample()), pairs=tuple(pairs.pairs()) if pairs is not None else (),
        pairs_seen=pairs.seen if pairs is not None else 0)
