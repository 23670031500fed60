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
from aisec.datasets.trigger_candidates import Feature, Group, enriched, group, text_features
from aisec.datasets.trigger_confirm import TextModel, Verdict
from aisec.datasets.trigger_tabular import TableModel, tabular_features

COMPANION_MIN_SHARE = 0.2
COMPANION_MIN_LIFT = 3.0
"""Another candidate is ablated with this one when at least this share of the smaller one's rows hold both, at
this many times the rate independence predicts."""
TABLE_MAX_TESTS = 60
"""Most tabular candidate groups given the exact test."""
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
    found = enriched(features, y, classes, alpha=s.trigger_alpha)
    groups = group(found, min_jaccard=s.trigger_group_jaccard, limit=s.trigger_max_candidates)
    if not groups:
        return []
    tests = max(len(features) * classes, 1)
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
        for g in list(pending):
            # Significance on all of the candidate's rows; the verdict on those no earlier trigger took, so a
            # trigger token sharing rows with a found one still counts, and a common word around a found sentence
            # is judged on its own rows only.
            rows = g.rows[~taken[g.rows]]
            p = _binomial_p(y, g.rows, g.label, float(base[g.label]))
            multiplicity = tests if g.adjusted < 1.0 else len(groups)
            if len(rows) < s.trigger_min_support or p * multiplicity > s.trigger_alpha:
                pending.remove(g)
                continue
            grams = [m.tokens for m in g.members] + _companions(g, groups, len(y)) + grams_found
            if model.screen(rows, grams, g.label).unexplained < s.trigger_min_unexplained - SCREEN_MARGIN:
                continue  # may change once another trigger is found and ablated too
            if refits >= s.trigger_max_refits:
                continue
            refits += 1
            verdict = model.confirm(rows, grams, g.label, exclude=taken)
            pending.remove(g)
            if verdict is None or verdict.unexplained < s.trigger_min_unexplained:
                continue
            target = rows[y[rows] == g.label]
            if len(target) < s.trigger_min_support:
                continue
            confirmed.append(Confirmed(group=g, rows=rows, target_rows=target, verdict=verdict, p_value=p))
            taken[target] = True
            grams_found.extend(m.tokens for m in g.members)
            progress = True
            follow = _followers(target, features, groups, len(y), g.label, s.trigger_min_support)
            pending.extend(follow)
            groups.extend(follow)
    return confirmed


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
            out.append(Group(members=(f,), rows=f.rows, label=label, p_value=1.0, adjusted=1.0))
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
        if verdict is None or verdict.unexplained < s.trigger_min_unexplained:
            continue
        # Significant either as enrichment over the base rate (Bonferroni over every feature) or as more target
        # labels than the ablated model expects (Bonferroni over the groups tested).
        if p * tests > s.trigger_alpha and verdict.z < z_min:
            continue
        target = rows[y[rows] == g.label]
        if len(target) < s.trigger_min_support:
            continue
        confirmed.append(Confirmed(group=g, rows=rows, target_rows=target, verdict=verdict, p_value=p))
        taken[target] = True
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
