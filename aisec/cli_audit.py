"""CLI for the CI gate and audit workflow: scan options (config, baseline, attestation) and their verbs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from aisec._cli import write_output
from aisec.baseline import BaselineResult, apply_baseline, baseline_report, load_baseline
from aisec.config import FLAGS, EffectiveConfig, as_document, describe, resolve
from aisec.errors import ConfigError
from aisec.model import Report, Severity
from aisec.report import OutputFormat, render

EXIT_OK = 0
EXIT_FAILED = 1
KEY_PASSWORD_ENV = "AISEC_ATTEST_KEY_PASSWORD"  # noqa: S105 - a variable name, not a password
"""Password of an encrypted ``--attest`` key (read from the environment, never from the command line)."""

@dataclass(frozen=True, kw_only=True)
class ScanSettings:
    """What ``aisec scan`` runs with once configuration, baseline and attestation options are resolved."""

    config: EffectiveConfig
    policy: str
    rules: str | None
    fail_on: Severity | None
    min_severity: Severity | None
    format: OutputFormat
    baseline: tuple[BaselineResult, ...] | None
    gate_all: bool
    sarif_path: Path | None
    """The SARIF report this run writes (``--sarif``, or ``-o`` with ``-f sarif``)."""
    attestation: Path | None
    label_column: str | None = None
    """Dataset label column for every file (``--label-column``, ``AISEC_LABEL_COLUMN``, project file)."""
    text_columns: tuple[str, ...] = ()
    """Dataset text columns for every file (``--text-column``, ``AISEC_TEXT_COLUMNS``, project file)."""


def add_scan_options(scan: argparse.ArgumentParser) -> None:
    """The options of ``aisec scan`` that this module implements."""
    scan.add_argument("--config", metavar="FILE",
                      help="project file to read (aisec.yaml or pyproject.toml); default: the working directory's")
    scan.add_argument("--baseline", metavar="SARIF",
                      help="previous aisec SARIF report: mark findings new/unchanged/updated, list absent ones, "
                           "and gate only on new and updated findings")
    scan.add_argument("--gate-all", action="store_true",
                      help="with --baseline, gate on every finding, unchanged ones too")
    scan.add_argument("--write-baseline", metavar="FILE", help="write this scan's findings as a baseline (SARIF)")
    scan.add_argument("--attest", metavar="KEY",
                      help="sign an in-toto attestation of the scan with this PEM EC private key "
                           "(needs a SARIF report: --sarif FILE or -f sarif -o FILE)")
    scan.add_argument("--attestation", metavar="FILE",
                      help="where to write the attestation (default: <sarif report>.intoto.jsonl)")
    add_column_options(scan)


def add_column_options(parser: argparse.ArgumentParser) -> None:
    """``--label-column`` and ``--text-column`` (dataset roles for every file; beat the policy's)."""
    parser.add_argument("--label-column", metavar="NAME", dest="label_column",
                        help="the dataset label column in every scanned file (beats settings.dataset in the policy)")
    parser.add_argument("--text-column", metavar="NAME", dest="text_columns", action="append",
                        help="a dataset text column in every scanned file; repeat for several")


def _column_flags(args: argparse.Namespace) -> dict[str, str | None]:
    names = [n.strip() for n in (args.text_columns or []) if n.strip()]
    if any("," in n for n in names):
        raise ConfigError("--text-column takes one column name per flag (repeat it), without commas")
    if args.label_column is not None and not args.label_column.strip():
        raise ConfigError("--label-column needs a column name")
    return {"label_column": args.label_column.strip() if args.label_column else None,
            "text_columns": ",".join(names) or None}


def prepare_scan(args: argparse.Namespace) -> ScanSettings:
    """Resolve the effective settings (flag > AISEC_* > project file > default) and check the options."""
    cli = {"policy": args.policy, "rules": args.rules, "format": args.format,
           "fail_on": args.fail_on.value if args.fail_on else None,
           "min_severity": args.min_severity.value if args.min_severity else None, **_column_flags(args)}
    config = resolve(cli=cli, explicit=args.config, targets=args.paths)
    fmt = OutputFormat(config.value("format"))
    if fmt is not OutputFormat.TEXT:
        for notice in config.notices:
            print(f"aisec: notice: {notice}", file=sys.stderr)
    sarif_path = Path(args.sarif) if args.sarif else (
        Path(args.output) if args.output and fmt is OutputFormat.SARIF else None)
    attestation = None
    if args.attest:
        if sarif_path is None:
            raise ConfigError("--attest needs a SARIF report to attest: add --sarif FILE (or -f sarif -o FILE)")
        attestation = Path(args.attestation) if args.attestation else Path(f"{sarif_path}.intoto.jsonl")
        from aisec.attest import load_private_key

        load_private_key(args.attest, _key_password())  # fail before a long scan, not after it
    elif args.attestation:
        raise ConfigError("--attestation FILE needs --attest KEY")
    if args.gate_all and not args.baseline:
        raise ConfigError("--gate-all only makes sense with --baseline")
    return ScanSettings(config=config, policy=config.value("policy") or "default", rules=config.value("rules"),
                        fail_on=config.severity("fail_on"), min_severity=config.severity("min_severity"),
                        format=fmt, baseline=load_baseline(args.baseline) if args.baseline else None,
                        gate_all=args.gate_all,
                        sarif_path=sarif_path, attestation=attestation,
                        label_column=config.value("label_column"), text_columns=config.columns("text_columns"))


def finish_scan(report: Report, settings: ScanSettings) -> Report:
    """Add the configuration notices and, with a baseline, the baseline states and the narrowed gate."""
    report = replace(report, notices=report.notices + settings.config.notices)
    if settings.baseline is None:
        return report
    from aisec.engine.policy import load_policy
    from aisec.paths import builtin_policies_dir

    floor = settings.min_severity or load_policy(settings.policy, policies_dir=builtin_policies_dir()).min_severity
    return apply_baseline(report, settings.baseline, gate_all=settings.gate_all, floor=floor)


def publish_scan(report: Report, args: argparse.Namespace, settings: ScanSettings) -> None:
    """After the reports are written: the baseline file and the signed attestation, when asked for."""
    if args.write_baseline:
        write_output(Path(args.write_baseline), render(baseline_report(report), OutputFormat.SARIF))
    if settings.attestation is not None and settings.sarif_path is not None:
        from aisec.attest import write_attestation

        write_attestation(report, targets=args.paths, sarif_path=settings.sarif_path, key_path=args.attest,
                          out_path=settings.attestation, password=_key_password(),
                          outputs=[Path(p) for p in (args.output, args.json_file, args.write_baseline) if p])
        print(f"aisec: attestation written to {settings.attestation}", file=sys.stderr)


def _key_password() -> bytes | None:
    password = os.environ.get(KEY_PASSWORD_ENV)
    return password.encode() if password else None


def add_audit_verbs(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``aisec config show``, ``aisec report`` and ``aisec verify-attestation``."""
    config = verbs.add_parser("config", help="show the effective configuration and where each value came from")
    sub = config.add_subparsers(dest="config_verb", required=True, metavar="ACTION")
    show = sub.add_parser("show", help="print the effective settings (flag > AISEC_* > project file > default)")
    show.add_argument("paths", nargs="*", metavar="PATH", help="the paths a scan would get (to report ignored "
                                                               "project files inside them)")
    show.add_argument("--config", metavar="FILE", help="project file to read instead of the working directory's")
    for key, flag in FLAGS.items():
        if key not in ("label_column", "text_columns"):
            show.add_argument(flag, dest=key, metavar=key.upper().replace("_", "-"), help=f"as on aisec scan ({key})")
    add_column_options(show)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=run_config_show)

    report = verbs.add_parser("report", help="render a SARIF report as a self-contained HTML page for auditors")
    report.add_argument("sarif", metavar="SCAN.sarif", help="an aisec SARIF report")
    report.add_argument("-o", "--output", metavar="FILE", help="write the HTML here (default: standard output)")
    report.set_defaults(handler=run_report)

    verify = verbs.add_parser(
        "verify-attestation", help="verify a scan attestation: signature, files, report, policy and verdict",
        epilog="exit codes: 0 valid; 1 invalid; 2 verification could not be attempted")
    verify.add_argument("attestation", metavar="ATTESTATION", help="the .intoto.jsonl file aisec scan --attest wrote")
    verify.add_argument("paths", nargs="+", metavar="PATH", help="the files and folders to check against it")
    verify.add_argument("--public-key", required=True, metavar="KEY", help="PEM public key (EC) of the signer")
    verify.add_argument("--report", metavar="SARIF", help="check this SARIF report is the one attested")
    verify.add_argument("--policy", metavar="NAME|FILE", help="check the scan ran under this policy")
    verify.add_argument("--rules", metavar="DIR", help="extra rules folder the scan used (with --policy)")
    verify.add_argument("--any-verdict", action="store_true",
                        help="accept a failing or incomplete scan (default: the attested verdict must be pass)")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=run_verify_attestation)


def run_config_show(args: argparse.Namespace) -> int:
    """``aisec config show``."""
    cli = {key: getattr(args, key) for key in FLAGS}
    cli.update(_column_flags(args))
    for key in ("fail_on", "min_severity"):
        if cli[key] is not None:
            try:
                cli[key] = Severity.parse(cli[key]).value
            except ValueError as exc:
                raise ConfigError(str(exc), source=f"command line ({FLAGS[key]})") from None
    config = resolve(cli=cli, explicit=args.config, targets=args.paths)
    if args.json:
        print(json.dumps(as_document(config), indent=2))
        return EXIT_OK
    from aisec.engine.policy import load_policy
    from aisec.paths import builtin_policies_dir

    policy = load_policy(config.value("policy") or "default", policies_dir=builtin_policies_dir())
    sys.stdout.write(describe(config, policy_fail_on=policy.fail_on.value,
                              policy_min_severity=policy.min_severity.value))
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    """``aisec report SCAN.sarif -o report.html``."""
    from aisec.report.html import render_html_from_sarif

    page = render_html_from_sarif(Path(args.sarif))
    if args.output:
        write_output(Path(args.output), page)
    else:
        sys.stdout.write(page)
    return EXIT_OK


def run_verify_attestation(args: argparse.Namespace) -> int:
    """``aisec verify-attestation``."""
    from aisec.attest import policy_digest, verify_attestation

    expected = policy_digest(args.policy, args.rules) if args.policy else None
    check = verify_attestation(args.attestation, public_key=args.public_key, paths=args.paths, report=args.report,
                               expected_policy=expected, require_pass=not args.any_verdict)
    predicate = check.statement.get("predicate", {}) if isinstance(check.statement, dict) else {}
    if args.json:
        print(json.dumps({"valid": check.ok, "problems": list(check.problems), "notes": list(check.notes),
                          "predicate": predicate}, indent=2))
    else:
        verdict = predicate.get("verdict", {}) if isinstance(predicate, dict) else {}
        summary = (f"policy {predicate.get('policy', {}).get('name')}, verdict {verdict.get('result')}, "
                   f"{len(check.statement.get('subject', []))} subjects") if predicate else ""
        print(f"{'VALID' if check.ok else 'INVALID'}: {args.attestation}" + (f" ({summary})" if summary else ""))
        for problem in check.problems:
            print(f"  problem: {problem}")
        for note in check.notes:
            print(f"  note: {note}")
    return EXIT_OK if check.ok else EXIT_FAILED
