"""Text backdoor triggers on real data: large attacks on the majority label with decoys are found, clean twins stay
quiet, and the confirmation model's calibration survives leaving rows out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aisec.datasets.trigger_confirm import reprior, verdict
from aisec.scan import scan
from benchmarks.poisonbench import evaluate
from benchmarks.poisonbench.generate import generate

ROWS = 1000
SEED = 5  # neither the held-out acceptance seed nor the seeds the cuts were looked at with (0-2)


TRIGGER_RULE = "AISEC-DAT-022"


@pytest.fixture(scope="session")
def large_attacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], set[int], int]]:
    """InsertSent and BadNets at 15 % on the convention speeches: the target label becomes the majority, so the
    trigger (with its decoys in the other label) is only weakly enriched over the base rate it inflated.
    Per family: the truth, the rows the trigger rule reports, and its findings on the clean twin (the
    dataset-level label-noise rule also marks rows at medium; this test is about the trigger rule)."""
    out = tmp_path_factory.mktemp("trigger-recall")
    truth = generate(out, rows=ROWS, seed=SEED, families=["insertsent", "badnets"], rates=[0.15],
                     datasets=["speeches"])["files"]
    cells = {}
    for name, meta in truth.items():
        if "clean_of" in meta:
            continue
        report = scan([out / name], policy="default", jobs=0)
        starts = evaluate.record_starts(out / name, "csv")
        rows: set[int] = set()
        for finding in report.findings:
            if finding.rule_id == TRIGGER_RULE:
                rows |= evaluate.rows_of_finding(finding, starts, "csv")
        twin = scan([out / meta["clean_twin"]], policy="default", jobs=0)
        cells[meta["family"]] = (meta, rows, sum(f.rule_id == TRIGGER_RULE for f in twin.findings))
    return cells


@pytest.mark.parametrize("family", ["insertsent", "badnets"])
def test_majority_label_attack_with_decoys_is_found(large_attacks: dict[str, tuple[dict[str, Any], set[int], int]],
                                                    family: str) -> None:
    meta, found, twin_alarms = large_attacks[family]
    truth = set(meta["poisoned_rows"])
    precision, recall = evaluate.precision_recall(frozenset(found), truth)
    assert recall is not None and recall >= 0.8, (meta["trigger"], recall)
    assert precision is not None and precision >= 0.9, precision
    assert twin_alarms == 0


def test_reprior_moves_a_subset_model_to_the_full_prior() -> None:
    y = np.array([0] * 70 + [1] * 30)
    keep = np.ones(100, dtype=bool)
    keep[:40] = False  # the kept rows are half class 0, half class 1
    fitted = np.array([[0.5, 0.5], [0.2, 0.8]])
    moved = reprior(fitted, y, keep, 2)
    # Bayes' rule: odds times (0.7 / 0.3) / (0.5 / 0.5).
    assert moved[0, 0] == pytest.approx(0.7)
    assert moved[1, 0] / moved[1, 1] == pytest.approx(0.25 * 7 / 3)
    assert np.allclose(moved.sum(axis=1), 1.0)
    assert np.allclose(reprior(fitted, y, np.ones(100, dtype=bool), 2), fitted)


def test_content_z_grows_with_rows_and_distance_from_ordinary_target_rows() -> None:
    y_rows = np.ones(25, dtype=np.int64)
    ordinary = verdict(np.full(25, 0.6), y_rows, 1, inside=0.6, outside=0.3, inside_sd=0.15)
    other = verdict(np.full(25, 0.3), y_rows, 1, inside=0.6, outside=0.3, inside_sd=0.15)
    few = verdict(np.full(4, 0.3), y_rows[:4], 1, inside=0.6, outside=0.3, inside_sd=0.15)
    assert ordinary.content_z == pytest.approx(0.0)
    assert ordinary.unexplained == pytest.approx(0.0)
    assert other.unexplained == pytest.approx(1.0) and few.unexplained == pytest.approx(1.0)
    assert other.content_z == pytest.approx(0.3 * 5 / 0.15)
    assert few.content_z == pytest.approx(0.3 * 2 / 0.15)


def test_leaving_rows_out_of_the_text_model_is_exact() -> None:
    """Fitted once, the text model's test of a candidate equals naive Bayes fitted from scratch on every other row
    (sklearn's MultinomialNB, same smoothing), shown the candidate's rows with the trigger removed."""
    from sklearn.naive_bayes import MultinomialNB

    from aisec.datasets.trigger_confirm import NB_ALPHA, TextModel, ablate, text_matrix

    rng = np.random.default_rng(3)
    good, bad = ["great", "fine", "lovely", "warm", "bright"], ["dull", "awful", "flat", "cold", "grim"]
    texts, y = [], []
    for i in range(120):
        label = i % 2
        words = list(rng.choice(good if label else bad, 4)) + list(rng.choice(good + bad, 2))
        texts.append(" ".join(words))
        y.append(label)
    rows = np.arange(0, 120, 10)  # 12 rows of class 0 given a trigger token and relabelled 1
    for row in rows.tolist():
        texts[row] += " zq"
    labels = np.array(y)
    labels[rows] = 1
    model = TextModel(texts, labels, 2, folds=5, seed=0)
    got = model.confirm(rows, [("zq",)], 1)
    keep = np.setdiff1d(np.arange(120), rows)
    x = text_matrix(texts)[:, model.columns]
    x.data[:] = 1.0
    reference = MultinomialNB(alpha=NB_ALPHA, fit_prior=False).fit(x[keep], labels[keep])
    ablated = text_matrix([ablate(texts[r], [("zq",)]) for r in rows.tolist()])[:, model.columns]
    ablated.data[:] = 1.0
    loglik = np.asarray(ablated @ reference.feature_log_prob_.T)
    expected = model._proba(loglik)[:, 1]  # the same tempering and class prior
    assert got is not None
    assert got.observed == 1.0
    assert got.z == pytest.approx(verdict(expected, labels[rows], 1, inside=float(model.inside[1]),
                                          outside=float(model.outside[1]),
                                          inside_sd=float(model.inside_sd[1])).z)
    assert got.unexplained > 0.9  # without the token, their words are those of class 0


def test_tarone_counts_only_tests_that_could_reach_significance() -> None:
    from aisec.datasets.trigger_candidates import Feature, testable

    y = np.array([0] * 50 + [1] * 50)
    rare = [Feature(kind="ngram", name=f"r{i}", rows=np.arange(i, i + 3)) for i in range(40)]
    frequent = [Feature(kind="ngram", name=f"f{i}", rows=np.arange(i, i + 30)) for i in range(5)]
    # 0.5**3 = 0.125 can never reach 0.05 / k; 0.5**30 can: only the 5 frequent features x 2 labels count.
    assert testable(rare + frequent, y, 2, alpha=0.05) == 10
    assert testable(rare, y, 2, alpha=0.05) == 1
