"""Analyze one artifact: core facts, every analyzer for its kind (and nested members), then the rules."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from aisec.analyzers import AnalysisContext, Analyzer, analyzers_for
from aisec.discovery import Discovered, sha256_of, zip_names
from aisec.engine.evaluate import BoundRule, findings_for
from aisec.engine.policy import Policy
from aisec.errors import AisecError, ArtifactError, LimitExceeded, SourceReadError
from aisec.model import Artifact, ArtifactKind, Fact, Finding, ScanError
from aisec.sniff import SNIFF_BYTES, extension_matches, sniff
from aisec.source import BytesSource, FileSource, Source


@dataclass(frozen=True, kw_only=True)
class ArtifactResult:
    """What analyzing one artifact produced: facts, findings and partial failures, as plain data."""

    artifact: Artifact
    facts: tuple[Fact, ...]
    findings: tuple[Finding, ...]
    errors: tuple[ScanError, ...]
    partials: tuple[Any, ...] = ()
    """Plain-data partial state for a merge step (dataset shards: counts, hashes, a sample)."""


def analyze_artifact(item: Discovered, rules: Sequence[BoundRule], policy: Policy) -> ArtifactResult:
    """Analyze one artifact and evaluate the rules over its facts; failures become data, never exceptions."""
    artifact = item.artifact
    hash_error = None
    if item.hash_content:
        try:
            artifact = replace(artifact, sha256=_sha256(item, policy))
        except OSError as exc:
            hash_error = f"cannot hash: {exc.strerror or exc}"
        except SourceReadError as exc:
            hash_error = f"cannot hash: {exc}"
    # A remote object has no local path: analyzers that look for siblings on disk must not find any.
    context = AnalysisContext(path=artifact.path, limits=policy.limits, settings=policy.settings,
                              nested=_analyze_nested, fs_path=None if item.remote else item.fs_path,
                              dataset_group=item.dataset_group, digests=dict(item.digests))
    facts = list(_core_facts(artifact, context))
    if hash_error is not None:
        context.error("io", hash_error)
    if artifact.size > policy.limits.max_file_bytes:
        context.error("limit", f"file is larger than max_file_bytes={policy.limits.max_file_bytes}",
                      limit="max_file_bytes")
    else:
        facts.extend(_analyze_file(item, context))
    facts.extend(context.fact("scan.incomplete", e.reason, location=e.location, message=e.message)
                 for e in context.errors)
    facts.sort(key=Fact.sort_key)
    return ArtifactResult(artifact=artifact, facts=tuple(facts), findings=tuple(findings_for(artifact, facts, rules)),
                          errors=tuple(context.errors), partials=tuple(context.partials))


def _core_facts(artifact: Artifact, context: AnalysisContext) -> Iterator[Fact]:
    yield context.fact("artifact.kind", artifact.kind.value)
    yield context.fact("artifact.size", artifact.size)
    if artifact.kind is not ArtifactKind.DIRECTORY and not extension_matches(artifact.declared_kind, artifact.kind):
        yield context.fact("artifact.extension_mismatch", artifact.declared_kind or "",
                           sniffed=artifact.kind.value, extension=PurePosixPath(artifact.path).suffix.lower())


def _analyze_file(item: Discovered, context: AnalysisContext) -> list[Fact]:
    analyzers = analyzers_for(item.artifact.kind)
    if not analyzers:
        return []
    if item.artifact.kind is ArtifactKind.DIRECTORY:
        # Folder analyzers read the folder through ``context.fs_path``; they get no bytes of their own.
        return _run(analyzers, BytesSource(b"", budget=0), context)
    if item.remote is not None:
        return _analyze_remote(item, analyzers, context)
    try:
        # Discovery only keeps symlinks whose target stays inside the scanned root; read that target.
        source = FileSource(_real(item.fs_path), budget=context.limits.max_read_bytes)
    except OSError as exc:
        context.os_error("cannot open", exc)
        return []
    with source:
        return _run(analyzers, source, context)


def _analyze_remote(item: Discovered, analyzers: Sequence[Analyzer], context: AnalysisContext) -> list[Fact]:
    from aisec.remote.source import RemoteSource  # fsspec loads only for remote objects

    assert item.remote is not None
    budget = context.limits.max_read_bytes
    if any(a.name == "dataset" for a in analyzers):
        # Datasets legitimately need every byte (a local one is streamed outside the budget too);
        # max_file_bytes and max_dataset_rows bound the work instead.
        budget = max(budget, item.remote.size)
    try:
        source = RemoteSource(item.remote, budget=budget)
    except SourceReadError as exc:
        context.error("io", str(exc))
        return []
    facts = _run(analyzers, source, context)
    # An analyzer may have swallowed the network error as a parse failure: the object is still not fully scanned.
    if source.failure and not any(e.reason == "io" and source.failure in e.message for e in context.errors):
        context.error("io", source.failure)
    return facts


def _sha256(item: Discovered, policy: Policy) -> str:
    if item.remote is not None:
        from aisec.remote.source import remote_sha256

        return remote_sha256(item.remote, policy.limits.max_hash_bytes)
    return sha256_of(_real(item.fs_path), policy.limits)


def _real(fs_path: Path) -> Path:
    return fs_path.resolve() if fs_path.is_symlink() else fs_path


def _run(analyzers: Sequence[Analyzer], source: Source, context: AnalysisContext) -> list[Fact]:
    facts: list[Fact] = []
    for analyzer in analyzers:
        name = analyzer.name
        try:
            for fact in analyzer.analyze(source, context):
                facts.append(fact)
        except LimitExceeded as exc:
            context.error("limit", f"{name}: {exc}", location=context.at(), limit=exc.limit)
        except SourceReadError as exc:
            context.error("io", f"{name}: {exc}", location=context.at())
            break  # the bytes cannot be fetched: the other analyzers would only fail the same way
        except (ArtifactError, AisecError) as exc:
            context.error("malformed", f"{name}: {exc}", location=context.at())
        except RecursionError:
            context.error("limit", f"{name}: structure nested too deeply", location=context.at(),
                          limit="max_nesting_depth")
        except MemoryError:
            context.error("limit", f"{name}: ran out of memory", location=context.at(), limit="max_read_bytes")
        except Exception as exc:
            import traceback  # only an analyzer bug pays for it

            last = traceback.extract_tb(exc.__traceback__)[-1]
            context.error("internal", f"{name}: {type(exc).__name__}: {exc} ({Path(last.filename).name}:"
                          f"{last.lineno})", location=context.at())
    return facts


def _analyze_nested(member_name: str, source: Source, context: AnalysisContext) -> Iterator[Fact]:
    head = source.head(SNIFF_BYTES)
    names: tuple[str, ...] = ()
    if head.startswith(b"PK"):
        names = zip_names(io.BytesIO(source.read_at(0, source.size)), context.limits)
    kind = sniff(head, zip_names=names, name=member_name)
    yield context.fact("artifact.member_kind", kind.value)
    yield from _run(analyzers_for(kind), source, context)


def failed_result(item: Discovered, rules: Sequence[BoundRule], *, reason: str, message: str,
                  limit: str | None = None) -> ArtifactResult:
    """The result for an artifact whose analysis was cut off (worker killed on timeout, worker crash)."""
    artifact = item.artifact
    error = ScanError(path=artifact.path, reason=reason, message=message, limit=limit)
    facts = (Fact(key="artifact.kind", value=artifact.kind.value),
             Fact(key="scan.incomplete", value=reason, detail={"message": message}))
    return ArtifactResult(artifact=artifact, facts=facts, findings=tuple(findings_for(artifact, facts, rules)),
                          errors=(error,))
