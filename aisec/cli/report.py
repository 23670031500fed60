"""``aisec report``: render a SARIF report as a self-contained HTML page for auditors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aisec.cli.output import EXIT_OK, Verbs, check_writable, write_output


def add_verbs(verbs: Verbs) -> None:
    """Register ``aisec report``."""
    report = verbs.add_parser("report", help="render a SARIF report as a self-contained HTML page for auditors")
    report.add_argument("sarif", metavar="SCAN.sarif", help="an aisec SARIF report")
    report.add_argument("-o", "--output", metavar="FILE", help="write the HTML here (default: standard output)")
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """``aisec report SCAN.sarif -o report.html``."""
    from aisec.report.html import render_html_from_sarif

    if args.output:
        check_writable(Path(args.output), "-o")
    page = render_html_from_sarif(Path(args.sarif))
    if args.output:
        write_output(Path(args.output), page)
    else:
        sys.stdout.write(page)
    return EXIT_OK
