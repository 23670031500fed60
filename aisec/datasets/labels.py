"""Label errors: out-of-fold probabilities from a cross-validated model, cleanlab's confident-learning count and
class-relative (confident-learning) thresholds, and a dataset-level noise rate tested against clean corpora."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aisec.datasets.features import Featurizer, as_labels, classifier
from aisec.datasets.profile import Profile, SampleRow
from aisec.datasets.records import Observation, RowRef, Span
from aisec.datasets.settings import DatasetSettings

METHOD = {True: "cleanlab.count.num_label_issues(off_diagonal_calibrated) rows furthest below their class's "
                "confident-learning threshold",
          False: "cleanlab.filter.find_label_issues(prune_by_noise_rate)"}


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
    featurizer, x = Featurizer.fit_transform(rows, categorical, drop_column=drop_column)
    text = featurizer.has_text
    probs = np.zeros((len(rows), len(classes)))
    fold_of = np.zeros(len(rows), dtype=np.int64)
    models = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(splitter.split(np.zeros(len(rows)), y)):
        model = classifier(seed, len(classes), text=text)
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
    """Every row cleanlab's confident learning counts as a label issue, most suspicious first, plus one
    dataset-level noise summary.

    How many: cleanlab's estimate of the number of label issues (``num_label_issues``, the calibrated confident
    joint). Which: the rows furthest below their class's threshold (the mean out-of-fold probability of the class
    among rows labelled with it; cleanlab's per-class thresholds). Ranking relative to the class matters when the
    flips all go one way: the attacked class's model is biased towards the flipped rows, and cleanlab's
    ``prune_by_noise_rate`` margin ranking or a global self-confidence ranking then picks natural ambiguity
    instead (measured on poisonbench's class-targeted flips of real reviews: recall 0.2-0.55 at the same count
    against 0.33-0.6).
    """
    from cleanlab.count import num_label_issues
    from cleanlab.filter import find_label_issues

    s = profile.settings
    n = len(cv.y)
    self_conf = cv.pred_probs[np.arange(n), cv.y]
    thresholds = [float(cv.pred_probs[cv.y == k, k].mean()) if np.any(cv.y == k) else 1.0
                  for k in range(len(cv.classes))]
    relative = self_conf - np.asarray(thresholds)[cv.y]
    predicted = cv.pred_probs.argmax(axis=1)
    margin = cv.pred_probs[np.arange(n), predicted] - self_conf
    if cv.featurizer.has_text:
        count = int(num_label_issues(labels=cv.y, pred_probs=cv.pred_probs,
                                     estimation_method="off_diagonal_calibrated"))
        indices = np.array([r.index for r in cv.rows], dtype=np.int64)
        order = np.lexsort((indices, -margin, relative))  # deterministic: ties by margin, then row
        flagged = [int(i) for i in order[:count] if relative[i] < 0]
    else:
        # Tables: the model is accurate and calibrated enough that cleanlab's own filter is already precise
        # (the calibrated count over-estimates there: wine 0.78 precision against 0.9).
        mask = find_label_issues(labels=cv.y, pred_probs=cv.pred_probs, filter_by="prune_by_noise_rate", n_jobs=1)
        flagged = sorted((int(i) for i in np.flatnonzero(mask)), key=lambda i: (relative[i], -margin[i], i))
    chosen = [i for i in flagged if self_conf[i] <= s.label_issue_max_self_confidence]
    for i in chosen:
        row = cv.rows[i]
        given = int(cv.y[i])
        yield Observation(key="dataset.label_issue", value=cv.classes[given], span=Span(line=row.line),
                          pointer=None if row.line is not None else f"/{row.index}",
                          detail={"row": row.index, "given_label": cv.classes[given],
                                  "suggested_label": cv.classes[int(predicted[i])],
                                  "self_confidence": round(float(self_conf[i]), 4),
                                  "suggested_confidence": round(float(cv.pred_probs[i, predicted[i]]), 4),
                                  "class_threshold": round(thresholds[given], 4),
                                  "method": METHOD[cv.featurizer.has_text],
                                  "sampled": profile.sampled})
    related = tuple(RowRef(index=cv.rows[i].index, span=Span(line=cv.rows[i].line),
                           pointer=None if cv.rows[i].line is not None else f"/{cv.rows[i].index}")
                    for i in sorted(flagged, key=lambda i: cv.rows[i].index))
    yield noise_summary(profile, cv, issues=len(flagged), accuracy=float((predicted == cv.y).mean()),
                        related=related)


def noise_baseline(settings: DatasetSettings, *, text: bool, error: float) -> float:
    """The label-issue share clean real corpora of this kind show at this out-of-fold error rate.

    Measured with this model and cleanlab on clean real corpora: scikit-learn's wine, breast cancer, digits and
    iris flag 0-0.3 % of rows (at most a tenth of their 2-4 % error); Rotten Tomatoes snippets 12-19 % at 1k-13k
    rows (0.55-0.6 of their 21-33 % error), sentences of the 2012 convention speeches 25 % (0.79 of their 32 %
    error). On tables, flips add flagged rows far beyond the baseline. On text, natural ambiguity of real labels
    is as large as a 10 % flip attack, so the baseline is high and the per-row findings carry the evidence.
    """
    if text:
        return max(settings.label_noise_text_floor, settings.label_noise_text_error_share * error)
    return max(settings.label_noise_tabular_floor, settings.label_noise_tabular_error_share * error)


def noise_summary(profile: Profile, cv: CrossValidated, *, issues: int, accuracy: float,
                  related: tuple[RowRef, ...] = ()) -> Observation:
    """The share of flagged rows and a one-sided binomial test of it against the clean-corpus baseline."""
    from scipy.stats import binom  # type: ignore[import-untyped]

    n = len(cv.y)
    text = cv.featurizer.has_text
    baseline = noise_baseline(profile.settings, text=text, error=1.0 - accuracy)
    p_value = float(binom.sf(issues - 1, n, baseline)) if issues else 1.0
    return Observation(key="dataset.label_noise", value=round(issues / n, 6),
                       detail={"issues": issues, "rows_modelled": n, "out_of_fold_accuracy": round(accuracy, 4),
                               "model": "text" if text else "tabular", "baseline": round(baseline, 4),
                               "expected_issues": round(baseline * n, 1), "p_value": float(f"{p_value:.3g}"),
                               "test": "one-sided binomial: flagged rows against the clean-corpus baseline",
                               "method": METHOD[text],
                               "folds": cv.folds, "sampled": profile.sampled, "rows_in_file": profile.rows},
                       related=related)


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
