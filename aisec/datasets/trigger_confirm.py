"""Trigger confirmation: is the label of a candidate's rows explained by the rest of their content?

A model trained on every other row (which never sees the candidate) predicts the candidate's rows with the
candidate removed. Natural class-bearing words ("worst" in a rotten review) are explained: the rest of the
review already says rotten. Dirty-label trigger rows were taken from other classes and relabelled, so once the
trigger is gone the model expects their original class: their label is unexplained, or contradicted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aisec.datasets.trigger_candidates import tokenize

TEXT_HASH_FEATURES = 2**18
"""Hashed unigram+bigram features of the confirmation model (few collisions at 20k short texts)."""


def text_matrix(texts: Sequence[str]) -> Any:
    """Hashed, L2-normalised word unigrams and bigrams (stateless, so ablated rows transform the same way)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(n_features=TEXT_HASH_FEATURES, ngram_range=(1, 2), alternate_sign=False,
                                   token_pattern=r"(?u)\b\w+\b", norm="l2")  # noqa: S106
    return vectorizer.transform(list(texts))


def ablate(text: str, grams: Sequence[tuple[str, ...]]) -> str:
    """``text`` as tokens with every occurrence of every n-gram in ``grams`` removed (overlaps included)."""
    words = tokenize(text)
    drop = [False] * len(words)
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for g in grams:
        by_first.setdefault(g[0], []).append(g)
    for i, w in enumerate(words):
        for g in by_first.get(w, ()):
            if tuple(words[i:i + len(g)]) == g:
                for j in range(i, i + len(g)):
                    drop[j] = True
    return " ".join(w for w, d in zip(words, drop, strict=True) if not d)


def classifier(seed: int, classes: int) -> Any:
    """Multinomial logistic regression fitted by SAGA (measured 10x faster than liblinear and 30x faster than
    L-BFGS on L2-normalised hashed n-grams, to the same probabilities at this tolerance)."""
    from sklearn.linear_model import LogisticRegression

    del classes
    return LogisticRegression(C=4.0, max_iter=200, tol=1e-3, random_state=seed, solver="saga")


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What the ablated model says about a candidate's rows."""

    observed: float
    """Share of the rows that carry the target label."""
    content_share: float
    """Estimated share of the target-labelled rows whose content (candidate removed) is of the target class: the
    ablated model's mean P(target) on them, placed between its means on rows of other classes (0) and of the
    target class (1), which undoes the shrinkage of a weak model's probabilities."""
    z: float
    """(target rows - expected target rows) / sd under the ablated probabilities (Poisson-binomial, normal)."""
    content_z: float = 0.0
    """How many standard errors the target rows' mean ablated P(target) lies below the mean on target rows: a
    share read off a few rows of a weak model is noise (15 random rows of a 67 %-accurate review model: one
    standard error is 0.3 of the scale), so the share must also be far from "ordinary target rows"."""

    @property
    def unexplained(self) -> float:
        """Share of the target-labelled rows whose content does not say target: low for natural class-bearing
        words, near 1 for dirty-label triggers (decoys with other labels do not dilute it)."""
        return 1.0 - min(1.0, max(0.0, self.content_share))


def verdict(p: npt.NDArray[np.float64], y_rows: npt.NDArray[np.int64], label: int, *, inside: float,
            outside: float, inside_sd: float) -> Verdict:
    """The verdict for rows with ablated P(target) ``p``; ``inside``/``outside`` are the model's mean P(target)
    on target rows and on other rows (out of fold), ``inside_sd`` its standard deviation on target rows."""
    target = y_rows == label
    hits = float(target.sum())
    var = float((p * (1 - p)).sum())
    spread = max(inside - outside, 1e-6)
    mean = float(p[target].mean()) if hits else inside
    return Verdict(observed=hits / max(len(y_rows), 1), content_share=(mean - outside) / spread,
                   z=(hits - float(p.sum())) / float(np.sqrt(max(var, 1e-9))),
                   content_z=(inside - mean) * float(np.sqrt(hits)) / max(inside_sd, 1e-6))


def calibration(probs: npt.NDArray[np.float64], y: npt.NDArray[np.int64], classes: int,
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per class: out-of-fold mean P(class) on its rows, on other rows, and its standard deviation on its rows."""
    inside = np.array([probs[y == c, c].mean() if (y == c).any() else 1.0 for c in range(classes)])
    outside = np.array([probs[y != c, c].mean() if (y != c).any() else 0.0 for c in range(classes)])
    sd = np.array([probs[y == c, c].std() if (y == c).any() else 0.0 for c in range(classes)])
    return inside, outside, sd


def reprior(proba: npt.NDArray[np.float64], y: npt.NDArray[np.int64], keep: npt.NDArray[np.bool_],
            classes: int) -> npt.NDArray[np.float64]:
    """``proba`` of a model fitted on the ``keep`` rows, moved to the class prior of every row (Bayes' rule):
    the calibration means come from models that saw every row, and leaving out a candidate's rows (mostly of
    the target class) or a large trigger already found shifts the prior enough to read as unexplained."""
    full = np.bincount(y, minlength=classes) / max(len(y), 1)
    kept = np.bincount(y[keep], minlength=classes) / max(int(keep.sum()), 1)
    ratio = np.where(kept > 0, full / np.maximum(kept, 1e-12), 1.0)
    out = proba * ratio
    total = out.sum(axis=1, keepdims=True)
    return np.asarray(out / np.where(total > 0, total, 1.0), dtype=np.float64)


class TextModel:
    """Out-of-fold logistic regression over hashed n-grams, with the class-conditional means that calibrate
    its (shrunken) probabilities, and refits without a candidate's rows."""

    def __init__(self, texts: Sequence[str], y: npt.NDArray[np.int64], classes: int, *, folds: int,
                 seed: int) -> None:
        from sklearn.model_selection import StratifiedKFold

        self.texts = list(texts)
        self.y = y
        self.classes = classes
        self.seed = seed
        full = text_matrix(self.texts)
        # Only hashed columns some row uses: the solvers' cost grows with the width of the matrix.
        self.columns = np.flatnonzero(full.getnnz(axis=0) > 0)
        self.x = full[:, self.columns].tocsr()
        self.fold_of = np.zeros(len(y), dtype=np.int64)
        self.models: list[Any] = []
        probs = np.zeros((len(y), classes))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for k, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
            model = classifier(seed, classes)
            model.fit(self.x[train], y[train])
            probs[np.ix_(test, model.classes_)] = model.predict_proba(self.x[test])
            self.fold_of[test] = k
            self.models.append(model)
        self.pred_probs = probs
        self.inside, self.outside, self.inside_sd = calibration(probs, y, classes)

    def _verdict(self, p: npt.NDArray[np.float64], y_rows: npt.NDArray[np.int64], label: int) -> Verdict:
        return verdict(p, y_rows, label, inside=float(self.inside[label]), outside=float(self.outside[label]),
                       inside_sd=float(self.inside_sd[label]))

    def _ablated(self, rows: npt.NDArray[np.int64], grams: Sequence[tuple[str, ...]]) -> Any:
        return text_matrix([ablate(self.texts[i], grams) for i in rows])[:, self.columns].tocsr()

    def screen(self, rows: npt.NDArray[np.int64], grams: Sequence[tuple[str, ...]], label: int) -> Verdict:
        """Cheap: the fold models that did not train on each row predict it with the candidate removed."""
        x = self._ablated(rows, grams)
        p = np.zeros(len(rows))
        folds = self.fold_of[rows]
        for k in np.unique(folds):
            mask = folds == k
            model = self.models[int(k)]
            proba = np.zeros((int(mask.sum()), self.classes))
            proba[:, model.classes_] = model.predict_proba(x[mask])
            p[mask] = proba[:, label]
        return self._verdict(p, self.y[rows], label)

    def confirm(self, rows: npt.NDArray[np.int64], grams: Sequence[tuple[str, ...]], label: int, *,
                exclude: npt.NDArray[np.bool_] | None = None) -> Verdict | None:
        """Exact: a model fitted on every row without the candidate (nor the ``exclude`` rows, e.g. triggers
        already found) predicts the ablated candidate rows."""
        keep = np.ones(len(self.y), dtype=bool) if exclude is None else ~exclude
        keep[rows] = False
        if len(np.unique(self.y[keep])) < 2:
            return None
        model = classifier(self.seed, self.classes)
        model.fit(self.x[keep], self.y[keep])
        x = self._ablated(rows, grams)
        proba = np.zeros((len(rows), self.classes))
        proba[:, model.classes_] = model.predict_proba(x)
        proba = reprior(proba, self.y, keep, self.classes)
        return self._verdict(proba[:, label], self.y[rows], label)
