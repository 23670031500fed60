"""Trigger candidates: features (token n-grams, exact values, value tails) enriched for one label, grouped when
they mark (nearly) the same rows, so a multi-token sentence or a multi-feature pattern is one candidate."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_TOKEN = re.compile(r"\w+")
MAX_TOKENS_PER_ROW = 512
"""Tokens of one text considered for n-grams (the rest of a very long text is not mined)."""


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens: the unit of text triggers."""
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True, kw_only=True)
class Feature:
    """One mined feature: an n-gram (``tokens``) or a column test, and the rows (positions) that have it."""

    kind: str
    """``ngram``, ``value`` or ``range``."""
    name: str
    rows: npt.NDArray[np.int64]
    tokens: tuple[str, ...] = ()
    columns: tuple[int, ...] = ()
    """Feature columns the test reads (numeric first, then categorical, as the profile orders them)."""


@dataclass(frozen=True, kw_only=True)
class Group:
    """Features that mark (nearly) the same rows, enriched for ``label``: tested and ablated together."""

    members: tuple[Feature, ...]
    rows: npt.NDArray[np.int64]
    """Positions of every row holding any member (the rows the ablation changes)."""
    label: int
    p_value: float
    adjusted: float
    follow_up: bool = False
    """Chosen by co-occurrence with a confirmed trigger, not by its own enrichment."""
    token_set: bool = False
    """Separate words that mark the same rows (a set of trigger tokens), not the n-grams of one phrase."""
    structural: bool = False
    """Chosen by its shape (a long repeated span, or rare words sharing rows far beyond chance), whatever its
    labels: a trigger with decoys on a small file is too weakly enriched to be chosen by its label."""

    @property
    def kind(self) -> str:
        """The leading member's kind (a group of several columns is ``pattern``)."""
        return "pattern" if len(self.columns) > 1 else self.members[0].kind

    @property
    def columns(self) -> tuple[int, ...]:
        """Every column a member reads (what the ablation drops)."""
        return tuple(sorted({c for m in self.members for c in m.columns}))

    @property
    def name(self) -> str:
        """The trigger as shown: the longest n-gram, or every column test joined with ``&``."""
        if self.token_set:
            return " | ".join(m.name for m in self.members)
        if self.members[0].kind == "ngram":
            return max((m for m in self.members), key=lambda m: (len(m.tokens), -len(m.rows), m.name)).name
        parts: dict[str, None] = {}
        for m in sorted(self.members, key=lambda m: m.columns):
            for part in m.name.split(" & "):
                parts.setdefault(part)
        return " & ".join(parts)


def text_features(texts: Sequence[str], *, max_n: int, min_support: int, max_fraction: float) -> list[Feature]:
    """Token n-grams (1..max_n) present in at least ``min_support`` and at most ``max_fraction`` of the rows."""
    postings: dict[str, list[int]] = {}
    for pos, text in enumerate(texts):
        words = tokenize(text)[:MAX_TOKENS_PER_ROW]
        grams: set[str] = set()
        for n in range(1, max_n + 1):
            grams.update(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
        for g in grams:
            postings.setdefault(g, []).append(pos)
    top = max(min_support, int(max_fraction * len(texts)))
    return [Feature(kind="ngram", name=g, rows=np.asarray(p, dtype=np.int64), tokens=tuple(g.split(" ")))
            for g, p in postings.items() if min_support <= len(p) <= top]


def testable(features: Sequence[Feature], y: npt.NDArray[np.int64], classes: int, *, alpha: float) -> int:
    """Tarone's multiplicity for the features' label tests: the smallest ``k`` such that at most ``k`` (feature,
    label) tests could reach p <= alpha / k at all. A feature in ``s`` rows cannot do better than p = base**s (every
    row of that label), so the thousands of rare n-grams of a small file do not dilute the tests of the few
    frequent enough to matter (Tarone 1990; the LAMP family of significant-pattern miners)."""
    if not features:
        return 1
    base = np.bincount(y, minlength=classes) / max(len(y), 1)
    support = np.array([len(f.rows) for f in features], dtype=float)
    logs = np.log(base[base > 0])
    best = np.sort((support[:, None] * logs[None, :]).ravel())  # log of the least p each test could reach
    lo, hi = 1, len(best)
    while lo < hi:  # the count of tests that can reach alpha / k falls as k grows
        k = (lo + hi) // 2
        if int(np.searchsorted(best, np.log(alpha / k), side="right")) <= k:
            hi = k
        else:
            lo = k + 1
    return lo


def enriched(features: Sequence[Feature], y: npt.NDArray[np.int64], classes: int, *, alpha: float,
             screen_p: float = 0.0, tests: int | None = None) -> list[tuple[Feature, int, float, float]]:
    """(feature, label, p, Bonferroni-adjusted p) for features over-represented in one label (binomial test
    against the label's base rate): significant after Bonferroni at ``alpha``, or with an unadjusted p at most
    ``screen_p`` (kept as candidates for a test that must then establish significance itself); most significant
    first. ``tests`` is the Bonferroni factor (every feature x label when not given)."""
    from scipy.stats import binom  # type: ignore[import-untyped]

    if not features:
        return []
    n = len(y)
    base = np.bincount(y, minlength=classes) / n
    counts = np.zeros((len(features), classes), dtype=np.int64)
    for i, f in enumerate(features):
        counts[i] = np.bincount(y[f.rows], minlength=classes)
    support = counts.sum(axis=1)
    # One test per feature and label; the label tested is the most over-represented one relative to its base.
    lift = counts / np.maximum(base, 1e-12)
    top = lift.argmax(axis=1)
    k = counts[np.arange(len(features)), top]
    p = binom.sf(k - 1, support, base[top])
    if tests is None:
        tests = max(len(features) * classes, 1)
    adjusted = np.minimum(1.0, p * tests)
    keep = [int(i) for i in np.flatnonzero((adjusted <= alpha) | (p <= screen_p))]
    order = sorted(keep, key=lambda i: (p[i], -len(features[i].tokens), features[i].name))
    return [(features[i], int(top[i]), float(p[i]), float(adjusted[i])) for i in order]


def group(found: Sequence[tuple[Feature, int, float, float]], *, min_jaccard: float, limit: int) -> list[Group]:
    """Greedy grouping in significance order: a feature joins the first group (same label) whose rows it marks
    with Jaccard similarity at least ``min_jaccard``; else it starts a group. At most ``limit`` groups."""
    groups: list[tuple[list[Feature], set[int], int, float, float]] = []
    for feature, label, p, adjusted in found:
        rows = set(feature.rows.tolist())
        for members, grows, glabel, _, _ in groups:
            if glabel != label:
                continue
            inter = len(rows & grows)
            if inter and inter / len(rows | grows) >= min_jaccard:
                members.append(feature)
                grows |= rows
                break
        else:
            if len(groups) < limit:
                groups.append(([feature], rows, label, p, adjusted))
    return [Group(members=tuple(m), rows=_group_rows(m), label=lab, p_value=p, adjusted=a)
            for m, _, lab, p, a in groups]


def _group_rows(members: Sequence[Feature]) -> npt.NDArray[np.int64]:
    """The rows a group marks. N-grams: rows holding a maximal member (one inside no other member), so a sentence
    trigger's rows are those with one of its long n-grams, not every row with a common sub-phrase, while
    alternative trigger tokens (rows with any of them) all count. Columns: rows holding more than half of the
    members' values (a natural row shares one value of a multi-feature trigger, not the pattern)."""
    if len(members) == 1:
        return members[0].rows
    if members[0].kind == "ngram":
        maximal = [m for m in members if not any(o is not m and len(o.tokens) > len(m.tokens) and
                                                 _inside(m.tokens, o.tokens) for o in members)]
        return np.unique(np.concatenate([m.rows for m in maximal]))
    counts: dict[int, int] = {}
    for m in members:
        for r in m.rows.tolist():
            counts[r] = counts.get(r, 0) + 1
    need = len(members) / 2
    return np.asarray(sorted(r for r, c in counts.items() if c > need), dtype=np.int64)


SPAN_MIN_TOKENS = 4
"""An n-gram this long repeated in ``min_support`` rows is a structural candidate (natural text rarely repeats one
verbatim; a trigger sentence does in every poisoned row)."""
SET_MAX_FRACTION = 0.05
"""Words in at most this share of the rows take part in word sets."""
SET_MIN_LIFT = 10.0
"""Two words form a set when they share rows this many times more often than independence predicts …"""
SET_MIN_SHARE = 0.2
"""… in at least this share of the rarer word's rows, and not as one phrase."""


def structural(features: Sequence[Feature], n: int, *, min_support: int) -> list[list[Feature]]:
    """Label-blind candidates: each long repeated n-gram on its own, and sets of words that share rows far beyond
    chance without being one phrase (BadNets inserts one to three tokens of a trigger set at random positions)."""
    from scipy import sparse  # type: ignore[import-untyped]

    out: list[list[Feature]] = [[f] for f in features if len(f.tokens) >= SPAN_MIN_TOKENS]
    words = sorted((f for f in features if len(f.tokens) == 1 and len(f.rows) <= SET_MAX_FRACTION * n),
                   key=lambda f: f.name)
    if len(words) < 2:
        return out
    indptr = np.cumsum([0] + [len(f.rows) for f in words])
    b = sparse.csc_matrix((np.ones(int(indptr[-1])), np.concatenate([f.rows for f in words]), indptr),
                          shape=(n, len(words)))
    both = sparse.triu(b.T @ b, k=1).tocoo()
    sizes = np.array([len(f.rows) for f in words], dtype=float)
    a_i, c_i, shared = both.row, both.col, both.data
    keep = (shared >= min_support) & (shared * n >= SET_MIN_LIFT * sizes[a_i] * sizes[c_i]) & \
        (shared >= SET_MIN_SHARE * np.minimum(sizes[a_i], sizes[c_i]))
    phrases: dict[str, list[Feature]] = {}
    for f in features:
        if len(f.tokens) > 1:
            for t in set(f.tokens):
                phrases.setdefault(t, []).append(f)
    links = []
    for a, c, k in zip(a_i[keep].tolist(), c_i[keep].tolist(), shared[keep].tolist(), strict=True):
        # Words of one phrase share rows because of the phrase: that phrase is the candidate.
        wa, wc = words[a].name, words[c].name
        phrase = max((len(f.rows) for f in phrases.get(wa, ()) if wc in f.tokens), default=0)
        if phrase * 2 < k:
            links.append((a, c))
    out.extend(sorted((words[i] for i in part), key=lambda f: f.name) for part in linked_parts(len(words), links))
    return out


def linked_parts(count: int, links: Iterable[tuple[int, int]]) -> list[list[int]]:
    """The connected parts of two or more of ``count`` items joined by ``links`` (union-find), each part's items in
    ascending order and the parts ordered by their first item."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        parent[root(a)] = root(b)
    parts: dict[int, list[int]] = {}
    for i in range(count):
        parts.setdefault(root(i), []).append(i)
    return [part for part in parts.values() if len(part) > 1]


def _inside(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    n = len(short)
    return any(long[i:i + n] == short for i in range(len(long) - n + 1))
