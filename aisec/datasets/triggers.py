"""Backdoor triggers: rare n-grams or values enriched for one label, confirmed by ablating them."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from aisec.datasets.features import tokens
from aisec.datasets.labels import CrossValidated, cross_validate, predict_fold
from aisec.datasets.profile import Profile, SampleRow
from aisec.datasets.records import Observation, RowRef, Span

MAX_NGRAMS_PER_ROW = 400
MAX_LISTED = 20
MAX_REFITS = 10
"""Most feature columns re-cross-validated without themselves to confirm tabular candidates."""


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A rare feature (n-gram, exact value or tail range) and the label its rows are enriched for."""

    kind: str
    """``ngram``, ``value`` or ``range``."""
    name: str
    column: int | None
    positions: tuple[int, ...]
    """Positions (in the cross-validated rows) of the rows that have the feature and the enriched label."""
    support: int
    label: int
    p_value: float
    adjusted: float


def _enrichment(groups: dict[str, tuple[str, int | None, list[int]]], cv: CrossValidated, profile: Profile,
                ) -> list[Candidate]:
    """Binomial test per candidate and label; Bonferroni over every test made."""
    from scipy.stats import binom  # type: ignore[import-untyped]

    s = profile.settings
    n = len(cv.y)
    base = np.bincount(cv.y, minlength=len(cv.classes)) / n
    tests = max(len(groups) * len(cv.classes), 1)
    found = []
    for name, (kind, column, positions) in groups.items():
        labels = cv.y[positions]
        counts = np.bincount(labels, minlength=len(cv.classes))
        top = int(counts.argmax())
        k = int(counts[top])
        p = float(binom.sf(k - 1, len(positions), base[top]))
        adjusted = min(1.0, p * tests)
        if adjusted <= s.trigger_alpha:
            chosen = tuple(int(positions[i]) for i in np.flatnonzero(labels == top))
            found.append(Candidate(kind=kind, name=name, column=column, positions=chosen, support=len(positions),
                                   label=top, p_value=p, adjusted=adjusted))
    found.sort(key=lambda c: (c.p_value, -len(c.name), c.name))
    unique: list[Candidate] = []
    seen: set[tuple[int, ...]] = set()
    for cand in found:
        if cand.positions in seen:
            continue  # the same rows under a shorter or weaker n-gram
        seen.add(cand.positions)
        unique.append(cand)
    return unique[: s.trigger_max_candidates]


def text_candidates(cv: CrossValidated, profile: Profile) -> list[Candidate]:
    """Word unigrams and bigrams in few rows."""
    s = profile.settings
    n = len(cv.rows)
    grams_per_row = []
    df: Counter[str] = Counter()
    for row in cv.rows:
        words = tokens(row.text)
        grams = set(words) | {f"{a} {b}" for a, b in itertools.pairwise(words)}
        if len(grams) > MAX_NGRAMS_PER_ROW:
            grams = set(sorted(grams)[:MAX_NGRAMS_PER_ROW])
        grams_per_row.append(grams)
        df.update(grams)
    top = max(s.trigger_min_support, int(s.trigger_max_fraction * n))
    wanted = {g for g, c in df.items() if s.trigger_min_support <= c <= top}
    groups: dict[str, tuple[str, int | None, list[int]]] = {}
    for pos, grams in enumerate(grams_per_row):
        for g in grams & wanted:
            groups.setdefault(g, ("ngram", None, []))[2].append(pos)
    return _enrichment(groups, cv, profile)


def tabular_candidates(cv: CrossValidated, profile: Profile) -> list[Candidate]:
    """Repeated exact values and 1 % tails of numeric columns, and values of categorical columns."""
    s = profile.settings
    n = len(cv.rows)
    top = max(s.trigger_min_support, int(s.trigger_max_fraction * n))
    groups: dict[str, tuple[str, int | None, list[int]]] = {}
    for j, name in enumerate(profile.roles.numeric):
        col = np.array([r.numeric[j] for r in cv.rows], dtype=float)
        finite = np.isfinite(col)
        if finite.sum() < 20:
            continue
        values, counts = np.unique(col[finite], return_counts=True)
        for value, count in zip(values, counts, strict=True):
            if s.trigger_min_support <= count <= top:
                groups[f"{name} == {value:g}"] = ("value", j, list(np.flatnonzero(col == value)))
        lo, hi = np.quantile(col[finite], [0.01, 0.99])
        for label, mask in ((f"{name} >= {hi:g}", col >= hi), (f"{name} <= {lo:g}", col <= lo)):
            if s.trigger_min_support <= mask.sum() <= top:
                groups[label] = ("range", j, list(np.flatnonzero(mask & finite)))
    width = len(profile.roles.numeric)
    for j, name in enumerate(profile.roles.categorical):
        seen = Counter(r.categorical[j] for r in cv.rows)
        for value, count in seen.items():
            if s.trigger_min_support <= count <= top:
                groups[f"{name} == {value}"] = ("value", width + j,
                                                [i for i, r in enumerate(cv.rows) if r.categorical[j] == value])
    return _enrichment(groups, cv, profile)


def _ablate_text(text: str, gram: str) -> str:
    words = tokens(text)
    parts = gram.split(" ")
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i:i + len(parts)] == parts:
            i += len(parts)
            continue
        out.append(words[i])
        i += 1
    return " ".join(out)


def confirm(cv: CrossValidated, candidates: Sequence[Candidate], profile: Profile) -> Iterator[Observation]:
    """Keep candidates whose rows the model assigns another label once the candidate is removed."""
    s = profile.settings
    refits: dict[int, CrossValidated | None] = {}
    reported: list[set[int]] = []
    for cand in candidates:
        positions = list(cand.positions)
        if cand.kind == "ngram":
            texts = [_ablate_text(cv.rows[i].text, cand.name) for i in positions]
            x = cv.featurizer.transform([cv.rows[i] for i in positions], texts=texts)
            probs = predict_fold(cv, positions, x)
            method = "n-gram removed, out-of-fold model"
        else:
            assert cand.column is not None
            if cand.column not in refits and len(refits) >= MAX_REFITS:
                continue
            if cand.column not in refits:
                refits[cand.column] = cross_validate(cv.rows, profile.roles.categorical, folds=cv.folds,
                                                     seed=profile.settings.seed, drop_column=cand.column)
            refit = refits[cand.column]
            if refit is None:
                continue
            probs = refit.pred_probs[positions]
            method = "column left out, re-cross-validated"
        flipped = probs.argmax(axis=1) != cand.label
        fraction = float(flipped.mean()) if len(positions) else 0.0
        if fraction < s.trigger_min_flip_fraction:
            continue
        rows = set(positions)
        if any(len(rows & other) >= 0.8 * len(rows) for other in reported):
            continue
        reported.append(rows)
        others = Counter(cv.classes[int(k)] for k in probs.argmax(axis=1)[flipped])
        first = cv.rows[positions[0]]
        lines = [_line_or_row(cv.rows[i]) for i in positions]
        shown = ", ".join(str(x) if x > 0 else f"row {-x - 1}" for x in lines[:MAX_LISTED])
        yield Observation(key="dataset.backdoor_trigger", value=cand.name, span=Span(line=first.line),
                          pointer=None if first.line is not None else f"/{first.index}",
                          detail={"kind": cand.kind, "target_label": cv.classes[cand.label],
                                  "rows_with_trigger": cand.support, "rows_with_target_label": len(positions),
                                  "p_value": float(f"{cand.p_value:.3g}"),
                                  "p_value_bonferroni": float(f"{cand.adjusted:.3g}"),
                                  "ablation_flip_fraction": round(fraction, 4),
                                  "ablated_prediction": ", ".join(f"{k}={v}" for k, v in sorted(others.items())),
                                  "method": method, "rows": shown + (f", … ({len(lines)} in all)"
                                                                      if len(lines) > MAX_LISTED else ""),
                                  "sampled": profile.sampled},
                          related=tuple(_row_ref(cv.rows[i]) for i in positions))


def _row_ref(row: SampleRow) -> RowRef:
    return RowRef(index=row.index, span=Span(line=row.line),
                  pointer=None if row.line is not None else f"/{row.index}")


def _line_or_row(row: SampleRow) -> int:
    """The physical line, or ``-(row index + 1)`` for formats without lines (Parquet)."""
    return row.line if row.line is not None else -row.index - 1


def find_triggers(cv: CrossValidated, profile: Profile) -> Iterator[Observation]:
    """Text triggers when the dataset has text, tabular triggers when it has feature columns."""
    candidates: list[Candidate] = []
    if any(r.text for r in cv.rows):
        candidates.extend(text_candidates(cv, profile))
    if profile.roles.numeric or profile.roles.categorical:
        candidates.extend(tabular_candidates(cv, profile))
    candidates.sort(key=lambda c: (c.p_value, c.name))
    yield from confirm(cv, candidates[: profile.settings.trigger_max_candidates], profile)
