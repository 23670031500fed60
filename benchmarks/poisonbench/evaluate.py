"""Score aisec (and optionally cleanlab's Datalab) on a generated poisonbench folder: row-level precision/recall.

    python -m benchmarks.poisonbench.evaluate DIR [--datalab] [--families F ...] [--datasets D ...]
                                              [--formats csv ...] [--rates 0.03 ...] [--json OUT]

aisec runs through its library API (``aisec.scan.scan``, default policy, in this process). A finding marks the
rows it points at: ``evidence.row`` (0-based record), its location line (mapped to the record that spans it),
a Parquet pointer ``/ROW/...``, the lines listed in ``evidence.rows``, and any related locations a finding
carries. Precision/recall are per file against ``truth.json``; "medium+" counts findings of severity medium or
above, "any" every finding. On the clean twin, the count of medium+ findings (any rule, row-level or not) is shown.

Datalab (``--datalab``): a row counts as detected when Datalab raises *any* issue type on it (label, outlier,
near_duplicate, non_iid, ...). pred_probs come from a cheap model, 5-fold out-of-fold: TF-IDF word 1-2-grams
(min_df 2, sublinear tf) + logistic regression for text, standardised features + logistic regression for tables;
``features`` for its outlier/near-duplicate checks are a 100-dimensional SVD of the TF-IDF (text) or the
standardised table. Chat files have no label: Datalab runs without labels on SVD features of prompt + answer.
Times are CPU seconds of this process (``time.process_time``) around each tool's work on the file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aisec.model import Finding, Location, Report, Severity
from aisec.scan import scan

MEDIUM = Severity.MEDIUM.rank
LABEL_RULE = "AISEC-DAT-018"
"""The per-row label-error rule: label-flip cells compare its rows with Datalab's (any issue type)."""
_ROWS_ITEM = re.compile(r"(row )?(\d+)")


@dataclass(frozen=True, kw_only=True)
class Score:
    """One tool's result on one file."""

    found_medium: frozenset[int]
    found_any: frozenset[int]
    medium_findings: int
    rules_medium: tuple[str, ...] = ()
    cpu_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def record_starts(path: Path, fmt: str) -> list[int]:
    """1-based physical line on which every record starts (empty for Parquet)."""
    if fmt == "parquet":
        return []
    text = path.read_text(encoding="utf-8")
    if fmt.endswith("jsonl"):
        return list(range(1, text.count("\n") + 1))
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    starts, line = [], reader.line_num + 1
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    return starts


def _row_of_line(line: int, starts: Sequence[int]) -> int | None:
    import bisect

    index = bisect.bisect_right(starts, line) - 1
    return index if index >= 0 else None


def _related(finding: Finding) -> Iterable[tuple[Location, str]]:
    """Related locations (``Finding.related_locations``) with their messages (``row N``)."""
    for item in getattr(finding, "related_locations", ()) or ():
        location = getattr(item, "location", item)
        if isinstance(location, Location):
            yield location, str(getattr(item, "message", ""))


def rows_of_finding(finding: Finding, starts: Sequence[int], fmt: str) -> set[int]:
    """0-based records a finding points at."""
    rows: set[int] = set()

    def add_location(location: Location) -> None:
        if location.line is not None and starts:
            row = _row_of_line(location.line, starts)
            if row is not None:
                rows.add(row)
        elif fmt == "parquet" and location.pointer:
            match = re.match(r"^/(\d+)(/|$)", location.pointer)
            if match:
                rows.add(int(match.group(1)))

    evidence = finding.evidence
    if "row" in evidence and str(evidence["row"]).lstrip("-").isdigit():
        rows.add(int(str(evidence["row"])))
    else:
        add_location(finding.location)
    listed = evidence.get("rows")
    if isinstance(listed, str):
        for prefix, number in _ROWS_ITEM.findall(listed.split("…")[0]):
            if prefix:
                rows.add(int(number))
            elif starts:
                row = _row_of_line(int(number), starts)
                if row is not None:
                    rows.add(row)
    for location, message in _related(finding):
        match = re.fullmatch(r"row (\d+)", message)
        if match:
            rows.add(int(match.group(1)))
        else:
            add_location(location)
    return rows


def score_report(report: Report, starts: Sequence[int], fmt: str, seconds: float) -> Score:
    """Rows flagged at medium+ and at any severity, and the medium+ finding count."""
    medium: set[int] = set()
    anything: set[int] = set()
    rules: set[str] = set()
    label_rows: set[int] = set()
    count = 0
    for finding in report.findings:
        rows = rows_of_finding(finding, starts, fmt)
        anything |= rows
        if finding.rule_id == LABEL_RULE:
            label_rows |= rows
        if finding.severity.rank >= MEDIUM:
            medium |= rows
            rules.add(finding.rule_id)
            count += 1
    return Score(found_medium=frozenset(medium), found_any=frozenset(anything), medium_findings=count,
                 rules_medium=tuple(sorted(rules)), cpu_seconds=seconds,
                 extra={"errors": len(report.errors), "label_rows": frozenset(label_rows)})


def run_aisec(path: Path, fmt: str) -> Score:
    """Scan one file in this process with the default policy."""
    started = time.process_time()
    report = scan([path], policy="default", jobs=0)
    seconds = time.process_time() - started
    return score_report(report, record_starts(path, fmt), fmt, seconds)


# ---------------------------------------------------------------------------------------------------------------
# Datalab side by side

def _load_frame(path: Path, fmt: str) -> Any:
    import pandas as pd  # type: ignore[import-untyped]

    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "csv":
        return pd.read_csv(path, keep_default_na=False)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "alpaca.jsonl":
        texts = [f"{r['instruction']}\n{r['input']}\n{r['output']}" for r in records]
    else:
        texts = ["\n".join(str(m.get("content", "")) for m in r["messages"]) for r in records]
    return pd.DataFrame({"text": texts})


def run_datalab(path: Path, fmt: str, meta: dict[str, Any]) -> Score:
    """cleanlab Datalab on one file; a row is detected when any issue type flags it."""
    import numpy as np
    from cleanlab import Datalab
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.preprocessing import StandardScaler

    started = time.process_time()
    frame = _load_frame(path, fmt)
    label_column = meta.get("label_column")
    text_column = meta.get("text_column") or ("text" if "text" in frame.columns and label_column is None else None)
    if text_column is not None:
        tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        matrix = tfidf.fit_transform(frame[text_column].astype(str))
        components = max(2, min(100, matrix.shape[1] - 1, matrix.shape[0] - 1))
        features = TruncatedSVD(n_components=components, random_state=0).fit_transform(matrix)
        features /= np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
        model_input = matrix
    else:
        columns = [c for c in frame.columns if c != label_column]
        features = StandardScaler().fit_transform(frame[columns].astype(float).to_numpy())
        model_input = features
    if label_column is not None:
        labels = frame[label_column].astype(str).to_numpy()
        _, counts = np.unique(labels, return_counts=True)
        folds = StratifiedKFold(n_splits=max(2, min(5, int(counts.min()))), shuffle=True, random_state=0)
        pred_probs = cross_val_predict(LogisticRegression(max_iter=2000, C=4.0), model_input, labels, cv=folds,
                                       method="predict_proba")
        lab = Datalab(data={"label": labels}, label_name="label", verbosity=0)
        lab.find_issues(pred_probs=pred_probs, features=features)
    else:
        lab = Datalab(data={"row": np.arange(len(frame))}, verbosity=0)
        lab.find_issues(features=features)
    issues = lab.get_issues()
    flags = [c for c in issues.columns if c.startswith("is_") and c.endswith("_issue")]
    flagged = frozenset(int(i) for i in np.flatnonzero(issues[flags].any(axis=1).to_numpy()))
    label_flags = frozenset(int(i) for i in np.flatnonzero(issues["is_label_issue"].to_numpy())) \
        if "is_label_issue" in issues.columns else frozenset()
    seconds = time.process_time() - started
    return Score(found_medium=flagged, found_any=flagged, medium_findings=len(flagged), cpu_seconds=seconds,
                 extra={"label_issue_rows": label_flags})


# ---------------------------------------------------------------------------------------------------------------
# Tables

def precision_recall(found: frozenset[int], truth: set[int]) -> tuple[float | None, float | None]:
    """Precision (None when nothing was found) and recall (None when nothing was poisoned)."""
    hits = len(found & truth)
    return (hits / len(found) if found else None), (hits / len(truth) if truth else None)


def _pr(found: frozenset[int], truth: set[int], digits: int = 2) -> str:
    precision, recall = precision_recall(found, truth)
    p = "-" if precision is None else f"{precision:.{digits}f}"
    r = "-" if recall is None else f"{recall:.{digits}f}"
    return f"{p}/{r}"


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One poisoned file and its twin, scored."""

    name: str
    meta: dict[str, Any]
    aisec: Score
    twin: Score
    datalab: Score | None = None
    datalab_twin: Score | None = None


def evaluate(root: Path, *, datalab: bool = False, families: Sequence[str] | None = None,
             datasets: Sequence[str] | None = None, formats: Sequence[str] | None = None,
             rates: Sequence[float] | None = None, log: Any = sys.stderr,
             partial: Path | None = None) -> list[Cell]:
    """Score every selected poisoned file of ``root`` and its clean twin."""
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))["files"]
    cells: list[Cell] = []
    cache = _Cache()
    for name, meta in sorted(truth.items(), key=lambda kv: (kv[1]["dataset"], kv[1]["family"], kv[1]["rate"],
                                                             kv[1]["format"])):
        if "clean_of" in meta:
            continue
        if (families and meta["family"] not in families) or (datasets and meta["dataset"] not in datasets) \
                or (formats and meta["format"] not in formats) or (rates and meta["rate"] not in rates):
            continue
        fmt, twin = meta["format"], meta["clean_twin"]
        print(f"  {name}", file=log, flush=True)
        cell = Cell(name=name, meta=meta, aisec=cache.aisec(root / name, fmt), twin=cache.aisec(root / twin, fmt),
                    datalab=cache.datalab(root / name, fmt, meta) if datalab else None,
                    datalab_twin=cache.datalab(root / twin, fmt, meta) if datalab else None)
        cells.append(cell)
        print(markdown([cell], datalab).splitlines()[2], file=log, flush=True)
        if partial is not None:  # a long run that is stopped keeps what it measured
            partial.write_text(json.dumps(as_json(cells), indent=1) + "\n", encoding="utf-8")
    return cells


class _Cache:
    """Identical files (e.g. the clean twins of label flips at every rate) are scored once."""

    def __init__(self) -> None:
        self.scores: dict[tuple[str, ...], Score] = {}

    def _key(self, tool: str, path: Path, fmt: str, meta: dict[str, Any] | None = None) -> tuple[str, ...]:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return (tool, digest, fmt, str((meta or {}).get("label_column")), str((meta or {}).get("text_column")))

    def aisec(self, path: Path, fmt: str) -> Score:
        key = self._key("aisec", path, fmt)
        if key not in self.scores:
            self.scores[key] = run_aisec(path, fmt)
        return self.scores[key]

    def datalab(self, path: Path, fmt: str, meta: dict[str, Any]) -> Score:
        key = self._key("datalab", path, fmt, meta)
        if key not in self.scores:
            self.scores[key] = run_datalab(path, fmt, meta)
        return self.scores[key]


def markdown(cells: Sequence[Cell], datalab: bool) -> str:
    """The results table (one line per poisoned file) and CPU totals."""
    head = ["dataset", "family", "rate", "format", "poisoned", "aisec P/R medium+", "aisec P/R any",
            "twin medium+ findings", "medium+ rules (poisoned | twin)"]
    if datalab:
        head += ["Datalab P/R any issue", "Datalab P/R label issue", "Datalab rows flagged on twin"]
    head += ["aisec CPU s"] + (["Datalab CPU s"] if datalab else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in cells:
        truth = set(c.meta["poisoned_rows"])
        row = [c.meta["dataset"], c.meta["family"], f"{round(c.meta['rate'] * 100)} %", c.meta["format"],
               str(len(truth)), _pr(c.aisec.found_medium, truth), _pr(c.aisec.found_any, truth),
               str(c.twin.medium_findings),
               f"{' '.join(c.aisec.rules_medium) or '-'} | {' '.join(c.twin.rules_medium) or '-'}"]
        if datalab:
            assert c.datalab is not None and c.datalab_twin is not None
            row += [_pr(c.datalab.found_any, truth), _pr(c.datalab.extra["label_issue_rows"], truth),
                    str(len(c.datalab_twin.found_any))]
        row += [f"{c.aisec.cpu_seconds + c.twin.cpu_seconds:.1f}"]
        if datalab:
            assert c.datalab is not None and c.datalab_twin is not None
            row += [f"{c.datalab.cpu_seconds + c.datalab_twin.cpu_seconds:.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    total = sum(c.aisec.cpu_seconds + c.twin.cpu_seconds for c in cells)
    summary = f"\naisec CPU seconds, all files and twins: {total:.1f}"
    if datalab:
        datalab_total = sum(c.datalab.cpu_seconds + c.datalab_twin.cpu_seconds for c in cells
                            if c.datalab and c.datalab_twin)
        summary += f"; Datalab: {datalab_total:.1f}"
    return "\n".join(lines) + summary + "\n"


def summary(cells: Sequence[Cell], datalab: bool) -> str:
    """Per family and rate, over datasets and formats: the figures issue 10's Done bar is about."""
    groups: dict[tuple[str, float], list[Cell]] = {}
    for c in cells:
        groups.setdefault((c.meta["family"], c.meta["rate"]), []).append(c)
    head = ["family", "rate", "files", "aisec recall medium+ (min / mean)", "aisec precision medium+ (mean)",
            "twins with medium+"]
    if datalab:
        head += ["Datalab recall (mean)", "Datalab precision (mean)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def mean(values: list[float | None]) -> str:
        known = [v for v in values if v is not None]
        return f"{sum(known) / len(known):.2f}" if known else "-"

    for (family, rate), group in sorted(groups.items()):
        pr = [precision_recall(c.aisec.found_medium, set(c.meta["poisoned_rows"])) for c in group]
        recalls = [r for _, r in pr if r is not None]
        row = [family, f"{round(rate * 100)} %", str(len(group)),
               f"{min(recalls):.2f} / {mean(list(recalls))}" if recalls else "-", mean([p for p, _ in pr]),
               f"{sum(1 for c in group if c.twin.medium_findings)} of {len(group)}"]
        if datalab:
            dl = [precision_recall(c.datalab.found_any, set(c.meta["poisoned_rows"])) for c in group if c.datalab]
            row += [mean([r for _, r in dl]), mean([p for p, _ in dl])]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def label_flip_wins(cells: Sequence[Cell]) -> str:
    """Label-flip files: aisec's label rule against Datalab (any issue type). A file is won when aisec's recall is
    at least Datalab's and its precision is higher (issue 10: recall >= Datalab's at better precision)."""
    lines = ["| file | aisec P/R label rule | Datalab P/R any issue | won |", "|---|---|---|---|"]
    won = total = 0
    for c in cells:
        if not c.meta["family"].startswith("label_flip") or c.datalab is None:
            continue
        truth = set(c.meta["poisoned_rows"])
        mine = precision_recall(c.aisec.extra["label_rows"], truth)
        theirs = precision_recall(c.datalab.found_any, truth)
        ok = (mine[0] or 0.0) > (theirs[0] or 0.0) and (mine[1] or 0.0) >= (theirs[1] or 0.0)
        won += ok
        total += 1
        # Three decimals: uniform-flip files are often decided by a row or two.
        mine_text, theirs_text = _pr(c.aisec.extra["label_rows"], truth, 3), _pr(c.datalab.found_any, truth, 3)
        lines.append(f"| {c.name} | {mine_text} | {theirs_text} | {'yes' if ok else 'no'} |")
    if not total:
        return ""
    return "\n".join(lines) + f"\nlabel-flip files won: {won} of {total}\n"


def as_json(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    """Machine-readable results (for tests and trend tracking)."""
    out = []
    for c in cells:
        truth = set(c.meta["poisoned_rows"])
        entry: dict[str, Any] = {"file": c.name, **{k: c.meta[k] for k in ("dataset", "family", "rate", "format")},
                                 "aisec_medium": precision_recall(c.aisec.found_medium, truth),
                                 "aisec_any": precision_recall(c.aisec.found_any, truth),
                                 "aisec_label_rule": precision_recall(c.aisec.extra["label_rows"], truth),
                                 "twin_medium_findings": c.twin.medium_findings,
                                 "aisec_cpu_seconds": round(c.aisec.cpu_seconds + c.twin.cpu_seconds, 2)}
        if c.datalab is not None and c.datalab_twin is not None:
            entry["datalab_any"] = precision_recall(c.datalab.found_any, truth)
            entry["datalab_label"] = precision_recall(c.datalab.extra["label_issue_rows"], truth)
            entry["datalab_twin_rows"] = len(c.datalab_twin.found_any)
            entry["datalab_cpu_seconds"] = round(c.datalab.cpu_seconds + c.datalab_twin.cpu_seconds, 2)
        out.append(entry)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--datalab", action="store_true", help="also run cleanlab's Datalab on the same files")
    parser.add_argument("--families", nargs="+")
    parser.add_argument("--datasets", nargs="+")
    parser.add_argument("--formats", nargs="+")
    parser.add_argument("--rates", nargs="+", type=float)
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    cells = evaluate(args.root, datalab=args.datalab, families=args.families, datasets=args.datasets,
                     formats=args.formats, rates=args.rates, partial=args.json)
    print(summary(cells, args.datalab))
    print(label_flip_wins(cells))
    print(markdown(cells, args.datalab))
    if args.json:
        args.json.write_text(json.dumps(as_json(cells), indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
