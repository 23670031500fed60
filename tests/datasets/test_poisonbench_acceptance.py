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
