"""Label errors: out-of-fold probabilities from a cross-validated model, then cleanlab's ``find_label_issues``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aisec.datasets.features import Featurizer, as_labels, classifier
from aisec.datasets.profile import Profile, SampleRow
from aisec.datasets.records import Observation, Span


@dataclass(frozen=True, kw_only=True)
class CrossValidated:
    """Out-of-fold predictions plus the fold models, reused by the trigger ablations."""

    rows: list[SampleRow]
    classes: list[str]
    y: npt.NDArray[np.int64]
    pred_probs: npt.NDArray[np.float64]
    fold_of: npt.NDArray[np.int64]
    models: list[Any]
    featurizer: Featurizer
    folds: int


def usable_rows(sample: Sequence[SampleRow], folds: int) -> list[SampleRow]:
    """Labelled rows of classes with at least ``folds`` members (rarer classes cannot be cross-validated)."""
    counts = Counter(r.label for r in sample if r.label is not None)
    return [r for r in sample if r.label is not None and counts[r.label] >= folds]


def cross_validate(rows: list[SampleRow], categorical: Sequence[str], *, folds: int, seed: int,
                   drop_column: int | None = None) -> CrossValidated | None:
    """Stratified k-fold out-of-fold probabilities; ``None`` when there are fewer than two classes."""
    from sklearn.model_selection import StratifiedKFold

    classes, y = as_labels(rows)
    if len(classes) < 2 or len(rows) < 2 * folds:
        return None
    featurizer = Featurizer.fit(rows, categorical)
    x = featurizer.transform(rows, drop_column=drop_column)
    probs = np.zeros((len(rows), len(classes)))
    fold_of = np.zeros(len(rows), dtype=np.int64)
    models = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(splitter.split(np.zeros(len(rows)), y)):
        model = classifier(seed, len(classes))
        model.fit(x[train], y[train])
        p = np.zeros((len(test), len(classes)))
        p[:, model.classes_] = model.predict_proba(x[test])
        probs[test] = p
        fold_of[test] = k
        models.append(model)
    return CrossValidated(rows=rows, classes=classes, y=y, pred_probs=probs, fold_of=fold_of, models=models,
                          featurizer=featurizer, folds=folds)


def predict_fold(cv: CrossValidated, positions: Sequence[int], x: Any) -> npt.NDArray[np.float64]:
    """Probabilities for rows at ``positions`` (features ``x``) from the model that did not train on them."""
    out = np.zeros((len(positions), len(cv.classes)))
    folds = cv.fold_of[list(positions)]
    for k in np.unique(folds):
        mask = folds == k
        model = cv.models[int(k)]
        out[np.ix_(mask, model.classes_)] = model.predict_proba(x[mask])
    return out


def label_issues(profile: Profile, cv: CrossValidated) -> Iterator[Observation]:
    """Rows cleanlab flags whose own label gets an out-of-fold probability below the settings' bound, plus one
    dataset-level summary (issue count and share) for the noise-rate rule."""
    from cleanlab.filter import find_label_issues

    s = profile.settings
    mask = find_label_issues(labels=cv.y, pred_probs=cv.pred_probs, filter_by="prune_by_noise_rate",
                             n_jobs=1)
    self_conf = cv.pred_probs[np.arange(len(cv.y)), cv.y]
    predicted = cv.pred_probs.argmax(axis=1)
    chosen = [i for i in np.flatnonzero(mask) if self_conf[i] < s.label_issue_max_self_confidence]
    chosen.sort(key=lambda i: (self_conf[i], cv.rows[i].index))
    for i in chosen:
        row = cv.rows[i]
        yield Observation(key="dataset.label_issue", value=cv.classes[int(cv.y[i])], span=Span(line=row.line),
                          pointer=None if row.line is not None else f"/{row.index}",
                          detail={"row": row.index, "given_label": cv.classes[int(cv.y[i])],
                                  "suggested_label": cv.classes[int(predicted[i])],
                                  "self_confidence": round(float(self_conf[i]), 4),
                                  "suggested_confidence": round(float(cv.pred_probs[i, predicted[i]]), 4),
                                  "method": "cleanlab.filter.find_label_issues(prune_by_noise_rate)",
                                  "sampled": profile.sampled})
    accuracy = float((predicted == cv.y).mean())
    confident = sum(1 for i in chosen if self_conf[i] < s.label_noise_max_self_confidence)
    yield Observation(key="dataset.label_noise", value=round(confident / len(cv.y), 6),
                      detail={"issues": confident, "self_confidence_below": s.label_noise_max_self_confidence,
                              "cleanlab_flagged": int(mask.sum()), "rows_modelled": len(cv.y),
                              "out_of_fold_accuracy": round(accuracy, 4), "folds": cv.folds,
                              "sampled": profile.sampled, "rows_in_file": profile.rows})


def label_distribution(profile: Profile, *, expected: Mapping[str, float] | None = None,
                       source: str = "policy") -> Iterator[Observation]:
    """Chi-square test of the observed label counts against ``expected_label_distribution`` (or ``expected``,
    e.g. the counts a manifest recorded)."""
    expected = expected if expected is not None else profile.settings.expected_label_distribution
    counts = profile.label_counts
    if not expected or not counts or profile.label_overflow:
        return
    from scipy.stats import chisquare  # type: ignore[import-untyped]

    labels = sorted(set(expected) | set(counts))
    total = sum(counts.values())
    share = {k: max(expected.get(k, 0.0), 1e-9) for k in labels}
    norm = sum(share.values())
    f_exp = np.array([share[k] / norm * total for k in labels])
    f_obs = np.array([counts.get(k, 0) for k in labels], dtype=float)
    result = chisquare(f_obs, f_exp)
    observed = ", ".join(f"{k}={counts.get(k, 0) / total:.4f}" for k in labels)
    wanted = ", ".join(f"{k}={share[k] / norm:.4f}" for k in labels)
    yield Observation(key="dataset.label_distribution", value=float(f"{float(result.pvalue):.3g}"),
                      detail={"observed": observed, "expected": wanted, "chi_square": round(float(result.statistic), 3),
                              "rows": total, "expected_from": source})
