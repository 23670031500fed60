"""``aisec scan``: options, configuration (flag > AISEC_* > project file > default), baseline, attestation, gate."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from aisec.cli.options import add_column_options, column_flags, jobs, severity
from aisec.cli.output import (
    EXIT_CODES_HELP,
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    Verbs,
    check_writable,
    notice,
    write_output,
)
from aisec.errors import ConfigError
from aisec.model import Report, Severity
from aisec.report import OutputFormat, render

if TYPE_CHECKING:
    from aisec.baseline import BaselineResult
    from aisec.config import EffectiveConfig
    from aisec.executor import Executor
    from aisec.progress import ProgressLine

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


def add_verbs(verbs: Verbs) -> None:
    """Register ``aisec scan``."""
    scan = verbs.add_parser("scan", help="scan files and folders", epilog=EXIT_CODES_HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    scan.add_argument("paths", nargs="+", metavar="PATH",
                      help="files or folders to scan, or remote URIs (s3://, gs://, hf://org/repo[@rev], https://)")
    scan.add_argument("--policy", metavar="NAME|FILE",
                      help="built-in policy (default, strict, audit) or a policy file (default: default); flags beat "
                           "AISEC_* variables, which beat the project file (see aisec config show)")
    scan.add_argument("--rules", metavar="DIR", help="a folder of extra rules to load beside the built-in ones")
    scan.add_argument("-f", "--format", choices=[f.value for f in OutputFormat],
                      help="report format for -o (or standard output); default text")
    scan.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of standard output")
    scan.add_argument("--sarif", metavar="FILE", help="also write a SARIF report to FILE")
    scan.add_argument("--json", metavar="FILE", dest="json_file", help="also write a JSON report to FILE")
    scan.add_argument("--cyclonedx", metavar="FILE", dest="cyclonedx_file",
                      help="also write a CycloneDX 1.6 ML-BOM (JSON) to FILE: models, datasets and signatures as "
                           "components, findings as vulnerabilities (needs aisec[sbom])")
    scan.add_argument("--fail-on", metavar="SEVERITY", type=severity,
                      help="lowest severity that fails the gate (default: the policy's fail_on)")
    scan.add_argument("--min-severity", metavar="SEVERITY", type=severity,
                      help="lowest severity to report (default: the policy's min_severity)")
    scan.add_argument("-j", "--jobs", type=jobs, metavar="N",
                      help="worker processes (default and most: one per CPU; 0 analyzes in-process without the "
                           "per-file time budget)")
    scan.add_argument("--executor", choices=["process", "dask"],
                      help="where files are analysed: worker processes here (process, the default) or tasks on a "
                           "Dask cluster (dask; needs aisec[distributed])")
    scan.add_argument("--scheduler", metavar="ADDRESS",
                      help="with --executor dask: the scheduler, e.g. tcp://HOST:8786 (default: $AISEC_DASK_SCHEDULER; "
                           "without either, a local cluster of --jobs workers)")
    scan.add_argument("-q", "--quiet", action="store_true", help="no progress line on the terminal")
    scan.add_argument("--hashes", action="store_true",
                      help="put each file's SHA-256 in the report (files up to max_hash_bytes; always done with "
                           "--attest); without it no file is read whole just to be hashed")
    scan.add_argument("--anonymous", action="store_true",
                      help="read remote URIs without credentials (public buckets and repositories)")
    scan.add_argument("--no-color", action="store_true", help="never colour the text report")
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
    scan.set_defaults(handler=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    """``aisec scan``."""
    from aisec.progress import ProgressLine
    from aisec.scan import scan

    settings = prepare_scan(args)

    lines: list[ProgressLine] = []

    def progress(files: int, size: int) -> ProgressLine:
        lines.append(ProgressLine(total_files=files, total_bytes=size))
        return lines[-1]

    show = sys.stderr.isatty() and not args.quiet
    executor = chosen_executor(args)
    try:
        report = scan(args.paths, policy=settings.policy, rules_dir=settings.rules, fail_on=settings.fail_on,
                      min_severity=settings.min_severity, jobs=worker_count(args.jobs),
                      executor=executor,
                      progress=progress if show else None,
                      label_column=settings.label_column, text_columns=settings.text_columns,
                      hashes=args.hashes or settings.attestation is not None, anonymous=args.anonymous)
    finally:
        for line in lines:
            line.close()
        close = getattr(executor, "close", None)
        if close is not None:
            close()  # a Dask executor's connection (and a local cluster it started)
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
    if args.cyclonedx_file:
        write_output(Path(args.cyclonedx_file), render(report, OutputFormat.CYCLONEDX))
    publish_scan(report, args, settings)
    return exit_code(report)


def worker_count(requested: int | None) -> int | None:
    """``--jobs N`` capped at the CPUs this process may use, with a notice: workers beyond them only add start-up
    and memory (``--jobs 1000`` ran 9x slower than one per CPU on 20,000 small files)."""
    from aisec.executor import default_jobs

    cpus = default_jobs()
    if requested is None or requested <= cpus:
        return requested
    notice(f"--jobs {requested} is more than the {cpus} CPU(s) this process may use; running {cpus} workers")
    return cpus


def chosen_executor(args: argparse.Namespace) -> Executor | None:
    """The Dask executor when ``--executor dask`` is asked for; ``None`` keeps the process pool."""
    if args.executor != "dask":
        if args.scheduler:
            raise ConfigError("--scheduler needs --executor dask")
        return None
    from aisec.executor import default_jobs
    from aisec.executors.dask_executor import SCHEDULER_ENV, DaskExecutor

    scheduler = args.scheduler or os.environ.get(SCHEDULER_ENV) or None
    return DaskExecutor(scheduler=scheduler, workers=worker_count(args.jobs) or default_jobs())


def exit_code(report: Report) -> int:
    """The gate's verdict: an untrustworthy scan (2) outranks findings (1), which outrank a pass (0)."""
    if not report.trustworthy:
        return EXIT_ERROR
    return EXIT_FINDINGS if report.gate_findings else EXIT_OK


def prepare_scan(args: argparse.Namespace) -> ScanSettings:
    """Resolve the effective settings (flag > AISEC_* > project file > default) and check the options."""
    from aisec.config import resolve

    cli = {"policy": args.policy, "rules": args.rules, "format": args.format,
           "fail_on": args.fail_on.value if args.fail_on else None,
           "min_severity": args.min_severity.value if args.min_severity else None, **column_flags(args)}
    for flag, value in (("-o", args.output), ("--sarif", args.sarif), ("--json", args.json_file),
                        ("--cyclonedx", args.cyclonedx_file),
                        ("--write-baseline", args.write_baseline), ("--attestation", args.attestation)):
        if value:
            check_writable(Path(value), flag)
    config = resolve(cli=cli, explicit=args.config, targets=args.paths)
    fmt = OutputFormat(config.value("format"))
    if fmt is OutputFormat.CYCLONEDX or args.cyclonedx_file:
        _check_sbom_output()
    if fmt is not OutputFormat.TEXT:
        for message in config.notices:
            notice(message)
    sarif_path = Path(args.sarif) if args.sarif else (
        Path(args.output) if args.output and fmt is OutputFormat.SARIF else None)
    attestation = None
    if args.attest:
        if sarif_path is None:
            raise ConfigError("--attest needs a SARIF report to attest: add --sarif FILE (or -f sarif -o FILE)")
        attestation = Path(args.attestation) if args.attestation else Path(f"{sarif_path}.intoto.jsonl")
        check_writable(attestation, "--attestation")
        from aisec.attest import load_private_key

        load_private_key(args.attest, _key_password())  # fail before a long scan, not after it
    elif args.attestation:
        raise ConfigError("--attestation FILE needs --attest KEY")
    if args.gate_all and not args.baseline:
        raise ConfigError("--gate-all only makes sense with --baseline")
    return ScanSettings(config=config, policy=config.value("policy") or "default", rules=config.value("rules"),
                        fail_on=config.severity("fail_on"), min_severity=config.severity("min_severity"),
                        format=fmt, baseline=_load_baseline(args.baseline) if args.baseline else None,
                        gate_all=args.gate_all,
                        sarif_path=sarif_path, attestation=attestation,
                        label_column=config.value("label_column"), text_columns=config.columns("text_columns"))


def _check_sbom_output() -> None:
    """Fail before a long scan, not after it, when the CycloneDX library (``aisec[sbom]``) is missing."""
    from aisec.report.cyclonedx import missing_library

    problem = missing_library()
    if problem is not None:
        raise ConfigError(problem)


def _load_baseline(path: str) -> tuple[BaselineResult, ...]:
    from aisec.baseline import load_baseline  # only a run with --baseline reads one

    return load_baseline(path)


def finish_scan(report: Report, settings: ScanSettings) -> Report:
    """Add the configuration notices and, with a baseline, the baseline states and the narrowed gate."""
    report = replace(report, notices=report.notices + settings.config.notices)
    if settings.baseline is None:
        return report
    from aisec.baseline import apply_baseline
    from aisec.engine.policy import load_policy
    from aisec.paths import builtin_policies_dir

    floor = settings.min_severity or load_policy(settings.policy, policies_dir=builtin_policies_dir()).min_severity
    return apply_baseline(report, settings.baseline, gate_all=settings.gate_all, floor=floor)


def publish_scan(report: Report, args: argparse.Namespace, settings: ScanSettings) -> None:
    """After the reports are written: the baseline file and the signed attestation, when asked for."""
    if args.write_baseline:
        from aisec.baseline import baseline_report

        write_output(Path(args.write_baseline), render(baseline_report(report), OutputFormat.SARIF))
    if settings.attestation is not None and settings.sarif_path is not None:
        from aisec.attest import write_attestation

        write_attestation(report, targets=args.paths, sarif_path=settings.sarif_path, key_path=args.attest,
                          out_path=settings.attestation, password=_key_password(),
                          outputs=[Path(p) for p in (args.output, args.json_file, args.cyclonedx_file,
                                                     args.write_baseline) if p])
        print(f"aisec: attestation written to {settings.attestation}", file=sys.stderr)


def _key_password() -> bytes | None:
    password = os.environ.get(KEY_PASSWORD_ENV)
    return password.encode() if password else None
