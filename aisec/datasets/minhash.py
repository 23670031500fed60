"""Seeded MinHash signatures and banded LSH (numpy only) for near-duplicate texts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from aisec.datasets.disjoint_sets import DisjointSets

_PRIME = np.uint64(4294967311)  # smallest prime above 2**32
_WORDS = re.compile(r"\w+")


def shingles(text: str, size: int = 3) -> set[int]:
    """32-bit hashes of word ``size``-grams (character 5-grams for texts of few words)."""
    words = _WORDS.findall(text.lower())
    if len(words) >= size + 2:
        grams = {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}
    else:
        flat = " ".join(words)
        grams = {flat[i:i + 5] for i in range(max(1, len(flat) - 4))}
    return {int.from_bytes(hashlib.blake2b(g.encode("utf-8", "surrogatepass"), digest_size=4).digest(), "little")
            for g in grams}


class MinHasher:
    """``permutations`` universal hash functions ``(a*x+b) mod p`` drawn from a seeded generator."""

    def __init__(self, permutations: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, 2**31 - 1, size=permutations, dtype=np.uint64)
        self.b = rng.integers(0, 2**31 - 1, size=permutations, dtype=np.uint64)
        self.permutations = permutations

    def signature(self, hashes: set[int]) -> npt.NDArray[np.uint64]:
        """The MinHash signature of a shingle set (all-max for an empty set)."""
        if not hashes:
            return np.full(self.permutations, np.iinfo(np.uint64).max, dtype=np.uint64)
        x = np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
        return ((np.outer(x, self.a) + self.b) % _PRIME).min(axis=0)  # type: ignore[no-any-return]


def near_duplicate_clusters(signatures: Sequence[npt.NDArray[np.uint64]], *, bands: int,
                            threshold: float) -> list[list[int]]:
    """Groups (of positions, size >= 2) whose estimated Jaccard similarity reaches ``threshold``.

    Each LSH bucket is linked as a star around its first member, so a huge bucket of templated rows costs
    linear, not quadratic, work.
    """
    n = len(signatures)
    if n < 2:
        return []
    sig = np.vstack(signatures)
    rows_per_band = sig.shape[1] // bands
    sets = DisjointSets(n)
    empty = np.all(sig == np.iinfo(np.uint64).max, axis=1)
    for band in range(bands):
        chunk = sig[:, band * rows_per_band:(band + 1) * rows_per_band]
        buckets: dict[bytes, int] = {}
        for i in range(n):
            if empty[i]:
                continue
            key = chunk[i].tobytes()
            first = buckets.setdefault(key, i)
            if first == i:
                continue
            if sets.find(i) != sets.find(first) and float(np.mean(sig[i] == sig[first])) >= threshold:
                sets.union(i, first)
    return [g for g in sets.groups() if len(g) > 1]
