"""Feature matrices for the label rules: hashed word n-grams of text, standardised numbers, hashed categories."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]

from aisec.datasets.profile import SampleRow

HASH_FEATURES = 2**16
"""Hashed n-gram features; 2**16 keeps L-BFGS fast on 2 cores with few collisions for 20k-row samples."""
_TOKENS = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (the unit of text triggers)."""
    return _TOKENS.findall(text.lower())


@dataclass(frozen=True, kw_only=True)
class Featurizer:
    """Turns sample rows into a sparse matrix; fitted statistics come from the whole sample."""

    medians: tuple[float, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    categorical_names: tuple[str, ...]

    @classmethod
    def fit(cls, rows: Sequence[SampleRow], categorical_names: Sequence[str]) -> Featurizer:
        """Column medians (for imputation), means and standard deviations."""
        width = len(rows[0].numeric) if rows else 0
        medians, means, scales = [], [], []
        for j in range(width):
            col = np.array([r.numeric[j] for r in rows], dtype=float)
            finite = col[np.isfinite(col)]
            med = float(np.median(finite)) if finite.size else 0.0
            filled = np.where(np.isfinite(col), col, med)
            medians.append(med)
            means.append(float(filled.mean()))
            sd = float(filled.std())
            scales.append(sd if sd > 0 and math.isfinite(sd) else 1.0)
        return cls(medians=tuple(medians), means=tuple(means), scales=tuple(scales),
                   categorical_names=tuple(categorical_names))

    def transform(self, rows: Sequence[SampleRow], *, texts: Sequence[str] | None = None,
                  drop_column: int | None = None) -> sparse.csr_matrix:
        """Rows as features; ``texts`` replaces the rows' text (ablation), ``drop_column`` blanks one column.

        Columns are numbered numeric first, then categorical.
        """
        from sklearn.feature_extraction.text import HashingVectorizer

        vectorizer = HashingVectorizer(n_features=HASH_FEATURES, ngram_range=(1, 2), alternate_sign=False,
                                       token_pattern=r"(?u)\b\w+\b", norm="l2")  # noqa: S106
        body = list(texts) if texts is not None else [r.text for r in rows]
        blocks = []
        if any(body):
            blocks.append(vectorizer.transform(body))
        width = len(self.medians)
        if width:
            dense = np.zeros((len(rows), width))
            for j in range(width):
                if drop_column == j:
                    continue
                col = np.array([r.numeric[j] for r in rows], dtype=float)
                col = np.where(np.isfinite(col), col, self.medians[j])
                dense[:, j] = np.clip((col - self.means[j]) / self.scales[j], -50, 50)
            blocks.append(sparse.csr_matrix(dense))
        if self.categorical_names:
            cats = [" ".join(f"c{j}_{_slug(v)}" for j, v in enumerate(r.categorical) if drop_column != width + j)
                    for r in rows]
            cat_vectorizer = HashingVectorizer(n_features=2**12, alternate_sign=False, token_pattern=r"\S+",  # noqa: S106
                                               norm=None, lowercase=False)
            blocks.append(cat_vectorizer.transform(cats))
        if not blocks:
            return sparse.csr_matrix((len(rows), 1))
        return sparse.hstack(blocks, format="csr")


def _slug(value: str) -> str:
    return re.sub(r"\s+", "_", value.strip())[:64] or "_"


def classifier(seed: int, classes: int):  # type: ignore[no-untyped-def]
    """A small, deterministic probabilistic classifier: logistic regression (liblinear for two classes, several
    times faster than L-BFGS on wide sparse hashed features; L-BFGS multinomial otherwise)."""
    from sklearn.linear_model import LogisticRegression

    solver = "liblinear" if classes == 2 else "lbfgs"
    return LogisticRegression(C=1.0, max_iter=300, random_state=seed, solver=solver)


def as_labels(rows: Sequence[SampleRow]) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Class names (sorted) and integer labels."""
    classes = sorted({r.label for r in rows if r.label is not None})
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.array([index[r.label] for r in rows if r.label is not None], dtype=np.int64)
