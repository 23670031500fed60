"""Argument types and options that several verbs share (severities, worker counts, dataset columns)."""

from __future__ import annotations

import argparse

from aisec.errors import ConfigError
from aisec.model import Severity


def severity(text: str) -> Severity:
    """``--fail-on`` / ``--min-severity`` values."""
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def jobs(text: str) -> int:
    """``--jobs`` values: a whole number."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of worker processes, got {text!r}")
    return int(text)


def add_column_options(parser: argparse.ArgumentParser) -> None:
    """``--label-column`` and ``--text-column`` (dataset roles for every file; beat the policy's)."""
    parser.add_argument("--label-column", metavar="NAME", dest="label_column",
                        help="the dataset label column in every scanned file (beats settings.dataset in the policy)")
    parser.add_argument("--text-column", metavar="NAME", dest="text_columns", action="append",
                        help="a dataset text column in every scanned file; repeat for several")


def column_flags(args: argparse.Namespace) -> dict[str, str | None]:
    """The column options as configuration values (``text_columns`` comma-joined), checked."""
    names = [n.strip() for n in (args.text_columns or []) if n.strip()]
    if any("," in n for n in names):
        raise ConfigError("--text-column takes one column name per flag (repeat it), without commas")
    if args.label_column is not None and not args.label_column.strip():
        raise ConfigError("--label-column needs a column name")
    return {"label_column": args.label_column.strip() if args.label_column else None,
            "text_columns": ",".join(names) or None}
