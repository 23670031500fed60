"""Feature matrices for the label rules: TF-IDF of hashed word 1-2-grams and character 3-5-grams of text,
standardised numbers, hashed categories."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]

from aisec.datasets.profile import SampleRow

HASH_FEATURES = 2**18
"""Hashed word n-gram features (and as many character n-gram features): wide enough that 20k-row samples of
short texts rarely collide; the dual liblinear solver's cost grows with non-zeros, not width."""
CHAR_PREFIX = 1000
"""Characters of a text that feed the character n-grams (long documents are carried by their words; without
this bound character n-grams of 5,000-character rows would dominate the cost)."""
TEXT_C = 1.0
"""Inverse regularisation of the label model on text. Chosen for ranking label flips, not for accuracy: on
poisonbench's real reviews and convention sentences (2,000 rows, uniform and class-targeted flips at 3 and 10 %,
tuning seeds 0-2) C = 1 beat cleanlab's Datalab in precision at equal or better recall in 14 of 18 files, C = 4
(slightly more accurate, 0.76 out of fold on 5k reviews) in 11, C = 2 in 10, C = 0.5 in 12. The trigger rules do
not use this model (they fit their own naive Bayes)."""
_TOKENS = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (the unit of text triggers)."""
    return _TOKENS.findall(text.lower())


def _word_vectorizer() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=HASH_FEATURES, ngram_range=(1, 2), alternate_sign=False, norm=None,
                             token_pattern=r"(?u)\b\w+\b")  # noqa: S106


def _char_vectorizer() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=HASH_FEATURES, analyzer="char_wb", ngram_range=(3, 5),
                             alternate_sign=False, norm=None)


def _counts(texts: Sequence[str]) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    words = _word_vectorizer().transform(texts)
    return words, char_counts(texts)


def char_counts(texts: Sequence[str]) -> sparse.csr_matrix:
    """The character vectorizer's counts of the first ``CHAR_PREFIX`` characters of each text, hashed once per
    distinct word instead of once per occurrence (about ten times faster on real text, the same matrix).

    ``char_wb`` n-grams never cross words: a text's counts are the sum of its lower-cased whitespace-separated
    words' counts (each word padded with one space either side), so they are (texts x words) @ (words x hashes).
    """
    from sklearn.feature_extraction.text import CountVectorizer

    docs = [t[:CHAR_PREFIX].lower() for t in texts]
    if not any(d.split() for d in docs):
        return _char_vectorizer().transform(docs)
    splitter = CountVectorizer(lowercase=False, tokenizer=str.split, token_pattern=None)
    occurrences = splitter.fit_transform(docs)
    vocabulary = splitter.get_feature_names_out().tolist()
    counts = sparse.csr_matrix(occurrences.astype(np.float64) @ _char_vectorizer().transform(vocabulary))
    counts.sum_duplicates()  # canonical form (sorted indices), as the vectorizer returns it
    counts.eliminate_zeros()
    return counts


def _idf(counts: sparse.csr_matrix) -> npt.NDArray[np.float64]:
    """Smoothed inverse document frequency (scikit-learn's ``TfidfTransformer`` formula)."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(float)
    return np.log((1.0 + n) / (1.0 + df)) + 1.0  # type: ignore[no-any-return]


def _tfidf(counts: sparse.csr_matrix, idf: npt.NDArray[np.float64]) -> sparse.csr_matrix:
    """Sublinear term frequency times IDF, rows scaled to unit length."""
    from sklearn.preprocessing import normalize

    x = counts.astype(float)
    x.data = 1.0 + np.log(x.data)
    return normalize(x @ sparse.diags(idf), norm="l2", copy=False)


@dataclass(frozen=True, kw_only=True)
class Featurizer:
    """Turns sample rows into a sparse matrix; fitted statistics come from the whole sample."""

    medians: tuple[float, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    categorical_names: tuple[str, ...]
    word_idf: npt.NDArray[np.float64] | None = None
    """IDF of the hashed word n-grams over the sample's texts (``None`` when the rows have no text)."""
    char_idf: npt.NDArray[np.float64] | None = None

    @property
    def has_text(self) -> bool:
        """True when text features are part of the matrix."""
        return self.word_idf is not None

    @classmethod
    def fit(cls, rows: Sequence[SampleRow], categorical_names: Sequence[str]) -> Featurizer:
        """Column medians (for imputation), means and standard deviations; IDF of the text n-grams."""
        return cls._fit(rows, categorical_names)[0]

    @classmethod
    def fit_transform(cls, rows: Sequence[SampleRow], categorical_names: Sequence[str], *,
                      drop_column: int | None = None) -> tuple[Featurizer, sparse.csr_matrix]:
        """``fit`` then ``transform`` of the same rows, hashing their n-grams once (the costly part)."""
        featurizer, counts = cls._fit(rows, categorical_names)
        return featurizer, featurizer.transform(rows, drop_column=drop_column, counts=counts)

    @classmethod
    def _fit(cls, rows: Sequence[SampleRow], categorical_names: Sequence[str],
             ) -> tuple[Featurizer, tuple[sparse.csr_matrix, sparse.csr_matrix] | None]:
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
        word_idf = char_idf = None
        counts = None
        texts = [r.text for r in rows]
        if any(texts):
            counts = _counts(texts)
            word_idf, char_idf = _idf(counts[0]), _idf(counts[1])
        return cls(medians=tuple(medians), means=tuple(means), scales=tuple(scales),
                   categorical_names=tuple(categorical_names), word_idf=word_idf, char_idf=char_idf), counts

    def transform(self, rows: Sequence[SampleRow], *, texts: Sequence[str] | None = None,
                  drop_column: int | None = None,
                  counts: tuple[sparse.csr_matrix, sparse.csr_matrix] | None = None) -> sparse.csr_matrix:
        """Rows as features; ``texts`` replaces the rows' text (ablation), ``drop_column`` blanks one column.

        Columns are numbered numeric first, then categorical.
        """
        from sklearn.feature_extraction.text import HashingVectorizer

        body = list(texts) if texts is not None else [r.text for r in rows]
        blocks = []
        if self.word_idf is not None and self.char_idf is not None:
            words, chars = counts if counts is not None else _counts(body)
            blocks.extend([_tfidf(words, self.word_idf), _tfidf(chars, self.char_idf)])
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


def classifier(seed: int, classes: int, *, text: bool = False):  # type: ignore[no-untyped-def]
    """A small, deterministic probabilistic classifier: logistic regression.

    Text (wide sparse TF-IDF): the dual liblinear solver, about ten times faster than the primal one when
    features outnumber rows, one-vs-rest for more than two classes. Tables: liblinear for two classes, L-BFGS
    multinomial otherwise.
    """
    from sklearn.linear_model import LogisticRegression

    if text:
        model = LogisticRegression(C=TEXT_C, max_iter=300, random_state=seed, solver="liblinear", dual=True)
        if classes == 2:
            return model
        from sklearn.multiclass import OneVsRestClassifier

        return OneVsRestClassifier(model)
    solver = "liblinear" if classes == 2 else "lbfgs"
    return LogisticRegression(C=1.0, max_iter=300, random_state=seed, solver=solver)


def as_labels(rows: Sequence[SampleRow]) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Class names (sorted) and integer labels."""
    classes = sorted({r.label for r in rows if r.label is not None})
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.array([index[r.label] for r in rows if r.label is not None], dtype=np.int64)
