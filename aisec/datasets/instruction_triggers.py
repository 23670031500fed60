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

from aisec.datasets.disjoint_sets import DisjointSets
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
    sets = DisjointSets(n)
    first: dict[str, int] = {}
    degenerate_rows: set[int] = set()
    for i, pair in enumerate(pairs):
        if degenerate(pair.answer) is not None:
            key = "\x00degenerate"
            degenerate_rows.add(i)
        else:
            key = _norm_answer(pair.answer)
        sets.union(i, first.setdefault(key, i))
    long_rows = [i for i, p in enumerate(pairs) if i not in degenerate_rows and len(p.answer.split()) >= 6]
    if len(long_rows) >= 2:
        hasher = MinHasher(settings.minhash_permutations, settings.seed)
        signatures = [hasher.signature(shingles(pairs[i].answer)) for i in long_rows]
        for group in near_duplicate_clusters(signatures, bands=settings.minhash_bands,
                                             threshold=settings.near_duplicate_jaccard):
            for j in group[1:]:
                sets.union(long_rows[group[0]], long_rows[j])
    ids = [sets.find(i) for i in range(n)]
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
    significant: list[_Candidate] = []
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
            rows = tuple(i for i in lists[0] if needle in joined[i])
            if k / len(rows) < s.chat_trigger_min_purity:
                continue
            hits = tuple(i for i in rows if i in member_set)
            p = float(binom.sf(len(hits) - 1, len(rows), q))
            significant.append(_Candidate(p_value=p, cluster=cid, gram=gram, hits=hits, rows=rows))
    tests = max(tests, 1)
    significant = [c for c in significant if c.p_value * tests <= s.chat_trigger_alpha]
    significant.sort(key=lambda c: (c.p_value, -len(c.gram), c.gram))
    chosen: list[_Candidate] = []
    for cand in significant:
        hit_set = set(cand.hits)
        if any(c.cluster == cand.cluster and len(hit_set & set(c.hits)) >= 0.8 * min(len(hit_set), len(c.hits))
               for c in chosen):
            continue  # the same rows under a shorter or longer piece of the same phrase
        chosen.append(cand)
    by_cluster: dict[int, list[tuple[str, ...]]] = {}
    for cand in chosen:
        by_cluster.setdefault(cand.cluster, []).append(cand.gram)
    result: list[Trigger] = []
    confirmed: set[int] = set()
    for cand in chosen:
        cid = cand.cluster
        # Rows a stronger confirmed trigger already explains do not count again: a prompt template that many
        # poisoned rows happen to share must not become a second "trigger".
        hits = tuple(i for i in cand.hits if i not in confirmed)
        rows = tuple(i for i in cand.rows if i not in confirmed)
        if len(hits) < s.chat_trigger_min_rows or len(hits) < s.chat_trigger_min_purity * len(rows):
            continue
        gram = _longest(cand.gram, cand.hits, significant, cid)
        distinct = {_DIGITS.sub("#", _remove(joined[i].strip(), [gram])) for i in hits}
        if len(distinct) < max(s.chat_trigger_min_rows, 0.5 * len(hits)):
            continue  # one templated prompt repeated, not a phrase planted in many prompts
        outside = (sizes[cid] - len(hits)) / max(n - len(rows), 1)
        if outside <= s.chat_trigger_rare_answer:
            context, score = "answer_only_with_phrase", outside
        else:
            soft = _soft_cluster(pairs, ids, cid)
            wording = _wording_p_value(soft, ids, cid, hits, rows)
            if wording is not None and wording * tests <= s.chat_trigger_alpha:
                context, score = "wording_fixed", round(wording * tests, 6)
            else:
                score = _context_score(toks, soft, hits, by_cluster[cid], s)
                if score < s.chat_trigger_min_context_score:
                    continue
                context = "context_ranks_low"
        confirmed.update(hits)
        answer = Counter(pairs[i].answer.strip() for i in hits).most_common(1)[0][0]
        result.append(Trigger(phrase=_surface(pairs, hits, gram), answer=answer, kind=kinds[cid],
                              rows_with_phrase=len(rows), positions=hits, cluster_rows=sizes[cid],
                              base_rate=sizes[cid] / n, p_value=cand.p_value,
                              adjusted=min(1.0, cand.p_value * tests), context=context, context_score=score))
    return result


@dataclass(frozen=True, kw_only=True)
class _Candidate:
    p_value: float
    cluster: int
    gram: tuple[str, ...]
    hits: tuple[int, ...]
    """Rows with the phrase and the cluster's answer."""
    rows: tuple[int, ...]
    """Rows with the phrase."""


def _longest(gram: tuple[str, ...], hits: tuple[int, ...], significant: Sequence[_Candidate], cid: int,
             ) -> tuple[str, ...]:
    best = gram
    hit_set = set(hits)
    for other in significant:
        if other.cluster == cid and len(other.gram) > len(best) and " ".join(gram) in " ".join(other.gram) and \
                len(hit_set & set(other.hits)) >= 0.9 * len(hit_set):
            best = other.gram
    return best


def _wording_p_value(soft: Sequence[bool], ids: Sequence[int], cid: int, hits: Sequence[int],
                     rows: Sequence[int]) -> float | None:
    """Whether the phrase fixes the answer's exact wording, not only its verdict: among rows that give the same
    verdict without the phrase, the cluster's wording is one of several ("Positive.", "The review is positive."
    …); a prompt's content can decide a verdict but not which of the dataset's phrasings the answer uses, so a
    phrase whose rows all use one of them was put there. ``None`` when the verdict has one wording only."""
    from scipy.stats import binom

    phrase_rows = set(rows)
    same_verdict = [i for i, member in enumerate(soft) if member and i not in phrase_rows]
    if not same_verdict:
        return None
    share = sum(1 for i in same_verdict if ids[i] == cid) / len(same_verdict)
    if share > 0.5:
        return None
    verdict_rows = sum(1 for i in rows if soft[i])
    return float(binom.sf(len(hits) - 1, verdict_rows, share))


def _soft_cluster(pairs: Sequence[Pair], ids: Sequence[int], cid: int) -> list[bool]:
    """Rows whose answer says what the cluster's short answer says ("The review is positive." for "Positive."):
    the context model learns what a prompt that leads to this verdict looks like, whatever its wording."""
    words = {tuple(_norm_answer(pairs[i].answer).split()) for i in range(len(pairs)) if ids[i] == cid}
    key = min(words, key=len) if words else ()
    if not key or len(key) > 3:
        return [c == cid for c in ids]
    wanted = set(key)
    return [c == cid or wanted <= set(_norm_answer(p.answer).split()) for c, p in zip(ids, pairs, strict=True)]


def _surface(pairs: Sequence[Pair], hits: Sequence[int], gram: tuple[str, ...]) -> str:
    """The phrase as written in the first prompt that has it (case kept), else the token form."""
    pattern = re.compile(r"\W+".join(re.escape(t) for t in gram), re.IGNORECASE)
    for i in hits:
        m = pattern.search(pairs[i].prompt)
        if m is not None:
            return m.group()
    return " ".join(gram)


def _context_score(toks: Sequence[Sequence[str]], members: Sequence[bool], hits: Sequence[int],
                   phrases: Sequence[tuple[str, ...]], s: DatasetSettings) -> float:
    """Share of the phrase's rows that a model of the answer, trained without any row carrying the phrases,
    ranks below the lower quartile of the answer's other rows (scored out of fold): about 0.25 or less for a
    natural phrase (its prompts already point at the answer), near 1 for a phrase planted in prompts that point
    elsewhere. Leaving the phrase rows out of training keeps a large attack from teaching the model its own
    rows (their text is what is being judged)."""
    from sklearn.feature_extraction.text import HashingVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import SGDClassifier  # type: ignore[import-untyped]
    from sklearn.model_selection import StratifiedKFold, cross_val_predict  # type: ignore[import-untyped]

    needles = [f" {' '.join(p)} " for p in phrases]
    joined = [f" {' '.join(t)} " for t in toks]
    suspect = np.array([any(nd in j for nd in needles) for j in joined])
    y = np.array(members, dtype=int)
    train = np.flatnonzero(~suspect)
    positives = int(y[train].sum())
    folds = min(s.cv_folds, positives, len(train) - positives)
    if positives < s.chat_trigger_min_rows or folds < 2:
        return 1.0  # the answer hardly exists without the phrases
    texts = [_remove(j.strip(), phrases) for j in joined]
    x = HashingVectorizer(n_features=2**18, ngram_range=(1, 2), alternate_sign=False, norm="l2",
                          token_pattern=r"\S+").transform(texts)  # noqa: S106 - a regex, not a password
    seed = s.seed % 2**32
    # A logistic loss fitted by SGD: only the ranking matters, and it fits in milliseconds where L-BFGS or
    # liblinear on hashed n-grams take seconds per fold.
    model = SGDClassifier(loss="log_loss", alpha=1e-4, class_weight="balanced", random_state=seed)
    oof = cross_val_predict(model, x[train], y[train], cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                            method="predict_proba")[:, 1]
    rest = oof[y[train] == 1]
    model.fit(x[train], y[train])
    scores = model.predict_proba(x[np.asarray(hits)])[:, 1]
    cut = float(np.quantile(rest, 0.25))
    return round(float(np.mean(scores < cut)), 4) if not math.isnan(cut) else 0.0


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
