"""Exact and near duplicates, reported only when a cluster is unusually large or carries other signals."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from aisec.datasets.minhash import MinHasher, near_duplicate_clusters, shingles
from aisec.datasets.profile import Profile, SampleRow
from aisec.datasets.records import Observation, RowRef, Span

MAX_LISTED = 20


def _line_text(lines: Sequence[int]) -> str:
    shown = ", ".join(str(x) if x > 0 else f"row {-x - 1}" for x in lines[:MAX_LISTED])
    return shown + (f", … ({len(lines)} in all)" if len(lines) > MAX_LISTED else "")


def _refs(indexes: Sequence[int], lines: Sequence[int]) -> tuple[RowRef, ...]:
    """Every member row as a related location (the ``rows`` text lists only the first few)."""
    return tuple(RowRef(index=int(i), span=Span(line=line if line > 0 else None),
                        pointer=None if line > 0 else f"/{int(i)}") for i, line in zip(indexes, lines, strict=True))


def _threshold(sizes: Sequence[int], total: int, profile: Profile) -> float:
    """Median cluster size over all rows (singletons count as clusters of one), times the outlier factor."""
    s = profile.settings
    singles = max(total - sum(sizes), 0)
    ordered = sorted(list(sizes) + [1] * min(singles, 10 * len(sizes) + 1))
    median = ordered[len(ordered) // 2] if ordered else 1
    return max(float(s.duplicate_cluster_min_size), s.duplicate_cluster_outlier_factor * median)


def exact_duplicates(profile: Profile, groups_out: list[frozenset[int]] | None = None) -> Iterator[Observation]:
    """Groups of identical (normalised) records among the first ``dedup_max_rows`` rows; every group's row
    indexes are appended to ``groups_out`` (so near-duplicate clusters that merely repeat one are skipped)."""
    hashes = np.frombuffer(profile.record_hashes, dtype=np.uint64) if profile.record_hashes else np.array([])
    if hashes.size < 2:
        return
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    starts = np.flatnonzero(np.r_[True, sorted_h[1:] != sorted_h[:-1]])
    ends = np.r_[starts[1:], sorted_h.size]
    groups = [order[a:b] for a, b in zip(starts, ends, strict=True) if b - a > 1]
    sizes = [len(g) for g in groups]
    limit = _threshold(sizes, hashes.size, profile)
    duplicates = sum(sizes) - len(sizes)
    flags = np.frombuffer(bytes(profile.flags), dtype=np.uint8)
    for group in sorted(groups, key=lambda g: int(g.min())):
        members = np.sort(group)
        if groups_out is not None:
            groups_out.append(frozenset(int(i) for i in members))
        flagged = int(flags[members].sum())
        outlier = len(members) >= limit
        if not outlier and flagged < 2:
            continue
        lines = [int(profile.lines[i]) for i in members]
        yield Observation(key="dataset.duplicate_cluster", value="exact", span=Span(line=lines[0] if lines[0] > 0
                                                                                    else None),
                          detail={"size": len(members), "flagged_members": flagged, "outlier": outlier,
                                  "outlier_size": round(limit, 1), "rows": _line_text(lines),
                                  "duplicate_rows_in_file": duplicates},
                          related=_refs([int(i) for i in members], lines))


def conflicting_labels(profile: Profile) -> Iterator[Observation]:
    """Rows with identical features but different labels."""
    if not profile.roles.label or len(profile.feature_hashes) < 2:
        return
    feats = np.frombuffer(profile.feature_hashes, dtype=np.uint64)
    labels = np.frombuffer(profile.label_codes, dtype=np.int64) if profile.label_codes.itemsize == 8 else \
        np.array(profile.label_codes, dtype=np.int64)
    names = {v: k for k, v in profile.label_index.items()}
    order = np.argsort(feats, kind="stable")
    sorted_f = feats[order]
    starts = np.flatnonzero(np.r_[True, sorted_f[1:] != sorted_f[:-1]])
    ends = np.r_[starts[1:], sorted_f.size]
    for a, b in zip(starts, ends, strict=True):
        if b - a < 2:
            continue
        members = np.sort(order[a:b])
        codes = labels[members]
        codes = codes[codes >= 0]
        distinct = sorted({int(c) for c in codes})
        if len(distinct) < 2:
            continue
        lines = [int(profile.lines[i]) for i in members]
        counts = {names[c]: int((codes == c).sum()) for c in distinct}
        yield Observation(key="dataset.label_conflict", value=" vs ".join(sorted(counts)),
                          span=Span(line=lines[0] if lines[0] > 0 else None),
                          detail={"size": len(members), "labels": ", ".join(f"{k}={v}" for k, v in
                                                                            sorted(counts.items())),
                                  "rows": _line_text(lines)},
                          related=_refs([int(i) for i in members], lines))


def near_duplicates(profile: Profile, sample: Sequence[SampleRow],
                    exact_sets: set[frozenset[int]] | None = None) -> Iterator[Observation]:
    """Near-duplicate text clusters in the sample (MinHash + LSH), with the same reporting criteria."""
    s = profile.settings
    texts = [r for r in sample if r.text]
    if len(texts) < 2:
        return
    hasher = MinHasher(s.minhash_permutations, s.seed)
    signatures = [hasher.signature(shingles(r.text)) for r in texts]
    clusters = near_duplicate_clusters(signatures, bands=s.minhash_bands, threshold=s.near_duplicate_jaccard)
    sizes = [len(c) for c in clusters]
    limit = _threshold(sizes, len(texts), profile)
    for cluster in clusters:
        rows = [texts[i] for i in cluster]
        if exact_sets and frozenset(r.index for r in rows) in exact_sets:
            continue
        flagged = sum(r.flagged for r in rows)
        outlier = len(rows) >= limit
        if not outlier and flagged < 2:
            continue
        lines = [r.line if r.line is not None else -r.index - 1 for r in rows]
        yield Observation(key="dataset.duplicate_cluster", value="near", span=Span(line=rows[0].line),
                          detail={"size": len(rows), "flagged_members": flagged, "outlier": outlier,
                                  "outlier_size": round(limit, 1), "rows": _line_text(lines),
                                  "jaccard_threshold": s.near_duplicate_jaccard, "sampled": profile.sampled},
                          related=_refs([r.index for r in rows], lines))
