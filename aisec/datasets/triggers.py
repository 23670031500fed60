"""Backdoor triggers: features or groups of features enriched for one label whose rows' label the rest of their
content does not explain (the dirty-label backdoor signature), with every affected row attached."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from aisec.datasets.labels import CrossValidated
from aisec.datasets.profile import Profile, SampleRow
from aisec.datasets.records import Observation, RowRef, Span
from aisec.datasets.settings import DatasetSettings
from aisec.datasets.trigger_candidates import (
    Feature,
    Group,
    enriched,
    group,
    linked_parts,
    structural,
    testable,
    text_features,
)
from aisec.datasets.trigger_confirm import TextModel, Verdict
from aisec.datasets.trigger_tabular import TableModel, tabular_features

COMPANION_MIN_SHARE = 0.2
COMPANION_MIN_LIFT = 3.0
"""Another candidate is ablated with this one when at least this share of the smaller one's rows hold both, at
this many times the rate independence predicts."""
TABLE_MAX_TESTS = 60
"""Most tabular candidate groups given the exact test."""
WEAK_SUPPORT_FACTOR = 4
"""A candidate admitted on its unadjusted p needs this many times ``trigger_min_support`` rows."""
STRUCTURAL_MAX_P = 0.05
"""A structural candidate (chosen blind to the labels) is tested when its most enriched label is enriched at
this unadjusted p: 24 poisoned rows with 6 decoys on an 800-row file reach only p = 0.002-0.05."""
STRUCTURAL_MIN_UNEXPLAINED = 0.6
"""``trigger_min_unexplained`` for structural candidates, whose content must also pass their own z: on 800-row
files a weak model reads 100 rows of a BadNets set as 0.63-0.71 unexplained."""
SCREEN_MARGIN = 0.15
"""A candidate goes to the exact (refit) test when the cheap screen puts it within this of the cut."""


@dataclass(frozen=True, kw_only=True)
class Confirmed:
    """A candidate group whose label its rows' other content does not explain."""

    group: Group
    rows: npt.NDArray[np.int64]
    """Positions of the candidate's rows (those already given to an earlier trigger left out)."""
    target_rows: npt.NDArray[np.int64]
    """… of them, those with the target label: the poisoned rows."""
    verdict: Verdict
    p_value: float


def _binomial_p(y: npt.NDArray[np.int64], rows: npt.NDArray[np.int64], label: int, base: float) -> float:
    from scipy.stats import binom  # type: ignore[import-untyped]

    k = int((y[rows] == label).sum())
    return float(binom.sf(k - 1, len(rows), base))


def text_triggers(cv: CrossValidated, profile: Profile) -> list[Confirmed]:
    """Token n-gram groups; confirmed one after another, each test also ablating the triggers already found
    (poisoned rows often carry several trigger tokens) and leaving their rows out."""
    s = profile.settings
    texts = [r.text for r in cv.rows]
    y = cv.y
    classes = len(cv.classes)
    features = text_features(texts, max_n=s.trigger_max_ngram, min_support=s.trigger_min_support,
                             max_fraction=s.trigger_max_fraction)
    tests = testable(features, y, classes, alpha=s.trigger_alpha)
    found = enriched(features, y, classes, alpha=s.trigger_alpha, screen_p=s.trigger_screen_p, tests=tests)
    groups = group(found, min_jaccard=s.trigger_group_jaccard, limit=s.trigger_max_candidates)
    groups.extend(_unions(groups, features, y, classes, s.trigger_min_support))
    shaped = _structural(features, y, classes, s)
    # A structural candidate replaces the same words chosen by their labels (its test is the structural one).
    names = {_names(g) for g in shaped}
    groups = [g for g in groups if _names(g) not in names] + shaped
    if not groups:
        return []
    # A structural candidate is one of few chosen blind to the labels: its content test is corrected for those.
    z_shape = _z_for(s.trigger_alpha / max(len(shaped), 1))
    # A candidate admitted on its unadjusted p must pass the ablated model's z at the screen's own correction
    # (every feature x label): the content-aware test is more powerful, not more lenient.
    z_min = _z_for(s.trigger_alpha / tests)
    base = np.bincount(y, minlength=classes) / len(y)
    model = TextModel(texts, y, classes, folds=cv.folds, seed=s.seed)
    confirmed: list[Confirmed] = []
    taken = np.zeros(len(y), dtype=bool)
    grams_found: list[tuple[str, ...]] = []
    pending = list(groups)
    refits = 0
    progress = True
    while progress and pending:
        progress = False
        # Screen every pending candidate, then spend the exact refits on the most unexplained first: a large
        # attack with decoys is only weakly enriched over the base rate it inflated, so it ranks late by p.
        screened: list[tuple[float, int, Group]] = []
        for order, g in enumerate(pending):
            rows = g.rows[~taken[g.rows]]
            p = _binomial_p(y, g.rows, g.label, float(base[g.label]))
            if len(rows) < s.trigger_min_support or not _admitted(g, p, tests, groups, s):
                continue
            grams = _grams(g, groups, grams_found, len(y))
            screen = model.screen(rows, grams, g.label)
            share = 0.0 if screen is None else screen.unexplained
            cut = STRUCTURAL_MIN_UNEXPLAINED if g.structural else s.trigger_min_unexplained
            if share >= cut - SCREEN_MARGIN:
                screened.append((share, order, g))
        # Token sets first: a set of trigger tokens is judged on all of its rows before any one token is.
        for _, _, g in sorted(screened, key=lambda t: (not t[2].token_set, -t[0], t[1])):
            if refits >= s.trigger_max_refits:
                break
            # Significance on all of the candidate's rows; the verdict on those no earlier trigger took, so a
            # trigger token sharing rows with a found one still counts, and a common word around a found sentence
            # is judged on its own rows only.
            rows = g.rows[~taken[g.rows]]
            pending.remove(g)
            if int((y[rows] == g.label).sum()) < s.trigger_min_support:
                continue  # what an earlier trigger left of it (its decoys) cannot be a trigger
            refits += 1
            p = _binomial_p(y, g.rows, g.label, float(base[g.label]))
            verdict = model.confirm(rows, _grams(g, groups, grams_found, len(y)), g.label, exclude=taken)
            # Significant as enrichment over the base rate, as more target labels than the ablated model expects,
            # or (a weak model's probabilities stay near the base rate, so that excess is small) as target rows
            # whose other content is far from that of ordinary target rows.
            significant = p * _multiplicity(g, tests, groups) <= s.trigger_alpha or \
                (verdict is not None and max(verdict.z, verdict.content_z) >= z_min)
            # A follow-up is chosen by co-occurrence with a confirmed trigger (structural evidence); any other
            # candidate's rows must also read as another class beyond the noise of a weak model on few rows.
            significant = significant and (g.follow_up or verdict is None or
                                           verdict.content_z >= s.trigger_min_content_z)
            significant = significant or (g.structural and verdict is not None and verdict.content_z >= z_shape)
            accepted = _accept(g, rows, y, verdict, p, significant,
                               STRUCTURAL_MIN_UNEXPLAINED if g.structural else s.trigger_min_unexplained,
                               s.trigger_min_support)
            if accepted is None:
                continue
            confirmed.append(accepted)
            taken[accepted.target_rows] = True
            grams_found.extend(m.tokens for m in g.members)
            progress = True
            follow = _followers(accepted.target_rows, features, groups, len(y), g.label, s.trigger_min_support)
            pending.extend(follow)
            groups.extend(follow)
    return confirmed


def _admitted(g: Group, p: float, tests: int, groups: Sequence[Group], s: DatasetSettings) -> bool:
    """Significant over the base rate, or (a weakly enriched candidate, left to the ablated model's z) enriched
    at ``trigger_screen_p`` in enough rows for that z to mean something: a handful of rows of a natural word
    whose meaning is in the word itself ("flat" in 9 rotten reviews) reads as unexplained by chance."""
    if p * _multiplicity(g, tests, groups) <= s.trigger_alpha:
        return True
    if g.structural:
        return p <= STRUCTURAL_MAX_P
    return p <= s.trigger_screen_p and len(g.rows) >= WEAK_SUPPORT_FACTOR * s.trigger_min_support


def _multiplicity(g: Group, tests: int, groups: Sequence[Group]) -> int:
    """Bonferroni factor of a candidate's base-rate test: every feature x label for screened features, the
    groups for follow-ups (chosen by co-occurrence with a confirmed trigger, not by their labels)."""
    return len(groups) if g.follow_up else tests


def _grams(g: Group, groups: Sequence[Group], found: Sequence[tuple[str, ...]], n: int) -> list[tuple[str, ...]]:
    """What the ablation removes: the group's n-grams, co-occurring candidates and triggers already found."""
    return [m.tokens for m in g.members] + _companions(g, groups, n) + list(found)


def _accept(g: Group, rows: npt.NDArray[np.int64], y: npt.NDArray[np.int64], verdict: Verdict | None, p: float,
            significant: bool, min_unexplained: float, min_support: int) -> Confirmed | None:
    """The confirmed trigger, or ``None`` when the ablated model explains the rows' label, the excess of target
    labels is not significant, or too few target rows remain."""
    if verdict is None or verdict.unexplained < min_unexplained or not significant:
        return None
    target = rows[y[rows] == g.label]
    if len(target) < min_support:
        return None
    return Confirmed(group=g, rows=rows, target_rows=target, verdict=verdict, p_value=p)


def _unions(groups: Sequence[Group], features: Sequence[Feature], y: npt.NDArray[np.int64], classes: int,
            min_support: int) -> list[Group]:
    """Candidate words of one label that share rows far beyond chance but are not a phrase (BadNets puts one to
    three tokens of a trigger set at random positions of each poisoned row): their union is a candidate too, so
    each token's rows are not judged alone (a few rows of a weak model are noise)."""
    words = [g for g in groups if len(g.members) == 1 and len(g.members[0].tokens) == 1]
    bigrams = {f.name: len(f.rows) for f in features if len(f.tokens) == 2}
    # Words of one repeated phrase (a trigger sentence) share rows because of the phrase: that is the phrase's
    # candidate, not a set of separate tokens.
    phrases = [({t for m in g.members for t in m.tokens}, g.rows) for g in groups
               if any(len(m.tokens) > 1 for m in g.members)]
    n = len(y)
    links = []
    for i, a in enumerate(words):
        for j in range(i + 1, len(words)):
            b = words[j]
            if a.label != b.label:
                continue
            shared = np.intersect1d(a.rows, b.rows, assume_unique=True)
            both = len(shared)
            phrase = max(bigrams.get(f"{a.name} {b.name}", 0), bigrams.get(f"{b.name} {a.name}", 0))
            phrase = max([phrase] + [len(np.intersect1d(shared, rows)) for tokens, rows in phrases
                                     if a.name in tokens and b.name in tokens])
            if both >= max(min_support, COMPANION_MIN_SHARE * min(len(a.rows), len(b.rows))) and phrase * 2 < both and \
                    both * n >= COMPANION_MIN_LIFT * len(a.rows) * len(b.rows):
                links.append((i, j))
    out = []
    base = np.bincount(y, minlength=classes) / max(n, 1)
    for indices in linked_parts(len(words), links):
        part = [words[i] for i in indices]
        rows = np.unique(np.concatenate([g.rows for g in part]))
        label = part[0].label
        p = _binomial_p(y, rows, label, float(base[label]))
        members = tuple(sorted((g.members[0] for g in part), key=lambda f: f.name))
        out.append(Group(members=members, rows=rows, label=label, p_value=p, adjusted=min(1.0, p), token_set=True))
    return out


OUTSIDE_MAX_P = 0.001
"""A structural candidate's word that is enriched for the label at this p in rows outside the candidate is a
class word: the candidate is dropped."""


def _says_label(word_rows: npt.NDArray[np.int64] | None, rows: npt.NDArray[np.int64], y: npt.NDArray[np.int64],
                label: int, base: float, min_support: int) -> bool:
    if word_rows is None:
        return False
    outside = np.setdiff1d(word_rows, rows, assume_unique=True)
    return len(outside) >= min_support and _binomial_p(y, outside, label, base) <= OUTSIDE_MAX_P


def _names(g: Group) -> tuple[str, ...]:
    return tuple(sorted(m.name for m in g.members))


def _structural(features: Sequence[Feature], y: npt.NDArray[np.int64], classes: int,
                s: DatasetSettings) -> list[Group]:
    """Structural candidates, each labelled with its most enriched label; the n-grams of one repeated sentence
    form one candidate."""
    n = len(y)
    base = np.bincount(y, minlength=classes) / max(n, 1)
    words = {f.name: f.rows for f in features if len(f.tokens) == 1}
    spans: list[tuple[Feature, int, float, float]] = []
    out: list[Group] = []
    for members in structural(features, n, min_support=s.trigger_min_support):
        rows = np.unique(np.concatenate([m.rows for m in members]))
        if len(rows) < WEAK_SUPPORT_FACTOR * s.trigger_min_support:
            continue
        counts = np.bincount(y[rows], minlength=classes)
        label = int((counts / np.maximum(base, 1e-12)).argmax())
        p = _binomial_p(y, rows, label, float(base[label]))
        # A span or set holding a word that says the label on its own elsewhere (a class word inside a repeated
        # template) is that word's signal, not a trigger's.
        if any(_says_label(words.get(t), rows, y, label, float(base[label]), s.trigger_min_support)
               for m in members for t in m.tokens):
            continue
        if len(members) == 1:
            spans.append((members[0], label, p, p))
        else:
            out.append(Group(members=tuple(members), rows=rows, label=label, p_value=p, adjusted=p,
                             token_set=True, structural=True))
    spans.sort(key=lambda t: (t[2], -len(t[0].tokens), t[0].name))
    for g in group(spans, min_jaccard=s.trigger_group_jaccard, limit=s.trigger_max_candidates):
        out.append(Group(members=g.members, rows=g.rows, label=g.label, p_value=g.p_value, adjusted=g.p_value,
                         structural=True))
    return out


def _followers(target: npt.NDArray[np.int64], features: Sequence[Feature], groups: Sequence[Group], n: int,
               label: int, min_support: int) -> list[Group]:
    """Features that co-occur with a confirmed trigger's rows far beyond chance (the other tokens of a trigger
    set, too rare to pass the screen alone) become follow-up candidates."""
    rows = np.zeros(n, dtype=bool)
    rows[target] = True
    known = {m.name for g in groups for m in g.members}
    out = []
    for f in features:
        if f.name in known:
            continue
        both = int(rows[f.rows].sum())
        if both >= min_support and both < len(f.rows) and \
                both >= COMPANION_MIN_SHARE * min(len(f.rows), len(target)) and \
                both * n >= COMPANION_MIN_LIFT * len(f.rows) * len(target):
            out.append(Group(members=(f,), rows=f.rows, label=label, p_value=1.0, adjusted=1.0, follow_up=True))
    return out


def _companions(g: Group, groups: Sequence[Group], n: int) -> list[tuple[str, ...]]:
    """N-grams of other candidates of the same label that co-occur with ``g`` far beyond chance: a poisoned row
    often carries several trigger tokens, and removing one leaves the others to explain its label."""
    rows = set(g.rows.tolist())
    out: list[tuple[str, ...]] = []
    for other in groups:
        if other is g or other.label != g.label or not len(other.rows):
            continue
        both = len(rows.intersection(other.rows.tolist()))
        if both >= COMPANION_MIN_SHARE * min(len(rows), len(other.rows)) and \
                both * n >= COMPANION_MIN_LIFT * len(rows) * len(other.rows):
            out.extend(m.tokens for m in other.members)
    return out


def tabular_triggers(cv: CrossValidated, profile: Profile) -> list[Confirmed]:
    """Exact values, tails and value pairs of feature columns, grouped; each group's columns dropped and a model
    fitted without its rows (tables are small and fits cheap, so every candidate gets the exact test)."""
    s = profile.settings
    y = cv.y
    classes = len(cv.classes)
    features = tabular_features(cv.rows, profile.roles.numeric, profile.roles.categorical,
                                min_support=s.trigger_min_support, max_fraction=s.trigger_max_fraction)
    found = enriched(features, y, classes, alpha=s.trigger_alpha)
    # Value patterns are candidates even when their label is the majority one (then enrichment over the base rate
    # is weak): exact values co-occurring across columns far beyond chance are themselves the anomaly, and the
    # ablation test below decides.
    seen = {f.name for f, *_ in found}
    base = np.bincount(y, minlength=classes) / len(y)
    patterns = sorted((f for f in features if f.kind == "pattern" and f.name not in seen),
                      key=lambda f: (-len(f.rows), f.name))
    for f in patterns:
        counts = np.bincount(y[f.rows], minlength=classes)
        found.append((f, int((counts / np.maximum(base, 1e-12)).argmax()), 1.0, 1.0))
    groups = group(found, min_jaccard=s.trigger_group_jaccard, limit=min(s.trigger_max_candidates, TABLE_MAX_TESTS))
    if not groups:
        return []
    tests = max(len(features) * classes, 1)
    z_min = _z_for(s.trigger_alpha / len(groups))
    model = TableModel(cv.rows, len(profile.roles.categorical), y, classes, folds=cv.folds, seed=s.seed)
    confirmed: list[Confirmed] = []
    taken = np.zeros(len(y), dtype=bool)
    for g in groups:
        rows = g.rows[~taken[g.rows]]
        if len(rows) < s.trigger_min_support:
            continue
        p = _binomial_p(y, g.rows, g.label, float(base[g.label]))
        verdict = model.confirm(rows, g.columns, g.label, exclude=taken)
        # Significant either as enrichment over the base rate (Bonferroni over every feature) or as more target
        # labels than the ablated model expects (Bonferroni over the groups tested).
        significant = p * tests <= s.trigger_alpha or (verdict is not None and verdict.z >= z_min)
        accepted = _accept(g, rows, y, verdict, p, significant, s.trigger_min_unexplained, s.trigger_min_support)
        if accepted is None:
            continue
        confirmed.append(accepted)
        taken[accepted.target_rows] = True
    return confirmed


def _z_for(alpha: float) -> float:
    from scipy.stats import norm  # type: ignore[import-untyped]

    return float(norm.isf(alpha))


def _row_ref(row: SampleRow) -> RowRef:
    return RowRef(index=row.index, span=Span(line=row.line),
                  pointer=None if row.line is not None else f"/{row.index}")


def _observation(cv: CrossValidated, found: Confirmed, profile: Profile, method: str) -> Observation:
    rows = [cv.rows[i] for i in found.target_rows]
    first = rows[0]
    v = found.verdict
    g = found.group
    return Observation(
        key="dataset.backdoor_trigger", value=g.name, span=Span(line=first.line),
        pointer=None if first.line is not None else f"/{first.index}",
        detail={"kind": g.kind, "target_label": cv.classes[g.label], "rows_with_trigger": len(found.rows),
                "rows_with_target_label": len(rows), "features_in_group": len(g.members),
                "p_value": float(f"{found.p_value:.3g}"),
                "target_share": round(v.observed, 4),
                "content_share": round(min(1.0, max(0.0, v.content_share)), 4),
                "unexplained_share": round(v.unexplained, 4), "z": round(v.z, 2),
                "method": method, "sampled": profile.sampled},
        related=tuple(_row_ref(r) for r in rows))


def find_triggers(cv: CrossValidated, profile: Profile) -> Iterator[Observation]:
    """Text triggers when the dataset has text, tabular triggers when it has feature columns."""
    found: list[tuple[Confirmed, str]] = []
    if any(r.text for r in cv.rows):
        method = "n-gram group removed; model fitted without its rows"
        found.extend((c, method) for c in text_triggers(cv, profile))
    if profile.roles.numeric or profile.roles.categorical:
        method = "columns dropped; model fitted without the rows"
        found.extend((c, method) for c in tabular_triggers(cv, profile))
    found.sort(key=lambda item: (item[0].p_value, item[0].group.name))
    for confirmed, method in found:
        yield _observation(cv, confirmed, profile, method)


__all__: Sequence[str] = ("Confirmed", "find_triggers", "tabular_triggers", "text_triggers")
