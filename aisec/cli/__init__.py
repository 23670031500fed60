"""The ``aisec`` command line: one module per verb group over the library, which knows nothing of it."""

from __future__ import annotations

from aisec.cli.main import build_parser, main
from aisec.cli.output import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK

__all__ = ["EXIT_ERROR", "EXIT_FINDINGS", "EXIT_OK", "build_parser", "main"]
