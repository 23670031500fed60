"""Shared helpers for the dataset tests: run the analyzer on a file, load ground truth, scan with a policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.dataset import DatasetAnalyzer
from aisec.engine.policy import load_policy
from aisec.limits import Limits
from aisec.model import Fact, ScanError
from aisec.paths import builtin_policies_dir
from aisec.source import FileSource
from tests.conftest import FIXTURES

DATASETS = FIXTURES / "datasets"
TRUTH = FIXTURES / "datasets-truth" / "truth.json"


def analyze(path: Path, settings: dict[str, Any] | None = None,
            limits: Limits | None = None) -> tuple[list[Fact], list[ScanError]]:
    """The dataset analyzer's facts and errors for one file (no rules involved)."""
    merged = {**default_dataset_settings(), **(settings or {})}
    context = AnalysisContext(path=path.name, limits=limits or Limits(), settings={"dataset": merged},
                              fs_path=path)
    with FileSource(path, budget=(limits or Limits()).max_read_bytes) as source:
        facts = list(DatasetAnalyzer().analyze(source, context))
    return facts, context.errors


def default_dataset_settings() -> dict[str, Any]:
    """``settings.dataset`` of the built-in default policy (lists such as popular_packages live there)."""
    policy = load_policy("default", policies_dir=builtin_policies_dir())
    return dict(policy.settings.get("dataset", {}))


def rows_of(facts: list[Fact], key: str) -> set[int]:
    """0-based record indexes that carry a fact with ``key``: its own row and every row attached to it as a
    related location (``row N``)."""
    rows: set[int] = set()
    for f in facts:
        if f.key != key:
            continue
        if "row" in f.detail:
            rows.add(int(f.detail["row"]))
        rows.update(int(r.message.split()[1]) for r in f.related if r.message.startswith("row "))
    return rows


def truth() -> dict[str, Any]:
    """Ground truth the fixture generator wrote: per file, per signal, the physical lines of poisoned rows."""
    return json.loads(TRUTH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def lines_of(facts: list[Fact], key: str) -> set[int]:
    """Lines that carry a fact with ``key``, its own and those of its related locations."""
    places = [loc for f in facts if f.key == key for loc in (f.location, *(r.location for r in f.related))]
    return {loc.line for loc in places if loc.line is not None}


def precision_recall(found: set[int], expected: set[int]) -> tuple[float, float]:
    """Precision and recall of found lines against expected lines."""
    hits = len(found & expected)
    return (hits / len(found) if found else 1.0), (hits / len(expected) if expected else 1.0)
