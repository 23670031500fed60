"""Tabular trigger candidates and their test: exact values, value tails and co-occurring value pairs of feature
columns; a model without the candidate's columns, fitted without its rows, judges whether the rest of each row
explains its label."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from aisec.datasets.profile import SampleRow
from aisec.datasets.trigger_candidates import Feature
from aisec.datasets.trigger_confirm import Verdict, calibration, reprior, verdict

PAIR_MAX_FEATURES = 200
"""Most single-value features combined pairwise (the rarest first)."""
PAIR_MIN_LIFT = 5.0
"""A value pair is a candidate when its rows co-occur this many times more often than independence predicts."""
PAIR_MAX_CANDIDATES = 300
"""Most value pairs kept as candidates."""
CONTINUOUS_MIN_DISTINCT = 0.1
"""A numeric column is near-continuous when its distinct values are at least this share of its values."""
TAIL = 0.01
"""Share of a numeric column in each tail candidate."""


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def tabular_features(rows: Sequence[SampleRow], numeric: Sequence[str], categorical: Sequence[str], *,
                     min_support: int, max_fraction: float) -> list[Feature]:
    """Exact values (numeric and categorical), 1 % tails of numeric columns, and value pairs that co-occur far
    beyond chance (a multi-feature trigger made of values each common on its own)."""
    n = len(rows)
    top = max(min_support, int(max_fraction * n))
    out: list[Feature] = []
    for j, name in enumerate(numeric):
        col = np.array([r.numeric[j] for r in rows], dtype=float)
        finite = np.isfinite(col)
        if finite.sum() < 2 * min_support:
            continue
        values, inverse, counts = np.unique(col[finite], return_inverse=True, return_counts=True)
        where = np.flatnonzero(finite)
        # In a column of few codes (pixel intensities 0-16) one value alone is no anomaly: such values only take
        # part in pairs. In a near-continuous column an exactly repeated value can be a trigger on its own.
        continuous = len(values) >= CONTINUOUS_MIN_DISTINCT * finite.sum()
        for k in np.flatnonzero((counts >= min_support) & (counts <= top)):
            out.append(Feature(kind="value" if continuous else "code", name=f"{name} == {_fmt(values[k])}",
                               rows=where[inverse == k].astype(np.int64), columns=(j,)))
        lo, hi = np.quantile(col[finite], [TAIL, 1 - TAIL])
        for label, mask in ((f"{name} >= {_fmt(hi)}", finite & (col >= hi)), (f"{name} <= {_fmt(lo)}",
                                                                            finite & (col <= lo))):
            if continuous and min_support <= mask.sum() <= top and mask.sum() < 0.05 * n:
                out.append(Feature(kind="range", name=label, rows=np.flatnonzero(mask).astype(np.int64), columns=(j,)))
    width = len(numeric)
    for j, name in enumerate(categorical):
        postings: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            postings.setdefault(r.categorical[j], []).append(i)
        for value, where_list in sorted(postings.items()):
            if min_support <= len(where_list) <= top:
                out.append(Feature(kind="value", name=f"{name} == {value}",
                                   rows=np.asarray(where_list, dtype=np.int64), columns=(width + j,)))
    pairs = _pairs([f for f in out if f.kind in ("value", "code")], n, min_support)
    return [f for f in out if f.kind != "code"] + pairs


def _pairs(values: Sequence[Feature], n: int, min_support: int) -> list[Feature]:
    from scipy import sparse  # type: ignore[import-untyped]

    chosen = sorted(values, key=lambda f: (len(f.rows), f.name))[:PAIR_MAX_FEATURES]
    if len(chosen) < 2:
        return []
    indptr = np.cumsum([0] + [len(f.rows) for f in chosen])
    indices = np.concatenate([f.rows for f in chosen])
    b = sparse.csc_matrix((np.ones(len(indices)), indices, indptr), shape=(n, len(chosen)))
    both = (b.T @ b).toarray()
    sizes = np.array([len(f.rows) for f in chosen], dtype=float)
    lift = both * n / np.maximum(np.outer(sizes, sizes), 1)
    out = []
    hits = np.nonzero(np.triu(both >= min_support, k=1) & (lift >= PAIR_MIN_LIFT))
    # The most lifted pairs first, bounded: correlated columns (neighbouring pixels) make many natural pairs.
    order = sorted(zip(*hits, strict=True), key=lambda ac: (-lift[ac], ac))[:PAIR_MAX_CANDIDATES]
    for a, c in order:
        fa, fc = chosen[a], chosen[c]
        if fa.columns == fc.columns:
            continue
        rows = np.intersect1d(fa.rows, fc.rows)
        out.append(Feature(kind="pattern", name=f"{fa.name} & {fc.name}", rows=rows.astype(np.int64),
                           columns=tuple(sorted(fa.columns + fc.columns))))
    return out


class TableModel:
    """Standardised numeric and one-hot categorical columns, an out-of-fold model for calibration, and refits
    without a candidate's columns and rows."""

    def __init__(self, rows: Sequence[SampleRow], categorical: int, y: npt.NDArray[np.int64], classes: int, *,
                 folds: int, seed: int) -> None:
        from sklearn.model_selection import StratifiedKFold

        self.y = y
        self.classes = classes
        self.seed = seed
        blocks: list[npt.NDArray[np.float64]] = []
        self.slices: list[tuple[int, int]] = []
        start = 0
        width = len(rows[0].numeric) if rows else 0
        for j in range(width):
            col = np.array([r.numeric[j] for r in rows], dtype=float)
            finite = np.isfinite(col)
            med = float(np.median(col[finite])) if finite.any() else 0.0
            col = np.where(finite, col, med)
            sd = float(col.std()) or 1.0
            blocks.append(((col - col.mean()) / sd).reshape(-1, 1))
            self.slices.append((start, start + 1))
            start += 1
        for j in range(categorical):
            values = sorted({r.categorical[j] for r in rows})[:64]
            index = {v: k for k, v in enumerate(values)}
            block = np.zeros((len(rows), len(values)))
            for i, r in enumerate(rows):
                k = index.get(r.categorical[j])
                if k is not None:
                    block[i, k] = 1.0
            blocks.append(block)
            self.slices.append((start, start + len(values)))
            start += len(values)
        self.x = np.hstack(blocks) if blocks else np.zeros((len(rows), 1))
        probs = np.zeros((len(y), classes))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for train, test in splitter.split(np.zeros(len(y)), y):
            model = _classifier(seed)
            model.fit(self.x[train], y[train])
            probs[np.ix_(test, model.classes_)] = model.predict_proba(self.x[test])
        self.inside, self.outside, self.inside_sd = calibration(probs, y, classes)
        # Every refit starts from the model of all rows: a candidate's rows and columns move the optimum a little,
        # so L-BFGS converges in a fraction of the iterations a cold start takes.
        self.full = _classifier(seed)
        self.full.fit(self.x, y)

    def _keep_columns(self, columns: Sequence[int]) -> npt.NDArray[np.int64]:
        drop: set[int] = set()
        for c in columns:
            lo, hi = self.slices[c]
            drop.update(range(lo, hi))
        return np.array([k for k in range(self.x.shape[1]) if k not in drop], dtype=np.int64)

    def confirm(self, rows: npt.NDArray[np.int64], columns: Sequence[int], label: int, *,
                exclude: npt.NDArray[np.bool_] | None = None) -> Verdict | None:
        """A model without ``columns``, fitted on every other row, predicts the candidate's rows."""
        keep_rows = np.ones(len(self.y), dtype=bool) if exclude is None else ~exclude
        keep_rows[rows] = False
        keep_cols = self._keep_columns(columns)
        if len(np.unique(self.y[keep_rows])) < 2 or not len(keep_cols):
            return None
        # Dropped columns are zeroed, not removed: an all-zero column gets a zero weight under the L2 penalty (the
        # same model as without it), and the shape stays that of the full model, whose weights start the fit.
        x = np.zeros_like(self.x)
        x[:, keep_cols] = self.x[:, keep_cols]
        model = _classifier(self.seed)
        if np.array_equal(np.unique(self.y[keep_rows]), self.full.classes_):
            model.set_params(warm_start=True)
            model.coef_ = self.full.coef_.copy()
            model.coef_[:, np.setdiff1d(np.arange(x.shape[1]), keep_cols)] = 0.0
            model.intercept_ = self.full.intercept_.copy()
        model.fit(x[keep_rows], self.y[keep_rows])
        proba = np.zeros((len(rows), self.classes))
        proba[:, model.classes_] = model.predict_proba(x[rows])
        proba = reprior(proba, self.y, keep_rows, self.classes)
        return verdict(proba[:, label], self.y[rows], label, inside=float(self.inside[label]),
                       outside=float(self.outside[label]), inside_sd=float(self.inside_sd[label]))


def _classifier(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=500, random_state=seed)
