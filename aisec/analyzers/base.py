"""The analyzer interface: turn an artifact's bytes into facts, without executing anything."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from aisec.errors import ArtifactError
from aisec.limits import Limits
from aisec.model import NO_LOCATION, ArtifactKind, Fact, Location, Scalar, ScanError
from aisec.source import Source


class AnalyzerError(ArtifactError):
    """Base for errors analyzers raise about malformed input; the scan records them as scan errors."""


NestedAnalysis = Callable[[str, Source, "AnalysisContext"], Iterator[Fact]]


@dataclass(frozen=True, kw_only=True)
class AnalysisContext:
    """What an analyzer may use besides the bytes: limits, settings, and nested analysis of members."""

    path: str
    """Repo-relative path of the outermost artifact."""
    limits: Limits
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The policy's ``settings`` block (analyzer options such as signature trust), read-only."""
    member: str | None = None
    """Member chain of the source being analyzed, ``None`` for the file itself."""
    depth: int = 0
    """Nesting depth (0 for the file itself)."""
    errors: list[ScanError] = field(default_factory=list)
    """Where partial failures are recorded (shared by nested contexts)."""
    nested: NestedAnalysis | None = None
    """Set by the scanner: analyze a member's bytes with every analyzer for its kind."""
    fs_path: Any = None
    """The artifact's filesystem path (a ``pathlib.Path``) for analyzers that need siblings; may be None."""
    dataset_group: str | None = None
    """The shard group of a dataset file: cross-row analysis is deferred to the group's merge step."""
    partials: list[Any] = field(default_factory=list)
    """Plain-data partial state an analyzer leaves for a merge step (one per shard of a dataset group)."""
    digests: Mapping[str, str] = field(default_factory=dict)
    """SHA-256 (hex) by real path of files this scan already hashed (a model folder's files, for its signature)."""

    def at(self, **fields: Any) -> Location:
        """A location in the current source (member chain filled in)."""
        return Location(member=self.member, **fields)

    def fact(self, key: str, value: Scalar, *, location: Location | None = None,
             **detail: Scalar) -> Fact:
        """Build a fact located in the current source."""
        loc = location if location is not None else self.at()
        if loc.member is None and self.member is not None:
            loc = replace(loc, member=self.member)
        return Fact(key=key, value=value, location=loc, detail=detail)

    def error(self, reason: str, message: str, *, location: Location = NO_LOCATION,
              limit: str | None = None) -> None:
        """Record that part of the artifact could not be analyzed."""
        loc = location if location.member or self.member is None else replace(location, member=self.member)
        self.errors.append(ScanError(path=self.path, reason=reason, message=message, location=loc,
                                     limit=limit))

    def os_error(self, what: str, exc: OSError, *, location: Location = NO_LOCATION) -> None:
        """Record a failed read; out of memory under the worker's address-space cap is a limit, not an I/O fault."""
        if exc.errno == errno.ENOMEM:
            self.error("limit", f"{what}: out of memory ({exc.strerror or exc})", location=location,
                       limit="max_worker_memory_bytes")
        else:
            self.error("io", f"{what}: {exc.strerror or exc}", location=location)

    def child(self, member_name: str) -> AnalysisContext:
        """A context for a member of the current source."""
        chain = f"{self.member}!/{member_name}" if self.member else member_name
        return replace(self, member=chain, depth=self.depth + 1)

    def analyze_member(self, member_name: str, source: Source) -> Iterator[Fact]:
        """Run every analyzer that fits the member's content; respects ``max_nesting_depth``."""
        child = self.child(member_name)
        if child.depth > self.limits.max_nesting_depth:
            child.error("limit", f"member nested deeper than max_nesting_depth={self.limits.max_nesting_depth}",
                        location=child.at(), limit="max_nesting_depth")
            return iter(())
        if self.nested is None:
            return iter(())
        return self.nested(member_name, source, child)


class Analyzer(Protocol):
    """Reads one artifact's bytes and yields facts. Never imports, loads or executes the artifact."""

    name: str
    """Short stable name (``pickle``, ``safetensors``)."""
    kinds: frozenset[ArtifactKind]
    """Artifact kinds this analyzer applies to."""
    provides: Mapping[str, str]
    """Fact keys this analyzer can emit, each with a one-line description (the fact catalog)."""

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Yield facts; raise :class:`ArtifactError` (or a subclass) for input that cannot be analyzed.

        Facts yielded before an exception are kept, so a dangerous call before a truncation is still reported.
        """
        ...
