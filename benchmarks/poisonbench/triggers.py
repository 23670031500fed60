"""Text-trigger cells over several seeds: per cell, AISEC-DAT-022's row precision/recall at medium+ and the clean
twin's medium+ findings (any rule), so a change to trigger detection is judged on many seeds at once.

    python -m benchmarks.poisonbench.triggers --seeds 11 12 13 --rows 800 [--rates 0.03 0.1 0.15]
                                              [--families badnets insertsent] [--datasets reviews speeches]
                                              [--formats csv] [--work DIR] [--json OUT]

A cell passes when DAT-022's recall at medium+ is at least 0.8 and the twin has no medium+ finding. Files are
generated under ``--work`` (a temporary folder when not given) by ``generate.generate``; each scan runs in this
process with the default policy. CPU seconds are this process's (``time.process_time``) around each scan.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.poisonbench.evaluate import MEDIUM, precision_recall, record_starts, rows_of_finding
from benchmarks.poisonbench.generate import generate

TRIGGER_RULE = "AISEC-DAT-022"
PASS_RECALL = 0.8
"""Issue 10's bar: recall at medium+ of at least this, with a quiet twin."""


@dataclass(frozen=True, kw_only=True)
class TriggerCell:
    """One poisoned file and its twin, scored for the trigger rule."""

    seed: int
    name: str
    poisoned: int
    found: frozenset[int]
    """Rows DAT-022 points at, medium+."""
    truth: frozenset[int]
    twin_rules: tuple[str, ...]
    """Rules of the twin's medium+ findings (one entry per finding)."""
    cpu_seconds: float

    @property
    def precision(self) -> float | None:
        return precision_recall(self.found, set(self.truth))[0]

    @property
    def recall(self) -> float | None:
        return precision_recall(self.found, set(self.truth))[1]

    @property
    def passed(self) -> bool:
        return (self.recall or 0.0) >= PASS_RECALL and not self.twin_rules


def _scan(path: Path, fmt: str) -> tuple[frozenset[int], tuple[str, ...], float]:
    """(rows of DAT-022 medium+, rules of every medium+ finding, CPU seconds) of one file."""
    from aisec.scan import scan

    started = time.process_time()
    report = scan([path], policy="default", jobs=0)
    seconds = time.process_time() - started
    starts = record_starts(path, fmt)
    rows: set[int] = set()
    rules = []
    for finding in report.findings:
        if finding.severity.rank < MEDIUM:
            continue
        rules.append(finding.rule_id)
        if finding.rule_id == TRIGGER_RULE:
            rows |= rows_of_finding(finding, starts, fmt)
    return frozenset(rows), tuple(sorted(rules)), seconds


def score_seed(root: Path, seed: int, *, formats: Sequence[str]) -> list[TriggerCell]:
    """Every poisoned file of ``root`` (generated for ``seed``) in ``formats`` and its twin."""
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))["files"]
    cells = []
    for name, meta in sorted(truth.items()):
        if "clean_of" in meta or meta["format"] not in formats:
            continue
        found, _, cpu = _scan(root / name, meta["format"])
        _, twin_rules, twin_cpu = _scan(root / meta["clean_twin"], meta["format"])
        cells.append(TriggerCell(seed=seed, name=name, poisoned=len(meta["poisoned_rows"]), found=found,
                                 truth=frozenset(meta["poisoned_rows"]), twin_rules=twin_rules,
                                 cpu_seconds=cpu + twin_cpu))
    return cells


def line(cell: TriggerCell) -> str:
    """One cell as printed."""
    p, r = cell.precision, cell.recall
    return (f"{'ok ' if cell.passed else 'MISS'} seed {cell.seed:>8} {cell.name:34s} n={cell.poisoned:<4} "
            f"P={'-' if p is None else f'{p:.2f}'} R={'-' if r is None else f'{r:.2f}'} "
            f"twin medium+={len(cell.twin_rules)}{' ' + ','.join(cell.twin_rules) if cell.twin_rules else ''} "
            f"cpu={cell.cpu_seconds:.1f}")


def run(seeds: Sequence[int], *, rows: int, rates: Sequence[float], families: Sequence[str],
        datasets: Sequence[str], formats: Sequence[str], work: Path, log: Any = sys.stdout) -> list[TriggerCell]:
    """Generate and score every seed; print each cell as it is scored."""
    cells: list[TriggerCell] = []
    for seed in seeds:
        root = work / f"s{seed}-r{rows}"
        if not (root / "truth.json").exists():
            generate(root, rows, seed, families, rates, datasets)
        for cell in score_seed(root, seed, formats=formats):
            cells.append(cell)
            print(line(cell), file=log, flush=True)
    return cells


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--rows", type=int, default=800)
    parser.add_argument("--rates", nargs="+", type=float, default=[0.03, 0.1, 0.15])
    parser.add_argument("--families", nargs="+", default=["badnets", "insertsent"])
    parser.add_argument("--datasets", nargs="+", default=["reviews", "speeches"])
    parser.add_argument("--formats", nargs="+", default=["csv"])
    parser.add_argument("--work", type=Path, help="generated files are kept here (reused when present)")
    parser.add_argument("--json", type=Path, help="also write the cells as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        cells = run(args.seeds, rows=args.rows, rates=args.rates, families=args.families, datasets=args.datasets,
                    formats=args.formats, work=work)
    passed = sum(c.passed for c in cells)
    twins = sum(1 for c in cells if c.twin_rules)
    print(f"cells passing (DAT-022 recall >= {PASS_RECALL} at medium+, quiet twin): {passed}/{len(cells)}; "
          f"twins with medium+: {twins}; CPU s {sum(c.cpu_seconds for c in cells):.1f}")
    if args.json:
        args.json.write_text(json.dumps([{"seed": c.seed, "file": c.name, "poisoned": c.poisoned,
                                          "precision": c.precision, "recall": c.recall,
                                          "twin_medium": list(c.twin_rules), "passed": c.passed}
                                         for c in cells], indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
