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


NB_ALPHA = 1.0
"""Laplace smoothing of the naive Bayes counts (measured on 800- and 2,000-row review and speech files: the best
out-of-fold AUC of 0.1, 0.3 and 1, and above a logistic regression's)."""


class TextModel:
    """Multinomial naive Bayes over binary hashed n-grams, fitted once: leaving a candidate's rows out is exact
    and cheap (subtract their counts), so every candidate gets the exact test without a refit. Its log-odds are
    tempered by one factor fitted out of fold (naive Bayes is over-confident), so the probabilities behind ``z``
    are calibrated; the class prior is always that of every row."""

    def __init__(self, texts: Sequence[str], y: npt.NDArray[np.int64], classes: int, *, folds: int,
                 seed: int) -> None:
        from sklearn.model_selection import StratifiedKFold

        self.texts = list(texts)
        self.y = y
        self.classes = classes
        full = text_matrix(self.texts)
        # Only hashed columns some row uses: the vocabulary of the smoothing.
        self.columns = np.flatnonzero(full.getnnz(axis=0) > 0)
        self.x = _binary(full[:, self.columns])
        self.counts = self._class_counts(np.arange(len(y)), None)
        self.totals = self.counts.sum(axis=1)
        self.log_prior = np.log(np.maximum(np.bincount(y, minlength=classes), 1) / max(len(y), 1))
        self.temperature = 1.0
        loglik = np.zeros((len(y), classes))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for _, test in splitter.split(np.zeros(len(y)), y):
            loglik[test] = self._loglik(self.x[test], test)
        self.temperature = _temperature(loglik, self.log_prior, y)
        probs = self._proba(loglik)
        self.inside, self.outside, self.inside_sd = calibration(probs, y, classes)

    def _class_counts(self, rows: npt.NDArray[np.int64],
                      columns: npt.NDArray[np.int64] | None) -> npt.NDArray[np.float64]:
        """Per class, how many of ``rows`` hold each of ``columns`` (every column when ``None``)."""
        width = self.x.shape[1] if columns is None else len(columns)
        out = np.zeros((self.classes, width))
        for c in range(self.classes):
            mine = rows[self.y[rows] == c]
            if len(mine):
                part = self.x[mine] if columns is None else self.x[mine][:, columns]
                out[c] = np.asarray(part.sum(axis=0)).ravel()
        return out

    def _loglik(self, x: Any, removed: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Naive Bayes log-likelihood of every row of ``x`` under each class, counted on every row but
        ``removed`` (only the columns ``x`` uses are looked at: the cost follows the rows, not the vocabulary)."""
        used = np.unique(x.indices)
        counts = self.counts[:, used] - self._class_counts(removed, used)
        totals = self.totals - np.array([self.x[removed[self.y[removed] == c]].nnz for c in range(self.classes)])
        log_theta = np.log(counts + NB_ALPHA) - np.log(totals + NB_ALPHA * self.x.shape[1])[:, None]
        return np.asarray(x[:, used] @ log_theta.T, dtype=np.float64)

    def _proba(self, loglik: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return _softmax(loglik / self.temperature + self.log_prior)

    def _verdict(self, p: npt.NDArray[np.float64], y_rows: npt.NDArray[np.int64], label: int) -> Verdict:
        return verdict(p, y_rows, label, inside=float(self.inside[label]), outside=float(self.outside[label]),
                       inside_sd=float(self.inside_sd[label]))

    def _ablated(self, rows: npt.NDArray[np.int64], grams: Sequence[tuple[str, ...]]) -> Any:
        return _binary(text_matrix([ablate(self.texts[i], grams) for i in rows])[:, self.columns])

    def screen(self, rows: npt.NDArray[np.int64], grams: Sequence[tuple[str, ...]], label: int) -> Verdict | None:
        """The exact test without excluded rows (the ordering step; as cheap as the exact one)."""
        return self.confirm(rows, grams, label)

    def confirm(self, rows: npt.NDArray[np.int64], grams: Sequence[tuple[str, ...]], label: int, *,
                exclude: npt.NDArray[np.bool_] | None = None) -> Verdict | None:
        """Exact: the model of every row but the candidate's (and the ``exclude`` rows, e.g. triggers already
        found) predicts the ablated candidate rows."""
        keep = np.ones(len(self.y), dtype=bool) if exclude is None else ~exclude
        keep[rows] = False
        if len(np.unique(self.y[keep])) < 2:
            return None
        proba = self._proba(self._loglik(self._ablated(rows, grams), np.flatnonzero(~keep)))
        return self._verdict(proba[:, label], self.y[rows], label)


def _binary(x: Any) -> Any:
    """Presence (1) of each column, as a CSR matrix."""
    out = x.tocsr(copy=True)
    out.data[:] = 1.0
    return out


def _softmax(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)


def _temperature(loglik: npt.NDArray[np.float64], log_prior: npt.NDArray[np.float64],
                 y: npt.NDArray[np.int64]) -> float:
    """The factor dividing out-of-fold log-likelihoods that minimises their log loss (temperature scaling)."""
    from scipy.optimize import minimize_scalar  # type: ignore[import-untyped]

    def loss(log_t: float) -> float:
        p = _softmax(loglik / np.exp(log_t) + log_prior)[np.arange(len(y)), y]
        return float(-np.log(np.maximum(p, 1e-12)).mean())

    best = minimize_scalar(loss, bounds=(-3.0, 6.0), method="bounded", options={"xatol": 1e-3})
    return float(np.exp(best.x))
