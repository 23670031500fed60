"""The ``aisec`` command line: a thin adapter over the library, one small function per verb."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from aisec import __version__
from aisec.errors import AisecError
from aisec.model import Report, Severity
from aisec.report import OutputFormat, render

EXIT_OK = 0
"""Nothing at or above the fail-on severity, and everything was scanned."""
EXIT_FINDINGS = 1
"""Findings at or above the fail-on severity."""
EXIT_ERROR = 2
"""The result cannot be trusted: bad policy or rules, path not found, nothing scanned, or an artifact that
could not be fully scanned. Findings found elsewhere are still reported."""

EXIT_CODES_HELP = """exit codes:
  0  nothing at or above the fail-on severity; every artifact fully scanned
  1  findings at or above the fail-on severity
  2  the scan cannot be trusted: invalid rules or policy, a path not found, nothing scanned,
     or an artifact that could not be fully scanned (findings are still reported)
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except AisecError as exc:
        print(f"aisec: error: {exc.diagnostics()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("aisec: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception:
        # A bug must still read as "the scan cannot be trusted" (2): Python's own exit code for an uncaught
        # exception is 1, which a CI gate would take for "findings".
        traceback.print_exc()
        print("aisec: internal error (please report it with the traceback above); the scan is incomplete",
              file=sys.stderr)
        return EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="aisec", description="Scan ML models, datasets and signatures for security problems, without "
        "executing anything.", epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"aisec {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    _add_scan(verbs)
    _add_rules(verbs)
    for add in _EXTRA_VERBS:
        add(verbs)
    return parser


def _add_scan(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scan = verbs.add_parser("scan", help="scan files and folders", epilog=EXIT_CODES_HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    scan.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to scan")
    scan.add_argument("--policy", metavar="NAME|FILE",
                      help="built-in policy (default, strict, audit) or a policy file (default: default); flags beat "
                           "AISEC_* variables, which beat the project file (see aisec config show)")
    scan.add_argument("--rules", metavar="DIR", help="a folder of extra rules to load beside the built-in ones")
    scan.add_argument("-f", "--format", choices=[f.value for f in OutputFormat],
                      help="report format for -o (or standard output); default text")
    scan.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of standard output")
    scan.add_argument("--sarif", metavar="FILE", help="also write a SARIF report to FILE")
    scan.add_argument("--json", metavar="FILE", dest="json_file", help="also write a JSON report to FILE")
    scan.add_argument("--fail-on", metavar="SEVERITY", type=_severity,
                      help="lowest severity that fails the gate (default: the policy's fail_on)")
    scan.add_argument("--min-severity", metavar="SEVERITY", type=_severity,
                      help="lowest severity to report (default: the policy's min_severity)")
    scan.add_argument("-j", "--jobs", type=_jobs, metavar="N",
                      help="worker processes (default: one per CPU; 0 analyzes in-process without the per-file "
                           "time budget)")
    scan.add_argument("-q", "--quiet", action="store_true", help="no progress line on the terminal")
    scan.add_argument("--no-color", action="store_true", help="never colour the text report")
    from aisec.cli_audit import add_scan_options

    add_scan_options(scan)
    scan.set_defaults(handler=run_scan)


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _jobs(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of worker processes, got {text!r}")
    return int(text)


def run_scan(args: argparse.Namespace) -> int:
    """``aisec scan``."""
    from aisec.cli_audit import finish_scan, prepare_scan, publish_scan
    from aisec.progress import ProgressLine
    from aisec.scan import scan

    settings = prepare_scan(args)

    lines: list[ProgressLine] = []

    def progress(files: int, size: int) -> ProgressLine:
        lines.append(ProgressLine(total_files=files, total_bytes=size))
        return lines[-1]

    show = sys.stderr.isatty() and not args.quiet
    try:
        report = scan(args.paths, policy=settings.policy, rules_dir=settings.rules, fail_on=settings.fail_on,
                      min_severity=settings.min_severity, jobs=args.jobs, progress=progress if show else None,
                      label_column=settings.label_column, text_columns=settings.text_columns)
    finally:
        for line in lines:
            line.close()
    report = finish_scan(report, settings)
    fmt = settings.format
    if args.output:
        write_output(Path(args.output), render(report, fmt))
    else:
        colour = fmt is OutputFormat.TEXT and sys.stdout.isatty() and not args.no_color
        sys.stdout.write(render(report, fmt, colour=colour))
    if args.sarif:
        write_output(Path(args.sarif), render(report, OutputFormat.SARIF))
    if args.json_file:
        write_output(Path(args.json_file), render(report, OutputFormat.JSON))
    publish_scan(report, args, settings)
    return exit_code(report)


def exit_code(report: Report) -> int:
    """The gate's verdict: an untrustworthy scan (2) outranks findings (1), which outrank a pass (0)."""
    if not report.trustworthy:
        return EXIT_ERROR
    return EXIT_FINDINGS if report.gate_findings else EXIT_OK


def write_output(path: Path, text: str) -> None:
    """Write a report only where the user asked; an unwritable path is an ``AisecError`` (exit 2)."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AisecError(f"cannot write {path}: {exc.strerror or exc}") from None


def _add_rules(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = verbs.add_parser("rules", help="list, show and validate rules and policies")
    sub = rules.add_subparsers(dest="rules_verb", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="list the rules a policy enables")
    listing.add_argument("--policy", default="audit", metavar="NAME|FILE", help="policy to list (default: audit)")
    listing.add_argument("--rules", metavar="DIR", help="extra rules folder")
    listing.set_defaults(handler=run_rules_list)
    show = sub.add_parser("show", help="show one rule in full")
    show.add_argument("rule_id", metavar="ID")
    show.add_argument("--rules", metavar="DIR", help="extra rules folder")
    show.set_defaults(handler=run_rules_show)
    validate = sub.add_parser("validate", help="validate a folder of rules and policies")
    validate.add_argument("directory", metavar="DIR")
    validate.set_defaults(handler=run_rules_validate)


def run_rules_list(args: argparse.Namespace) -> int:
    """``aisec rules list``."""
    from aisec.scan import load_configuration

    policy, _rules, bound = load_configuration(args.policy, args.rules)
    print(f"policy {policy.name}: {len(bound)} rules enabled, fail on {policy.fail_on.value} and above")
    for item in bound:
        d = item.descriptor
        print(f"{d.id}  {d.severity.value:<8}  {d.name}  {d.short_description}")
    return EXIT_OK


def run_rules_show(args: argparse.Namespace) -> int:
    """``aisec rules show ID``."""
    from aisec.scan import load_configuration

    _policy, rules, _bound = load_configuration("audit", args.rules)
    for rule in rules:
        if rule.id == args.rule_id:
            d = rule.descriptor
            print(f"{d.id}  {d.name}\nseverity: {d.severity.value}   confidence: {d.confidence.value}\n"
                  f"cwe: {', '.join(d.cwe) or '-'}   tags: {', '.join(d.tags)}\n\n{d.short_description}\n\n"
                  f"{d.full_description}\n\n{d.help_text}\n\nsource: {rule.source}")
            for ref in d.references:
                print(f"reference: {ref}")
            return EXIT_OK
    raise AisecError(f"no rule with id {args.rule_id!r}")


def run_rules_validate(args: argparse.Namespace) -> int:
    """``aisec rules validate DIR``: rules and policies in DIR must all load."""
    from aisec.validate import validate_directory

    summary = validate_directory(Path(args.directory))
    print(summary)
    return EXIT_OK


def _add_signing(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aisec.signing import cli as signing_cli

    sign = verbs.add_parser("sign", help="sign a model (OpenSSF Model Signing format)",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    signing_cli.configure_sign_parser(sign)
    sign.set_defaults(handler=signing_cli.run_sign)
    verify = verbs.add_parser("verify", help="verify a model's OMS signature, offline",
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog="exit codes: 0 valid; 1 invalid; 2 verification could not be attempted")
    signing_cli.configure_verify_parser(verify)
    verify.set_defaults(handler=signing_cli.run_verify)


def _add_audit(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aisec.cli_audit import add_audit_verbs

    add_audit_verbs(verbs)


def _add_dataset(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aisec.datasets.cli import add_dataset_verb

    add_dataset_verb(verbs)


_EXTRA_VERBS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _add_signing,
    _add_audit,
    _add_dataset,
)
"""Subcommands beyond scan and rules, each added by one function (registered here and nowhere else)."""
