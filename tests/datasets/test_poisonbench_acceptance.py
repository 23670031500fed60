"""Issue 10's Done bar on compact real samples (held-out seed): for the families that meet it on main, it stays met.

At 3 % and 10 %: row-level recall >= 0.8 at medium+ and no medium+ finding on the clean twin. Families not listed
here do not meet the bar yet (see the poisonbench report); their owners add them when they do.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from benchmarks.poisonbench import evaluate
from benchmarks.poisonbench.generate import generate

ROWS = 800
SEED = 20261203  # not the default seed 0 the detectors were looked at with
RATES = (0.03, 0.10)
# (dataset, family, format) cells that meet the bar.
PASSING = [
    ("reviews", "hidden_unicode", "csv"),
    ("chat", "hidden_unicode", "jsonl"),
    ("chat", "wan_trigger", "jsonl"),
    ("chat", "autopoison", "jsonl"),
    ("breast_cancer", "tabular_trigger_dirty", "csv"),
    ("reviews", "prompt_injection", "csv"),
    ("chat", "prompt_injection", "jsonl"),
    # The same chat attacks written as alpaca instruction/input/output records (flat pairs, not turn lists).
    ("chat", "hidden_unicode", "alpaca.jsonl"),
    ("chat", "wan_trigger", "alpaca.jsonl"),
    ("chat", "autopoison", "alpaca.jsonl"),
    ("chat", "prompt_injection", "alpaca.jsonl"),
]


@pytest.fixture(scope="session")
def cells(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str, float], evaluate.Cell]:
    out = tmp_path_factory.mktemp("poisonbench-acceptance")
    families = sorted({f for _, f, _ in PASSING})
    datasets = sorted({d for d, _, _ in PASSING})
    generate(out, rows=ROWS, seed=SEED, families=families, rates=RATES, datasets=datasets)
    scored = evaluate.evaluate(out, families=families, datasets=datasets,
                               formats=sorted({fmt for _, _, fmt in PASSING}), log=io.StringIO())
    return {(c.meta["dataset"], c.meta["family"], c.meta["format"], c.meta["rate"]): c for c in scored}


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(("dataset", "family", "fmt"), PASSING)
def test_done_bar(cells: dict[tuple[str, str, str, float], evaluate.Cell], dataset: str, family: str, fmt: str,
                  rate: float) -> None:
    cell = cells[(dataset, family, fmt, rate)]
    truth = set(cell.meta["poisoned_rows"])
    _, recall = evaluate.precision_recall(cell.aisec.found_medium, truth)
    assert recall is not None and recall >= 0.8, (cell.name, sorted(truth - cell.aisec.found_medium)[:20])
    assert cell.twin.medium_findings == 0, (cell.meta["clean_twin"], cell.twin.rules_medium)


def test_the_sample_is_real_and_poisoned(cells: dict[tuple[str, str, str, float], evaluate.Cell]) -> None:
    assert len(cells) == len(PASSING) * len(RATES)
    for cell in cells.values():
        assert cell.meta["records"] == (569 if cell.meta["dataset"] == "breast_cancer" else ROWS)
        assert len(cell.meta["poisoned_rows"]) == round(cell.meta["records"] * cell.meta["rate"])
        assert Path(cell.name).suffix in (".csv", ".jsonl")


# Label flips (issue 10: recall >= Datalab's at better precision). Datalab costs ~3.5 CPU-s per 800-row file, too
# slow for the suite, so these are fixed bars under the label rule's (AISEC-DAT-018) figures measured once on this
# held-out sample (seed 20261203, 800 rows), with margin. Measured (precision/recall; Datalab any issue type in
# brackets): reviews targeted 3 % 0.069/0.625 (0.062/0.50), 10 % 0.187/0.55 (0.099/0.15); reviews uniform 3 %
# 0.079/0.75 (0.094/0.75), 10 % 0.184/0.70 (0.196/0.525); speeches uniform 3 % 0.051/0.583 (0.056/0.583), 10 %
# 0.166/0.60 (0.189/0.625). The targeted cells beat Datalab; the uniform ones do not yet (more rows flagged,
# higher or equal recall at lower precision), so there the bars only guard against regressions.
LABEL_BARS = {  # (dataset, family, rate): (min precision, min recall)
    ("reviews", "label_flip_targeted", 0.03): (0.05, 0.5),
    ("reviews", "label_flip_targeted", 0.10): (0.15, 0.45),
    ("reviews", "label_flip_uniform", 0.03): (0.06, 0.6),
    ("reviews", "label_flip_uniform", 0.10): (0.15, 0.6),
    ("speeches", "label_flip_uniform", 0.03): (0.04, 0.45),
    ("speeches", "label_flip_uniform", 0.10): (0.14, 0.5),
}


@pytest.fixture(scope="session")
def label_cells(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, float], evaluate.Cell]:
    out = tmp_path_factory.mktemp("poisonbench-label-flips")
    families = ["label_flip_targeted", "label_flip_uniform"]
    generate(out, rows=ROWS, seed=SEED, families=families, rates=RATES, datasets=["reviews", "speeches"])
    scored = evaluate.evaluate(out, families=families, formats=["csv"], log=io.StringIO())
    return {(c.meta["dataset"], c.meta["family"], c.meta["rate"]): c for c in scored}


@pytest.mark.parametrize("key", sorted(LABEL_BARS))
def test_label_flips_on_real_text(label_cells: dict[tuple[str, str, float], evaluate.Cell],
                                  key: tuple[str, str, float]) -> None:
    cell = label_cells[key]
    truth = set(cell.meta["poisoned_rows"])
    precision, recall = evaluate.precision_recall(cell.aisec.extra["label_rows"], truth)
    bar = LABEL_BARS[key]
    assert precision is not None and recall is not None and precision >= bar[0] and recall >= bar[1], \
        (cell.name, precision, recall)
    # The dataset-level noise alarm (medium) stays quiet on the clean twin, and per-row label evidence stays low.
    assert cell.twin.medium_findings == 0, (cell.meta["clean_twin"], cell.twin.rules_medium)
    assert evaluate.LABEL_RULE not in cell.aisec.rules_medium
