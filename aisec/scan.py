"""The library entry point: discover artifacts, run analyzers, evaluate rules, return a ``Report``."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aisec import __version__
from aisec.analyzers import AnalysisContext, Analyzer, analyzers_for, fact_catalog
from aisec.discovery import Discovered, discover, zip_names
from aisec.engine.evaluate import BoundRule, apply_suppressions, at_or_above, descriptors, findings_for, select_rules
from aisec.engine.policy import Policy, load_policy
from aisec.engine.rules import Rule, load_rules
from aisec.errors import AisecError, ArtifactError, LimitExceeded, RuleError
from aisec.model import Artifact, ArtifactKind, Fact, Finding, Report, ScanError, Severity
from aisec.paths import builtin_policies_dir, builtin_rules_dir
from aisec.sniff import SNIFF_BYTES, extension_matches, sniff
from aisec.source import BytesSource, FileSource, Source


@dataclass(frozen=True, kw_only=True)
class ArtifactResult:
    """What analyzing one artifact produced: facts, findings and partial failures, as plain data."""

    artifact: Artifact
    facts: tuple[Fact, ...]
    findings: tuple[Finding, ...]
    errors: tuple[ScanError, ...]


def load_configuration(policy: str | Path = "default", rules_dir: str | Path | None = None,
                       ) -> tuple[Policy, tuple[Rule, ...], tuple[BoundRule, ...]]:
    """Load the rules and the policy and bind them; raises :class:`AisecError` subclasses on any problem."""
    catalog = fact_catalog()
    rules = load_rules(builtin_rules_dir(), known_facts=catalog)
    if rules_dir is not None:
        extra = load_rules(Path(rules_dir), known_facts=catalog)
        clash = {r.id for r in rules} & {r.id for r in extra}
        if clash:
            raise RuleError(f"rule id(s) {sorted(clash)} already exist among the built-in rules",
                            source=str(rules_dir))
        rules = tuple(sorted(rules + extra, key=lambda r: r.id))
    loaded = load_policy(policy, policies_dir=builtin_policies_dir())
    return loaded, rules, select_rules(rules, loaded)


def scan(paths: Sequence[str | Path], *, policy: str | Path = "default", rules_dir: str | Path | None = None,
         today: dt.date | None = None, fail_on: Severity | None = None,
         min_severity: Severity | None = None) -> Report:
    """Scan files and folders under a policy and return the report. Never executes an artifact."""
    started = _now()
    loaded, _rules, bound = load_configuration(policy, rules_dir)
    found = discover(paths, loaded.limits)
    results = [analyze_artifact(item, bound, loaded) for item in found.items]
    findings = [f for r in results for f in r.findings]
    errors = list(found.errors) + [e for r in results for e in r.errors]
    findings.extend(_target_error_findings(found.errors, bound))
    floor = min_severity or loaded.min_severity
    kept, suppressed, unused = apply_suppressions(at_or_above(findings, floor), loaded.suppressions,
                                                  today=today or dt.date.today())
    digest = hashlib.sha256(f"{loaded.digest}\n{','.join(r.rule.id for r in bound)}".encode()).hexdigest()
    return Report(
        tool_version=__version__, policy_name=loaded.name, policy_digest=digest,
        fail_on=fail_on or loaded.fail_on, rules=descriptors(bound),
        artifacts=tuple(r.artifact for r in results), findings=tuple(sorted(kept, key=Finding.sort_key)),
        suppressed=tuple(sorted(suppressed, key=Finding.sort_key)),
        errors=tuple(sorted(set(errors), key=lambda e: (e.path, e.location.sort_key(), e.reason, e.message))),
        unused_suppressions=tuple(unused), started_utc=started, finished_utc=_now())


def analyze_artifact(item: Discovered, rules: Sequence[BoundRule], policy: Policy) -> ArtifactResult:
    """Analyze one artifact and evaluate the rules over its facts; failures become data, never exceptions."""
    artifact = item.artifact
    context = AnalysisContext(path=artifact.path, limits=policy.limits, settings=policy.settings,
                              nested=_analyze_nested, fs_path=item.fs_path)
    facts = list(_core_facts(artifact, context))
    if artifact.size > policy.limits.max_file_bytes:
        context.error("limit", f"file is larger than max_file_bytes={policy.limits.max_file_bytes}",
                      limit="max_file_bytes")
    else:
        facts.extend(_analyze_file(item, context))
    facts.extend(context.fact("scan.incomplete", e.reason, location=e.location, message=e.message)
                 for e in context.errors)
    facts.sort(key=Fact.sort_key)
    return ArtifactResult(artifact=artifact, facts=tuple(facts), findings=tuple(findings_for(artifact, facts, rules)),
                          errors=tuple(context.errors))


def _core_facts(artifact: Artifact, context: AnalysisContext) -> Iterator[Fact]:
    yield context.fact("artifact.kind", artifact.kind.value)
    yield context.fact("artifact.size", artifact.size)
    if artifact.kind is not ArtifactKind.DIRECTORY and not extension_matches(artifact.declared_kind, artifact.kind):
        yield context.fact("artifact.extension_mismatch", artifact.declared_kind or "",
                           sniffed=artifact.kind.value)


def _analyze_file(item: Discovered, context: AnalysisContext) -> list[Fact]:
    analyzers = analyzers_for(item.artifact.kind)
    if not analyzers:
        return []
    if item.artifact.kind is ArtifactKind.DIRECTORY:
        # Folder analyzers read the folder through ``context.fs_path``; they get no bytes of their own.
        return _run(analyzers, BytesSource(b"", budget=0), context)
    try:
        source = FileSource(item.fs_path, budget=context.limits.max_read_bytes)
    except OSError as exc:
        context.error("io", f"cannot open: {exc.strerror or exc}")
        return []
    with source:
        return _run(analyzers, source, context)


def _run(analyzers: Sequence[Analyzer], source: Source, context: AnalysisContext) -> list[Fact]:
    facts: list[Fact] = []
    for analyzer in analyzers:
        name = analyzer.name
        try:
            for fact in analyzer.analyze(source, context):
                facts.append(fact)
        except LimitExceeded as exc:
            context.error("limit", f"{name}: {exc}", location=context.at(), limit=exc.limit)
        except (ArtifactError, AisecError) as exc:
            context.error("malformed", f"{name}: {exc}", location=context.at())
        except RecursionError:
            context.error("limit", f"{name}: structure nested too deeply", location=context.at(),
                          limit="max_nesting_depth")
        except MemoryError:
            context.error("limit", f"{name}: ran out of memory", location=context.at(), limit="max_read_bytes")
        except Exception as exc:
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


def _target_error_findings(errors: Sequence[ScanError], rules: Sequence[BoundRule]) -> list[Finding]:
    """Targets that could not be read at all still produce a finding of the could-not-scan rule."""
    out: list[Finding] = []
    for error in errors:
        artifact = Artifact(path=error.path, kind=ArtifactKind.BINARY, size=0, sha256="")
        facts = [Fact(key="scan.incomplete", value=error.reason, location=error.location,
                      detail={"message": error.message})]
        out.extend(findings_for(artifact, facts, rules))
    return out


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
