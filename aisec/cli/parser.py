"""The subcommand parser class (its own module: argparse loads when a parser is built, not for ``--version``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


class SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an unknown option is its own error, shown with its own usage.

    Plain argparse hands a subcommand's leftovers up to the top parser, which prints ``usage: aisec [-h]
    [--version] COMMAND ...`` - the one usage that does not help.
    """

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        """Parse; any argument left over is an error of this parser."""
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras
