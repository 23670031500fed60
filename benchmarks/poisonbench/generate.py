"""Write the poisoning benchmark: poisoned files, their clean twins and ``truth.json`` (deterministic by seed).

    python -m benchmarks.poisonbench.generate --out DIR [--rows N] [--seed S] [--families F ...] [--rates R ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.poisonbench import corpora, recipes
from benchmarks.poisonbench.recipes import Attack, Record

RATES = (0.01, 0.03, 0.10, 0.15)
TEXT_FAMILIES = ("label_flip_uniform", "label_flip_targeted", "badnets", "insertsent", "prompt_injection",
                 "hidden_unicode")
TABLE_FAMILIES = ("label_flip_uniform", "label_flip_targeted", "tabular_trigger_dirty", "tabular_trigger_clean")
CHAT_FAMILIES = ("wan_trigger", "autopoison", "prompt_injection", "hidden_unicode")
FAMILIES = tuple(sorted(set(TEXT_FAMILIES + TABLE_FAMILIES + CHAT_FAMILIES)))
TABLES = ("digits", "breast_cancer", "wine")
VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Spec:
    """One cell of the benchmark: a dataset, a family, a rate and the formats written for it."""

    dataset: str
    family: str
    rate: float
    formats: tuple[str, ...]


def file_seed(seed: int, dataset: str, family: str, rate: float) -> int:
    """A stable per-file seed (crc32, not Python's salted hash)."""
    return zlib.crc32(f"{seed}:{dataset}:{family}:{rate:.4f}".encode())


def specs(families: Sequence[str] = FAMILIES, rates: Sequence[float] = RATES,
          datasets: Sequence[str] | None = None) -> list[Spec]:
    """The benchmark matrix. Parquet and alpaca variants are written at 3 % and 10 % only (time budget)."""
    out: list[Spec] = []
    for rate in rates:
        both = rate in (0.03, 0.10)
        for family in TEXT_FAMILIES:
            out.append(Spec(dataset="reviews", family=family, rate=rate,
                            formats=("csv", "parquet") if both else ("csv",)))
        for family in ("badnets", "insertsent", "label_flip_uniform"):
            out.append(Spec(dataset="speeches", family=family, rate=rate, formats=("csv",)))
        for table in TABLES:
            for family in TABLE_FAMILIES:
                out.append(Spec(dataset=table, family=family, rate=rate,
                                formats=("csv", "parquet") if both and table == "digits" else ("csv",)))
        for family in CHAT_FAMILIES:
            out.append(Spec(dataset="chat", family=family, rate=rate,
                            formats=("jsonl", "alpaca.jsonl") if both else ("jsonl",)))
    return [s for s in out if s.family in families and (datasets is None or s.dataset in datasets)]


def load(dataset: str, rows: int, seed: int) -> corpora.Corpus | list[Record]:
    """The clean base records of a dataset (the same sample for every file of that dataset)."""
    if dataset == "reviews":
        return corpora.reviews(rows, seed)
    if dataset == "speeches":
        return corpora.speech_sentences(rows, seed)
    if dataset == "chat":
        return corpora.chat(rows, seed)
    return corpora.table(dataset, None, seed)  # small tables: all rows


def attack(spec: Spec, base: corpora.Corpus | list[Record], seed: int) -> Attack:
    """Run the recipe of ``spec`` on the clean base records."""
    s = file_seed(seed, spec.dataset, spec.family, spec.rate)
    if isinstance(base, list):
        chat: dict[str, Callable[[Sequence[Record], float, int], Attack]] = {
            "wan_trigger": recipes.wan_trigger, "autopoison": recipes.autopoison,
            "prompt_injection": recipes.chat_injection, "hidden_unicode": recipes.chat_hidden_unicode}
        return chat[spec.family](base, spec.rate, s)
    records, label = list(base.records), base.label_column
    if spec.family == "label_flip_uniform":
        return recipes.label_flip_uniform(records, label, spec.rate, s)
    if spec.family == "label_flip_targeted":
        return recipes.label_flip_targeted(records, label, spec.rate, s)
    if spec.family in ("tabular_trigger_dirty", "tabular_trigger_clean"):
        return recipes.tabular_trigger(records, base.feature_columns, label, spec.rate, s,
                                       clean_label=spec.family.endswith("clean"))
    text = base.text_column or "text"
    if spec.family == "badnets":
        return recipes.badnets(records, text, label, spec.rate, s)
    if spec.family == "insertsent":
        return recipes.insertsent(records, text, label, spec.rate, s)
    if spec.family == "prompt_injection":
        return recipes.prompt_injection(records, text, spec.rate, s)
    if spec.family == "hidden_unicode":
        return recipes.hidden_unicode(records, text, spec.rate, s)
    raise ValueError(f"unknown family {spec.family!r} for {spec.dataset}")


def columns_of(base: corpora.Corpus) -> list[str]:
    """Columns written for a flat corpus: ``id,text,label`` for text, features then ``label`` for tables."""
    if base.text_column is not None:
        return ["id", base.text_column, base.label_column]
    return [*base.feature_columns, base.label_column]


def write(path: Path, records: list[Record], fmt: str, columns: list[str] | None) -> list[int] | None:
    """Write one file; return the 1-based physical line of every record (None for Parquet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        assert columns is not None
        text, lines = corpora.dump_csv(records, columns)
        path.write_text(text, encoding="utf-8", newline="")
        return lines
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert columns is not None
        table = pa.table({c: [r.get(c) for r in records] for c in columns})
        pq.write_table(table, path, compression="zstd")
        return None
    convert = corpora.to_alpaca if fmt == "alpaca.jsonl" else corpora.to_messages
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(convert(record), ensure_ascii=False) + "\n")
    return list(range(1, len(records) + 1))


def _with_ids(records: list[Record]) -> list[Record]:
    return [{"id": i, **r} for i, r in enumerate(records)]


def generate(out: Path, rows: int = 2000, seed: int = 0, families: Sequence[str] = FAMILIES,
             rates: Sequence[float] = RATES, datasets: Sequence[str] | None = None) -> dict[str, Any]:
    """Write every file of the matrix under ``out`` and ``out/truth.json``; return the truth."""
    files: dict[str, Any] = {}
    bases: dict[str, corpora.Corpus | list[Record]] = {}
    for spec in specs(families, rates, datasets):
        if spec.dataset not in bases:
            bases[spec.dataset] = load(spec.dataset, rows, seed)
        base = bases[spec.dataset]
        result = attack(spec, base, seed)
        columns = None if isinstance(base, list) else columns_of(base)
        poisoned, clean = result.poisoned, result.clean
        if columns is not None and "id" in columns:
            poisoned, clean = _with_ids(poisoned), _with_ids(clean)
        stem = f"{spec.dataset}/{spec.family}/r{round(spec.rate * 100):02d}"
        for fmt in spec.formats:
            name, twin = f"{stem}.{fmt}", f"{stem}.clean.{fmt}"
            lines = write(out / name, poisoned, fmt, columns)
            common = {"family": spec.family, "dataset": spec.dataset, "rate": spec.rate, "format": fmt,
                      "records": len(poisoned),
                      "label_column": None if isinstance(base, list) else base.label_column,
                      "text_column": None if isinstance(base, list) else base.text_column}
            files[name] = {**common, "clean_twin": twin, "poisoned_rows": list(result.rows),
                           "poisoned_lines": None if lines is None else [lines[i] for i in result.rows],
                           "decoy_rows": list(result.decoys), "trigger": recipes.printable(result.trigger),
                           "target": result.target, "note": result.note,
                           "variants": {str(k): v for k, v in sorted(result.variants.items())}}
            twin_lines = write(out / twin, clean, fmt, columns)
            files[twin] = {**common, "clean_of": name, "poisoned_rows": [],
                           "poisoned_lines": None if twin_lines is None else [],
                           "decoy_rows": list(result.decoys)}
    truth = {"generator": {"version": VERSION, "seed": seed, "rows": rows,
                           "rates": list(rates), "families": sorted(families)},
             "files": dict(sorted(files.items()))}
    (out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    return truth


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=2000, help="rows per text/chat file (tables keep all rows)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--rates", nargs="+", type=float, default=list(RATES))
    parser.add_argument("--datasets", nargs="+", default=None,
                        choices=("reviews", "speeches", "chat", *TABLES))
    args = parser.parse_args(argv)
    truth = generate(args.out, args.rows, args.seed, args.families, args.rates, args.datasets)
    print(f"wrote {len(truth['files'])} files and truth.json under {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
