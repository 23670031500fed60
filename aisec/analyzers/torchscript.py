"""TorchScript source scanning: which operators and builtins the archive's ``code/`` calls (cheap regexes)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from aisec.analyzers.base import AnalysisContext
from aisec.model import Fact

_OP = re.compile(r"\b(torch\.ops\.[A-Za-z_]\w*\.[A-Za-z_]\w*|torch\.(?:classes\.)?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
                 r"|ops\.[A-Za-z_]\w*\.[A-Za-z_]\w*)\s*\(")
MAX_OPS = 500
"""Most distinct operator names reported per source member."""


def scan_code(data: bytes, context: AnalysisContext) -> Iterator[Fact]:
    """Yield one ``torchscript.op`` fact per distinct call target, at its first line."""
    text = data.decode("utf-8", "replace")
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        for match in _OP.finditer(line):
            name = match.group(1)
            if name.startswith("ops."):
                name = "torch." + name
            if name in seen or len(seen) >= MAX_OPS:
                continue
            seen.add(name)
            yield context.fact("torchscript.op", name, location=context.at(line=lineno,
                                                                            column=match.start(1) + 1))
