"""``aisec``'s entry point: build the parser from the verb modules and turn errors into exit codes."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence

from aisec import __version__
from aisec.cli import attestation, config, dataset, report, rules, scan, signing
from aisec.cli.output import EXIT_CODES_HELP, EXIT_ERROR, SubcommandParser, Verbs, error
from aisec.errors import AisecError

EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""Standard output was closed by its reader before everything was written."""

VERB_GROUPS: tuple[Callable[[Verbs], None], ...] = (
    scan.add_verbs,
    rules.add_verbs,
    signing.add_verbs,
    config.add_verbs,
    report.add_verbs,
    attestation.add_verbs,
    dataset.add_verbs,
)
"""Every subcommand, registered by its module's ``add_verbs`` (here and nowhere else), in ``--help`` order."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()  # inside the try: a reader that went away surfaces here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except AisecError as exc:
        return error(exc.diagnostics())
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


def _reader_gone() -> int:
    """``aisec rules list | head -1``: the reader closed the pipe. Stop quietly, as Unix tools do (no traceback,
    no "incomplete scan"), and exit as a process killed by SIGPIPE would (128 + 13), never 0: output was lost."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's final flush must not raise a second BrokenPipeError
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="aisec", description="Scan ML models, datasets and signatures for security problems, without "
        "executing anything.", epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"aisec {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND", parser_class=SubcommandParser)
    for add in VERB_GROUPS:
        add(verbs)
    return parser
