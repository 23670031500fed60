"""What every verb shares: exit codes, error lines, the output stream and writing a report file."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO, TypeAlias

from aisec.errors import AisecError

if TYPE_CHECKING:  # argparse and pathlib load with the parser, not for ``aisec --version``
    import argparse
    from pathlib import Path

    from aisec.cli.parser import SubcommandParser

EXIT_OK = 0
"""Nothing at or above the fail-on severity, and everything was scanned (verify: the signature is valid)."""
EXIT_FINDINGS = 1
"""Findings at or above the fail-on severity (verify: invalid; dataset check: changed)."""
EXIT_ERROR = 2
"""The result cannot be trusted: bad policy or rules, path not found, nothing scanned, or an artifact that
could not be fully scanned. Findings found elsewhere are still reported."""

EXIT_CODES_HELP = """exit codes:
  0  nothing at or above the fail-on severity; every artifact fully scanned
  1  findings at or above the fail-on severity
  2  the scan cannot be trusted: invalid rules or policy, a path not found, nothing scanned,
     or an artifact that could not be fully scanned (findings are still reported)
"""



Verbs: TypeAlias = "argparse._SubParsersAction[SubcommandParser]"
"""What ``add_subparsers()`` returns: each verb module adds its parsers to it."""


def error(message: str) -> int:
    """Print ``aisec: error: message`` on standard error; return the exit code for "not attempted" (2)."""
    print(f"aisec: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def notice(message: str) -> None:
    """Print ``aisec: notice: message`` on standard error."""
    print(f"aisec: notice: {message}", file=sys.stderr)


def stdout(args: argparse.Namespace) -> TextIO:
    """Where a verb prints its result: ``args.stdout`` when a caller set one (tests), else standard output."""
    stream: TextIO = getattr(args, "stdout", None) or sys.stdout
    return stream


def check_writable(path: Path, flag: str) -> None:
    """Fail before any work when a report could not be written to ``path`` (its folder is missing, a folder
    is in the way, or permission is lacking), instead of after a long scan; nothing is created here."""
    where = f"{flag} {path}"
    if path.is_dir():
        raise AisecError(f"{where}: is a folder; give a file name")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise AisecError(f"{where}: cannot write: folder {folder} does not exist")
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise AisecError(f"{where}: cannot write: permission denied")


def write_output(path: Path, text: str) -> None:
    """Write a report only where the user asked; an unwritable path is an ``AisecError`` (exit 2)."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AisecError(f"cannot write {path}: {exc.strerror or exc}") from None
