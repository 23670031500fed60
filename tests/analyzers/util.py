"""Run one analyzer over bytes or a file the way the scanner does, and collect facts and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aisec.analyzers.base import AnalysisContext, Analyzer
from aisec.errors import ArtifactError
from aisec.limits import Limits
from aisec.model import Fact, ScanError
from aisec.source import BytesSource
from tests.conftest import REPO

__all__ = ["REPO", "Result", "run"]


@dataclass
class Result:
    """Facts an analyzer yielded, the errors it recorded, and the exception it raised (if any)."""

    facts: list[Fact]
    errors: list[ScanError]
    raised: Exception | None = None
    by_key: dict[str, list[Fact]] = field(default_factory=dict)

    def values(self, key: str) -> list[Any]:
        """Values of every fact with ``key``."""
        return [f.value for f in self.facts if f.key == key]


def run(analyzer: Analyzer, data: bytes, *, limits: Limits | None = None, fs_path: Path | None = None,
        member: str | None = None) -> Result:
    """Analyze ``data``; ``ArtifactError`` is captured like the scanner records it, anything else propagates."""
    context = AnalysisContext(path="artifact", limits=limits or Limits(), fs_path=fs_path, member=member)
    source = BytesSource(data, budget=(limits or Limits()).max_read_bytes)
    facts: list[Fact] = []
    raised: Exception | None = None
    try:
        facts.extend(analyzer.analyze(source, context))
    except ArtifactError as exc:
        raised = exc
    return Result(facts=facts, errors=context.errors, raised=raised)
