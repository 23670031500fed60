"""``aisec``'s entry point: build the parser from the verb modules and turn errors into exit codes."""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aisec import __version__
from aisec.cli.output import EXIT_CODES_HELP, EXIT_ERROR, Verbs, error
from aisec.errors import AisecError

if TYPE_CHECKING:
    import argparse

EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""Standard output was closed by its reader before everything was written."""

VERB_MODULES: Mapping[str, str] = {
    "scan": "aisec.cli.scan",
    "rules": "aisec.cli.rules",
    "sign": "aisec.cli.signing",
    "verify": "aisec.cli.signing",
    "config": "aisec.cli.config",
    "report": "aisec.cli.report",
    "verify-attestation": "aisec.cli.attestation",
    "dataset": "aisec.cli.dataset",
}
"""Every subcommand and the module whose ``add_verbs`` registers it (here and nowhere else), in ``--help`` order.
A command line naming a verb imports only that verb's module (start-up); ``--help`` and errors import all."""


def verb_groups(verb: str | None = None) -> tuple[Callable[[Verbs], None], ...]:
    """The ``add_verbs`` functions to register: the module of ``verb`` when it is one, none for ``--version``
    (which prints and exits before any verb is needed), else every module."""
    if verb == "--version":
        return ()
    chosen = VERB_MODULES.get(verb or "")
    modules = [chosen] if chosen is not None else list(dict.fromkeys(VERB_MODULES.values()))
    return tuple(importlib.import_module(name).add_verbs for name in modules)


def __getattr__(name: str) -> Any:
    if name == "VERB_GROUPS":  # every group, in --help order (imports every verb module)
        return verb_groups()
    raise AttributeError(f"module 'aisec.cli.main' has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    given = list(sys.argv[1:] if argv is None else argv)
    if given == ["--version"]:  # what argparse's version action does, without importing argparse
        print(f"aisec {__version__}")
        raise SystemExit(0)
    parser = build_parser(given[0] if given else None)
    args = parser.parse_args(given)
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
        import traceback

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


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand (or, given a known ``verb``, with that one's module only)."""
    import argparse

    from aisec.cli.parser import SubcommandParser

    parser = argparse.ArgumentParser(
        prog="aisec", description="Scan ML models, datasets and signatures for security problems, without "
        "executing anything.", epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"aisec {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND", parser_class=SubcommandParser)
    for add in verb_groups(verb):
        add(verbs)
    return parser
