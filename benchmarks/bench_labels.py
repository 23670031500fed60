"""Label-error analysis at scale on real text: aisec's label part against cleanlab's Datalab, CPU seconds, one run.

    python benchmarks/bench_labels.py [--rows 100000] [--rate 0.03] [--seed 0] [--aisec-only]

The rows are real Rotten Tomatoes critic snippets (the corpus poisonbench ships): each row joins two different
snippets of the same label, drawn by seed, so 100,000 rows hold no exact duplicates (the corpus alone has 12,808
snippets) and every word is real. ``--rate`` of the rows then get the other label (uniform flips, exact truth).

Timed, each with ``time.process_time`` (all threads of this process) and the libraries imported before the clock:
- aisec: ``labels.cross_validate`` + ``labels.label_issues`` on every row (featurizing, out-of-fold model, cleanlab
  count and class-relative ranking, the noise test), as ``cross_row_observations`` runs them with
  ``model_max_rows`` at least the file's rows;
- Datalab, as poisonbench's evaluate runs it on text: TF-IDF word 1-2-grams, 5-fold logistic regression
  out-of-fold probabilities, a 100-dimensional SVD for its features, ``find_issues`` (every default issue type);
  ``find_issues`` alone is also printed.
Prints precision/recall of each against the flipped rows and the CPU ratio aisec / Datalab (below 1: aisec faster).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def make_rows(rows: int, rate: float, seed: int) -> tuple[list[str], list[str], set[int]]:
    """``rows`` texts of two same-label real snippets each, their labels, and the rows whose label was flipped."""
    from benchmarks.poisonbench import corpora

    corpus = corpora.reviews()
    by_label: dict[str, list[str]] = {}
    for record in corpus.records:
        by_label.setdefault(str(record["label"]), []).append(str(record["text"]))
    names = sorted(by_label)
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(rows):
        label = rng.choice(names)
        first, second = rng.sample(by_label[label], 2)
        texts.append(f"{first} {second}")
        labels.append(label)
    flipped = set(rng.sample(range(rows), round(rate * rows)))
    for i in flipped:
        labels[i] = next(n for n in names if n != labels[i])
    return texts, labels, flipped


def _pr(found: set[int], truth: set[int]) -> str:
    hits = len(found & truth)
    return f"precision {hits / max(len(found), 1):.3f} recall {hits / max(len(truth), 1):.3f} ({len(found)} rows)"


def run_aisec(texts: list[str], labels: list[str]) -> tuple[set[int], float]:
    """aisec's label analysis on every row; the flagged rows and its CPU seconds."""
    from types import SimpleNamespace

    import cleanlab.count
    import cleanlab.filter  # noqa: F401
    import scipy.stats  # noqa: F401
    import sklearn.feature_extraction.text
    import sklearn.linear_model
    import sklearn.model_selection  # noqa: F401

    from aisec.datasets import labels as label_rules
    from aisec.datasets.profile import SampleRow
    from aisec.datasets.settings import DatasetSettings

    settings = DatasetSettings()
    rows = [SampleRow(index=i, line=i + 2, text=t, label=y, numeric=(), categorical=(), flagged=False)
            for i, (t, y) in enumerate(zip(texts, labels, strict=True))]
    profile: Any = SimpleNamespace(settings=settings, sampled=False, rows=len(rows))
    started = time.process_time()
    cv = label_rules.cross_validate(label_rules.usable_rows(rows, settings.cv_folds), (),
                                    folds=settings.cv_folds, seed=settings.seed)
    assert cv is not None
    found = {int(str(o.detail["row"])) for o in label_rules.label_issues(profile, cv) if o.key == "dataset.label_issue"}
    return found, time.process_time() - started


def run_datalab(texts: list[str], labels: list[str]) -> tuple[set[int], float, float]:
    """Datalab as poisonbench's evaluate runs it on text; rows with any issue, total and find_issues CPU seconds."""
    import numpy as np
    from cleanlab import Datalab
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    started = time.process_time()
    matrix = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit_transform(texts)
    features = TruncatedSVD(n_components=100, random_state=0).fit_transform(matrix)
    features /= np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    y = np.asarray(labels)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    pred_probs = cross_val_predict(LogisticRegression(max_iter=2000, C=4.0), matrix, y, cv=folds,
                                   method="predict_proba")
    lab = Datalab(data={"label": y}, label_name="label", verbosity=0)
    issues_started = time.process_time()
    lab.find_issues(pred_probs=pred_probs, features=features)
    ended = time.process_time()
    issues = lab.get_issues()
    flags = [c for c in issues.columns if c.startswith("is_") and c.endswith("_issue")]
    found = {int(i) for i in np.flatnonzero(issues[flags].any(axis=1).to_numpy())}
    return found, ended - started, ended - issues_started


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--aisec-only", action="store_true", help="skip Datalab")
    args = parser.parse_args(argv)
    texts, labels, flipped = make_rows(args.rows, args.rate, args.seed)
    print(f"{args.rows} rows of real review snippets, {len(flipped)} labels flipped "
          f"({sum(map(len, texts)) / 1e6:.1f} MB of text)", flush=True)
    found, aisec_cpu = run_aisec(texts, labels)
    print(f"aisec label analysis: {aisec_cpu:.1f} CPU-s, {_pr(found, flipped)}", flush=True)
    if args.aisec_only:
        return 0
    found, datalab_cpu, find_issues_cpu = run_datalab(texts, labels)
    print(f"Datalab (features + out-of-fold model + find_issues): {datalab_cpu:.1f} CPU-s "
          f"(find_issues alone {find_issues_cpu:.1f}), any issue: {_pr(found, flipped)}")
    print(f"CPU ratio aisec / Datalab: {aisec_cpu / datalab_cpu:.2f}; aisec / find_issues alone: "
          f"{aisec_cpu / find_issues_cpu:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
