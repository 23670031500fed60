"""Label errors on real corpora (poisonbench's Rotten Tomatoes snippets, convention sentences, scikit-learn tables):
flipped labels are found on text as well as tables, and clean real data raises no label-noise alarm."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from aisec.datasets.settings import DatasetSettings
from aisec.model import Fact
from benchmarks.poisonbench import corpora, recipes
from tests.datasets.helpers import analyze, lines_of, precision_recall, rows_of

ALPHA = 0.001
"""params.dataset_label_noise_alpha of the default policy."""


def _write(path: Path, corpus: corpora.Corpus, records: Sequence[dict[str, Any]]) -> Path:
    columns = ([corpus.text_column] if corpus.text_column else list(corpus.feature_columns)) + ["label"]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([[r[c] for c in columns] for r in records])
    return path


def _run(tmp: Path, name: str, corpus: corpora.Corpus, records: Sequence[dict[str, Any]]) -> list[Fact]:
    facts, errors = analyze(_write(tmp / f"{name}.csv", corpus, records),
                            {"label_column": "label", "max_facts_per_signal": len(records)})
    assert not errors
    return facts


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[Fact], set[int]]]:
    """Facts and flipped rows of compact real samples: clean twins and 10 % flips."""
    tmp = tmp_path_factory.mktemp("labels-real")
    out: dict[str, tuple[list[Fact], set[int]]] = {}
    reviews = corpora.reviews(1500, seed=0)
    speeches = corpora.speech_sentences(1500, seed=0)
    cancer = corpora.table("breast_cancer", seed=0)
    for name, corpus in (("reviews", reviews), ("speeches", speeches), ("cancer", cancer)):
        out[f"{name}_clean"] = (_run(tmp, f"{name}_clean", corpus, corpus.records), set())
    flips = (("reviews_uniform", reviews, recipes.label_flip_uniform),
             ("reviews_targeted", reviews, recipes.label_flip_targeted),
             ("cancer_targeted", cancer, recipes.label_flip_targeted))
    for name, corpus, recipe in flips:
        attack = recipe(corpus.records, "label", 0.1, 7)
        out[name] = (_run(tmp, name, corpus, attack.poisoned), set(attack.rows))
    return out


def _noise(facts: list[Fact]) -> Fact:
    return next(f for f in facts if f.key == "dataset.label_noise")


@pytest.mark.parametrize("name", ["reviews_uniform", "reviews_targeted"])
def test_flipped_labels_are_found_in_real_text(real: dict[str, tuple[list[Fact], set[int]]], name: str) -> None:
    # An under-confident text model never reaches an absolute own-label cut (the former 0.2 found 3 % of the
    # flips); class-relative thresholds do. Natural ambiguity of critic snippets bounds the precision.
    facts, flipped = real[name]
    precision, recall = precision_recall(rows_of(facts, "dataset.label_issue"), flipped)
    floor = {"reviews_uniform": (0.5, 0.15), "reviews_targeted": (0.15, 0.08)}[name]
    assert recall >= floor[0] and precision >= floor[1], (precision, recall)


def test_flipped_labels_in_a_real_table_raise_the_noise_alarm(real: dict[str, tuple[list[Fact], set[int]]]) -> None:
    facts, flipped = real["cancer_targeted"]
    precision, recall = precision_recall(rows_of(facts, "dataset.label_issue"), flipped)
    assert recall >= 0.6 and precision >= 0.7, (precision, recall)
    noise = _noise(facts)
    assert float(noise.detail["p_value"]) <= ALPHA and noise.detail["model"] == "tabular"
    assert int(noise.detail["issues"]) == len(rows_of(facts, "dataset.label_issue"))
    # The dataset-level fact carries every flagged row as a related location, whatever the per-row cap.
    assert {r.location.line for r in noise.related} == lines_of(facts, "dataset.label_issue")


@pytest.mark.parametrize("name", ["reviews_clean", "speeches_clean", "cancer_clean"])
def test_clean_real_data_raises_no_noise_alarm(real: dict[str, tuple[list[Fact], set[int]]], name: str) -> None:
    # Convention sentences flag a quarter of their rows on clean data (party is ambiguous at sentence level);
    # a fixed share of 5 % raised a medium finding on every clean text corpus.
    noise = _noise(real[name][0])
    assert float(noise.detail["p_value"]) > ALPHA, dict(noise.detail)
    assert float(noise.value) <= float(noise.detail["baseline"]) + 0.05


def test_every_flagged_row_is_counted_even_when_the_report_is_capped(tmp_path: Path) -> None:
    corpus = corpora.reviews(600, seed=1)
    attack = recipes.label_flip_uniform(corpus.records, "label", 0.1, 3)
    facts, _ = analyze(_write(tmp_path / "r.csv", corpus, attack.poisoned), {"label_column": "label",
                                                                             "max_facts_per_signal": 5})
    issues = [f for f in facts if f.key == "dataset.label_issue"]
    noise = _noise(facts)
    # One finding per given label, each listing every flagged row of that label; nothing is left uncounted.
    assert sorted(str(f.value) for f in issues) == ["fresh", "rotten"]
    assert sum(int(f.detail["affected_rows"]) for f in issues) == int(noise.detail["issues"]) > 5
    assert len(rows_of(facts, "dataset.label_issue")) == int(noise.detail["issues"])
    assert not [f for f in facts if f.key == "dataset.fact_overflow"]
    # Each finding is located at its most suspicious row: the model prefers the other label there, well below the
    # class's threshold.
    for f in issues:
        assert float(f.detail["self_confidence"]) < min(0.5, float(f.detail["class_threshold"]) - 0.1), f.detail


def test_noise_baseline_follows_the_task_difficulty() -> None:
    from aisec.datasets.labels import noise_baseline

    s = DatasetSettings()
    assert noise_baseline(s, text=False, error=0.01) == s.label_noise_tabular_floor
    assert noise_baseline(s, text=False, error=0.4) == pytest.approx(0.4 * s.label_noise_tabular_error_share)
    assert noise_baseline(s, text=True, error=0.1) == s.label_noise_text_floor
    assert noise_baseline(s, text=True, error=0.4) == pytest.approx(0.4 * s.label_noise_text_error_share)


def test_label_benchmark_counts_every_flagged_row(tmp_path: Path) -> None:
    # bench_datasets' label mode once counted one row per finding (a finding lists every flagged row of its label
    # as related locations) and reported recall 0.0007 on flips the model finds almost all of.
    import json

    from benchmarks import bench_datasets

    path = tmp_path / "labelled.jsonl"
    truth = bench_datasets.make_labelled(path, 2000) | {"rows": 2000}
    (tmp_path / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    result = bench_datasets.worker_aisec_labels(str(path), str(tmp_path / "truth.json"))
    flipped = len(truth["flipped"])
    assert result["flipped_recall"] >= 0.9, result
    assert flipped * 0.9 <= result["label_issues"] <= flipped * 1.3, (flipped, result)
