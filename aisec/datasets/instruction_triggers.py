"""Instruction-tuning triggers (Wan et al. 2023): a prompt phrase whose rows' answers collapse to one answer.

Answers are grouped into clusters (normalised exact text, MinHash near duplicates, degenerate answers such as
empty, one-character or repeated-token replies). For every cluster of at least ``chat_trigger_min_rows`` rows, the
prompt n-grams (1-5 tokens) frequent inside it are candidates; a candidate is significant when nearly all rows
whose prompt has it fall into that one cluster (purity, binomial test against the cluster's share, Bonferroni).
Natural phrases also predict answers (a sentiment word predicts "Negative."), so a significant phrase whose
answer is common without it must also fail to be explained by the rest of the prompt: an out-of-fold model
that never sees the phrase ranks its rows below the cluster's other members (a planted phrase sits in random
prompts; a natural one in prompts that already carry the answer).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from aisec.datasets.minhash import MinHasher, near_duplicate_clusters, shingles
from aisec.datasets.pairs import Pair
from aisec.datasets.records import Observation, RowRef, Span
from aisec.datasets.settings import DatasetSettings

MAX_NGRAM = 5
MAX_PROMPT_TOKENS = 600
MAX_CLUSTERS = 30
"""Largest answer clusters examined (a file of ever-distinct answers has none; a label-like set has a few)."""
MAX_LISTED = 20
_TOKEN = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, kw_only=True)
class Trigger:
    """A confirmed phrase, its answer cluster and the rows concerned."""

    phrase: str
    answer: str
    kind: str
    """``degenerate``, ``identical`` or ``near_identical`` answers."""
    rows_with_phrase: int
    positions: tuple[int, ...]
    """Positions (in the pairs) of rows that have the phrase and the collapsed answer."""
    cluster_rows: int
    base_rate: float
    p_value: float
    adjusted: float
    context: str
    """How the rest of the prompt was ruled out: ``answer_only_with_phrase`` or ``context_ranks_low``."""
    context_score: float


def _norm_answer(text: str) -> str:
    text = text if text.isascii() else unicodedata.normalize("NFKC", text)
    return " ".join(_TOKEN.findall(text.casefold()))


def degenerate(answer: str) -> str | None:
    """Why an answer is degenerate (``empty``, ``one_character``, ``repeated``), else ``None``."""
    norm = _norm_answer(answer)
    letters = norm.replace(" ", "")
    if not letters:
        return "empty"
    if len(letters) == 1:
        return "one_character"
    words = norm.split()
    if len(letters) >= 4 and len(set(letters)) <= 2:
        return "repeated"
    if len(words) >= 4 and len(set(words)) / len(words) <= 0.25:
        return "repeated"
    return None


def answer_clusters(pairs: Sequence[Pair], settings: DatasetSettings) -> tuple[list[int], dict[int, str]]:
    """A cluster id per pair and, per id, its kind (``degenerate``/``identical``/``near_identical``)."""
    n = len(pairs)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first: dict[str, int] = {}
    degenerate_rows: set[int] = set()
    for i, pair in enumerate(pairs):
        if degenerate(pair.answer) is not None:
            key = "\x00degenerate"
            degenerate_rows.add(i)
        else:
            key = _norm_answer(pair.answer)
        union(i, first.setdefault(key, i))
    long_rows = [i for i, p in enumerate(pairs) if i not in degenerate_rows and len(p.answer.split()) >= 6]
    if len(long_rows) >= 2:
        hasher = MinHasher(settings.minhash_permutations, settings.seed)
        signatures = [hasher.signature(shingles(pairs[i].answer)) for i in long_rows]
        for group in near_duplicate_clusters(signatures, bands=settings.minhash_bands,
                                             threshold=settings.near_duplicate_jaccard):
            for j in group[1:]:
                union(long_rows[group[0]], long_rows[j])
    ids = [find(i) for i in range(n)]
    kinds: dict[int, str] = {}
    exact: dict[int, set[str]] = {}
    for i, cid in enumerate(ids):
        if i in degenerate_rows:
            kinds[cid] = "degenerate"
        exact.setdefault(cid, set()).add(_norm_answer(pairs[i].answer))
    for cid, texts in exact.items():
        kinds.setdefault(cid, "identical" if len(texts) == 1 else "near_identical")
    return ids, kinds


def _grams(tokens: Sequence[str], frequent: set[tuple[str, ...]] | None, size: int) -> set[tuple[str, ...]]:
    """Distinct ``size``-grams whose two ``size-1``-grams are frequent (all when ``frequent`` is None)."""
    out = set()
    for i in range(len(tokens) - size + 1):
        gram = tuple(tokens[i:i + size])
        if frequent is None or (gram[:-1] in frequent and gram[1:] in frequent):
            out.add(gram)
    return out


def _frequent_grams(rows: Sequence[int], toks: Sequence[Sequence[str]], min_rows: int) -> Counter[tuple[str, ...]]:
    """Prompt n-grams (1-5 tokens) in at least ``min_rows`` of ``rows`` (apriori: longer grams only grow from
    frequent shorter ones, so the work stays near linear)."""
    found: Counter[tuple[str, ...]] = Counter()
    frequent: set[tuple[str, ...]] | None = None
    for size in range(1, MAX_NGRAM + 1):
        counts: Counter[tuple[str, ...]] = Counter()
        for r in rows:
            counts.update(_grams(toks[r], frequent, size))
        level = {g: c for g, c in counts.items() if c >= min_rows}
        if not level:
            break
        found.update(level)
        frequent = set(level)
    return found


def _remove(text: str, phrases: Sequence[tuple[str, ...]]) -> str:
    padded = f" {text} "
    for phrase in phrases:
        padded = padded.replace(f" {' '.join(phrase)} ", " ")
    return padded.strip()


def find_triggers(pairs: Sequence[Pair], settings: DatasetSettings) -> list[Trigger]:
    """Confirmed instruction triggers, strongest first."""
    from scipy.stats import binom  # type: ignore[import-untyped]

    s = settings
    n = len(pairs)
    if n < 4 * s.chat_trigger_min_rows:
        return []
    ids, kinds = answer_clusters(pairs, s)
    sizes = Counter(ids)
    toks = [_TOKEN.findall(p.prompt.casefold())[:MAX_PROMPT_TOKENS] for p in pairs]
    joined = [f" {' '.join(t)} " for t in toks]
    postings: dict[str, list[int]] = {}
    for i, t in enumerate(toks):
        for w in set(t):
            postings.setdefault(w, []).append(i)
    clusters = sorted((c for c, size in sizes.items() if s.chat_trigger_min_rows <= size < n),
                      key=lambda c: (-sizes[c], c))[:MAX_CLUSTERS]
    members_of: dict[int, list[int]] = {}
    for i, cid in enumerate(ids):
        if cid in sizes and sizes[cid] >= s.chat_trigger_min_rows:
            members_of.setdefault(cid, []).append(i)
    tests = 0
    significant: list[tuple[float, int, tuple[str, ...], tuple[int, ...], int]] = []
    for cid in clusters:
        members = members_of[cid]
        grams = _frequent_grams(members, toks, s.chat_trigger_min_rows)
        tests += len(grams)
        member_set = set(members)
        q = sizes[cid] / n
        for gram, k in grams.items():
            lists = sorted((postings[w] for w in set(gram)), key=len)
            if k / len(lists[0]) < s.chat_trigger_min_purity:
                continue  # purity can only fall once the phrase is checked as a whole
            needle = f" {' '.join(gram)} "
            rows = [i for i in lists[0] if needle in joined[i]]
            if k / len(rows) < s.chat_trigger_min_purity:
                continue
            hits = tuple(i for i in rows if i in member_set)
            p = float(binom.sf(len(hits) - 1, len(rows), q))
            significant.append((p, cid, gram, hits, len(rows)))
    tests = max(tests, 1)
    significant = [c for c in significant if c[0] * tests <= s.chat_trigger_alpha]
    significant.sort(key=lambda c: (c[0], -len(c[2]), c[2]))
    chosen: list[tuple[float, int, tuple[str, ...], tuple[int, ...], int]] = []
    for cand in significant:
        hit_set = set(cand[3])
        if any(c[1] == cand[1] and len(hit_set & set(c[3])) >= 0.8 * min(len(hit_set), len(c[3])) for c in chosen):
            continue  # the same rows under a shorter or longer piece of the same phrase
        chosen.append(cand)
    # Prefer the longest phrase that covers the same rows ("james bond" over "bond").
    result: list[Trigger] = []
    by_cluster: dict[int, list[tuple[str, ...]]] = {}
    for _p, cid, gram, _hits, _rows in chosen:
        by_cluster.setdefault(cid, []).append(gram)
    for p, cid, gram, hits, rows_with in chosen:
        gram = _longest(gram, hits, significant, cid)
        distinct = {_DIGITS.sub("#", _remove(joined[i].strip(), [gram])) for i in hits}
        if len(distinct) < max(s.chat_trigger_min_rows, 0.5 * len(hits)):
            continue  # one templated prompt repeated, not a phrase planted in many prompts
        outside = (sizes[cid] - len(hits)) / max(n - rows_with, 1)
        if outside <= s.chat_trigger_rare_answer:
            context, score = "answer_only_with_phrase", outside
        else:
            score = _context_score(pairs, toks, ids, cid, hits, by_cluster[cid], s)
            if score < s.chat_trigger_min_context_score:
                continue
            context = "context_ranks_low"
        answer = Counter(pairs[i].answer.strip() for i in hits).most_common(1)[0][0]
        result.append(Trigger(phrase=_surface(pairs, hits, gram), answer=answer, kind=kinds[cid],
                              rows_with_phrase=rows_with, positions=hits, cluster_rows=sizes[cid],
                              base_rate=sizes[cid] / n, p_value=p, adjusted=min(1.0, p * tests), context=context,
                              context_score=score))
    return result


def _longest(gram: tuple[str, ...], hits: tuple[int, ...],
             significant: Sequence[tuple[float, int, tuple[str, ...], tuple[int, ...], int]], cid: int,
             ) -> tuple[str, ...]:
    best = gram
    hit_set = set(hits)
    for _p, other_cid, other, other_hits, _rows in significant:
        if other_cid == cid and len(other) > len(best) and " ".join(gram) in " ".join(other) and \
                len(hit_set & set(other_hits)) >= 0.9 * len(hit_set):
            best = other
    return best


def _surface(pairs: Sequence[Pair], hits: Sequence[int], gram: tuple[str, ...]) -> str:
    """The phrase as written in the first prompt that has it (case kept), else the token form."""
    pattern = re.compile(r"\W+".join(re.escape(t) for t in gram), re.IGNORECASE)
    for i in hits:
        m = pattern.search(pairs[i].prompt)
        if m is not None:
            return m.group()
    return " ".join(gram)


def _context_score(pairs: Sequence[Pair], toks: Sequence[Sequence[str]], ids: Sequence[int], cid: int,
                   hits: Sequence[int], phrases: Sequence[tuple[str, ...]], s: DatasetSettings) -> float:
    """Share of the phrase's rows that an out-of-fold model, blind to the phrase, ranks below the cluster's
    lower quartile: about 0.25 or less for a natural phrase (its prompts already point at the answer), near 1
    for a phrase planted in prompts that point elsewhere."""
    from sklearn.feature_extraction.text import HashingVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import SGDClassifier  # type: ignore[import-untyped]
    from sklearn.model_selection import StratifiedKFold, cross_val_predict  # type: ignore[import-untyped]

    texts = [_remove(" ".join(t), phrases) for t in toks]
    y = np.array([1 if c == cid else 0 for c in ids])
    folds = min(s.cv_folds, int(y.sum()), int(len(y) - y.sum()))
    if folds < 2:
        return 0.0
    x = HashingVectorizer(n_features=2**18, ngram_range=(1, 2), alternate_sign=False, norm="l2",
                          token_pattern=r"\S+").transform(texts)  # noqa: S106 - a regex, not a password
    # A logistic loss fitted by SGD: only the ranking matters, and it fits in milliseconds where L-BFGS or
    # liblinear on hashed n-grams take seconds per fold.
    model = SGDClassifier(loss="log_loss", alpha=1e-4, class_weight="balanced", random_state=s.seed % 2**32)
    proba = cross_val_predict(model, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=s.seed % 2**32),
                              method="predict_proba")[:, 1]
    planted = set(hits)
    for phrase in phrases:
        needle = f" {' '.join(phrase)} "
        planted.update(i for i, t in enumerate(toks) if y[i] and needle in f" {' '.join(t)} ")
    rest = [proba[i] for i in range(len(ids)) if y[i] and i not in planted]
    if len(rest) < s.chat_trigger_min_rows:
        return 1.0  # the cluster hardly exists without the phrases
    cut = float(np.quantile(rest, 0.25))
    low = sum(1 for i in hits if proba[i] < cut)
    return round(low / len(hits), 4) if not math.isnan(cut) else 0.0


def observations(pairs: Sequence[Pair], settings: DatasetSettings, *, sampled: bool) -> Iterator[Observation]:
    """``dataset.instruction_trigger`` per confirmed phrase, located at its first row's answer."""
    for trig in find_triggers(pairs, settings):
        rows = [pairs[i] for i in trig.positions]
        first = rows[0]
        listed = ", ".join(str(p.line if p.line is not None else p.index) for p in rows[:MAX_LISTED])
        more = f" (+{len(rows) - MAX_LISTED} more)" if len(rows) > MAX_LISTED else ""
        yield Observation(key="dataset.instruction_trigger", value=trig.phrase, span=Span(line=first.line),
                          pointer=first.answer_pointer,
                          detail={"row": first.index, "answer": trig.answer[:200], "answer_kind": trig.kind,
                                  "rows_with_phrase": trig.rows_with_phrase, "rows_collapsed": len(rows),
                                  "purity": round(len(rows) / trig.rows_with_phrase, 4),
                                  "cluster_rows": trig.cluster_rows, "base_rate": round(trig.base_rate, 6),
                                  "p_value": float(f"{trig.p_value:.3g}"),
                                  "p_value_bonferroni": float(f"{trig.adjusted:.3g}"),
                                  "context_check": trig.context, "context_score": trig.context_score,
                                  "rows": listed + more, "sampled": sampled},
                          related=tuple(RowRef(index=p.index, span=Span(line=p.line), pointer=p.answer_pointer)
                                        for p in rows))
