"""The library entry point: discover artifacts, run analyzers, evaluate rules, return a ``Report``."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from aisec import __version__
from aisec.analyzers import REGISTRY, fact_catalog
from aisec.discovery import Discovered, discover, nothing_to_scan
from aisec.engine.config_cache import cached
from aisec.engine.evaluate import BoundRule, apply_suppressions, at_or_above, descriptors, findings_for, select_rules
from aisec.engine.policy import BUILTIN_POLICY_NAMES, Policy, load_policy
from aisec.engine.rules import Rule, load_rules
from aisec.errors import RuleError
from aisec.executor import Executor, InProcessExecutor, ProcessExecutor, Progress, default_jobs
from aisec.model import Artifact, ArtifactKind, Fact, Finding, Report, ScanError, Severity, SignatureStatus
from aisec.paths import builtin_policies_dir, builtin_rules_dir

if TYPE_CHECKING:
    from aisec.analysis import ArtifactResult

DATASET_KINDS = next(r.kinds for r in REGISTRY if r.name == "DatasetAnalyzer")
"""Kinds the dataset analyzer reads (shard groups are formed among these)."""


def load_configuration(policy: str | Path = "default", rules_dir: str | Path | None = None,
                       ) -> tuple[Policy, tuple[Rule, ...], tuple[BoundRule, ...]]:
    """Load the rules and the policy and bind them; raises :class:`AisecError` subclasses on any problem.

    The validated built-in rules and policy come from the configuration cache when none of their files (and
    none of aisec's code) changed since they were last validated; a user's ``rules_dir`` is always validated.
    """
    rules = builtin_rules()
    if rules_dir is not None:
        extra = load_rules(Path(rules_dir), known_facts=fact_catalog())
        clash = {r.id for r in rules} & {r.id for r in extra}
        if clash:
            raise RuleError(f"rule id(s) {sorted(clash)} already exist among the built-in rules",
                            source=str(rules_dir))
        rules = tuple(sorted(rules + extra, key=lambda r: r.id))
    loaded = cached_policy(policy)
    return loaded, rules, select_rules(rules, loaded)


def builtin_rules() -> tuple[Rule, ...]:
    """The validated built-in rules (from the configuration cache when their files are unchanged)."""
    directory = builtin_rules_dir()
    files = _yaml_files(str(directory))
    return cached("rules", f"{directory.resolve()}\n" + "\n".join(files),
                  lambda: load_rules(directory, known_facts=fact_catalog()), lambda _rules: [Path(f) for f in files])


def _yaml_files(directory: str) -> list[str]:
    """Every ``*.yaml`` file below ``directory``, as ``sorted(Path(directory).rglob("*.yaml"))`` lists them
    (per path component), from ``os.walk`` (pathlib's glob costs more than the cache lookup it keys)."""
    found = [os.path.join(root, name) for root, _dirs, names in os.walk(directory) for name in names
             if name.endswith(".yaml") and os.path.isfile(os.path.join(root, name))]
    return sorted(found, key=lambda path: path.split(os.sep))


def cached_policy(ref: str | Path) -> Policy:
    """A policy by built-in name or path (from the configuration cache when its files are unchanged).

    The entry depends on every file of the ``extends`` chain and on the signature trust files the policy
    names (they are checked when the policy loads, so a changed or deleted one means loading it again).
    """
    where = str(ref) if str(ref) in BUILTIN_POLICY_NAMES else f"{Path(ref).absolute()}\n{Path.cwd()}"
    return cached("policy", f"{builtin_policies_dir().resolve()}\n{where}",
                  lambda: _with_checked_settings(load_policy(ref, policies_dir=builtin_policies_dir())), _policy_inputs)


def _with_checked_settings(policy: Policy) -> Policy:
    """The policy, once its merged ``settings.dataset`` block is known to be valid (a bad one fails the scan
    before it starts, not per file; a cached policy was checked when it was cached)."""
    from aisec.datasets.settings import load_settings

    load_settings(policy.settings)
    return policy


def _policy_inputs(policy: Policy) -> list[Path]:
    from aisec.signing.settings import load_signature_settings

    signature = load_signature_settings(policy.settings)
    trust = [*signature.public_keys, *signature.certificate_roots, *filter(None, [signature.sigstore_trust_root])]
    return [Path(p) for p in policy.sources] + [Path(p).absolute() for p in trust]


def with_dataset_roles(policy: Policy, *, label_column: str | None = None,
                       text_columns: Sequence[str] = ()) -> Policy:
    """The policy with the dataset label/text columns set for every file (``--label-column``/``--text-column``).

    They beat the policy's file-wide columns and its per-file ``settings.dataset.roles`` entries alike (the
    command line is the most explicit choice); the policy digest covers them.
    """
    if label_column is None and not text_columns:
        return policy
    dataset: dict[str, Any] = dict(policy.settings.get("dataset") or {})
    given: dict[str, Any] = {}
    if label_column is not None:
        given["label_column"] = label_column
    if text_columns:
        given["text_columns"] = list(text_columns)
    entries = []
    for entry in dataset.get("roles") or []:
        kept = {k: v for k, v in entry.items() if k not in given} if isinstance(entry, Mapping) else entry
        if not isinstance(kept, Mapping) or set(kept) - {"glob"}:
            entries.append(kept)
    dataset.update(given, **({"roles": entries} if "roles" in dataset else {}))
    settings = MappingProxyType({**policy.settings, "dataset": dataset})
    from aisec.datasets.settings import load_settings

    load_settings(settings)
    digest = hashlib.sha256(f"{policy.digest}\ndataset roles {sorted(given.items())}".encode()).hexdigest()
    return replace(policy, settings=settings, digest=digest)


def scan(paths: Sequence[str | Path], *, policy: str | Path = "default", rules_dir: str | Path | None = None,
         today: dt.date | None = None, fail_on: Severity | None = None, min_severity: Severity | None = None,
         jobs: int | None = None, executor: Executor | None = None,
         progress: Callable[[int, int], Progress] | None = None, label_column: str | None = None,
         text_columns: Sequence[str] = (), hashes: bool = False, anonymous: bool = False) -> Report:
    """Scan files and folders under a policy and return the report. Never executes an artifact.

    ``paths`` may mix local paths and remote URIs (``s3://``, ``gs://``, ``hf://``, ``https://``), read with
    ranged requests; ``anonymous`` reads remote storage without credentials.
    ``jobs`` worker processes analyze artifacts in parallel (default: one per CPU; each file gets
    ``max_seconds_per_file``); ``jobs=0`` analyzes in this process. The report does not depend on ``jobs``.
    ``progress(files, bytes)``, when given, is called once after discovery and returns a per-artifact callback.
    ``label_column``/``text_columns`` name the dataset columns for every file (see :func:`with_dataset_roles`).
    ``hashes`` puts each file's SHA-256 (files up to ``max_hash_bytes``) in the report, computed by the
    workers; without it no file is read whole just to be hashed.
    """
    started = _now()
    loaded, _rules, bound = load_configuration(policy, rules_dir)
    loaded = with_dataset_roles(loaded, label_column=label_column, text_columns=text_columns)
    found = discover(paths, loaded.limits, anonymous=anonymous)
    kinds = DATASET_KINDS
    groups: Mapping[str, str] = {}
    if any(i.artifact.kind in kinds for i in found.items):  # the dataset modules load only when there are datasets
        from aisec.datasets.shards import group_shards

        groups = group_shards((i.artifact.path, i.artifact.kind.value) for i in found.items
                              if i.artifact.kind in kinds)
    items = tuple(replace(i, dataset_group=groups.get(i.artifact.path),
                          hash_content=hashes and i.artifact.kind is not ArtifactKind.DIRECTORY)
                  for i in found.items)
    if executor is None:
        count = default_jobs() if jobs is None else jobs
        executor = InProcessExecutor() if count == 0 else ProcessExecutor(count)
    callback = None
    if progress is not None:
        callback = progress(len(found.items), sum(item.artifact.size for item in found.items))
    results = _analyze(executor, items, bound, loaded, callback)
    findings = [f for r in results for f in r.findings]
    errors = list(found.errors) + [e for r in results for e in r.errors]
    if any(r.partials for r in results):
        # Only a scan with dataset shards pays for the dataset stack (numpy) in the parent.
        from aisec.analyzers.dataset_shards import merge_groups

        for artifact, facts, group_errors in merge_groups(results, loaded.settings):
            findings.extend(findings_for(artifact, facts, bound))
            errors.extend(group_errors)
    findings.extend(_target_error_findings(found.errors, bound))
    floor = min_severity or loaded.min_severity
    gate = fail_on or loaded.fail_on
    unsuppressed, suppressed, unused = apply_suppressions(findings, loaded.suppressions,
                                                          today=today or dt.date.today())
    # The floor filters the report only: what it hides at or above the gate still fails the gate.
    kept = at_or_above(unsuppressed, floor)
    unreported = [f for f in unsuppressed if f.severity.rank < floor.rank and f.severity.rank >= gate.rank]
    suppressed = at_or_above(suppressed, floor)
    digest = hashlib.sha256(f"{loaded.digest}\n{','.join(r.rule.id for r in bound)}".encode()).hexdigest()
    return Report(
        tool_version=__version__, policy_name=loaded.name, policy_digest=digest,
        fail_on=gate, rules=descriptors(bound),
        artifacts=tuple(r.artifact for r in results), findings=tuple(sorted(kept, key=Finding.sort_key)),
        suppressed=tuple(sorted(suppressed, key=Finding.sort_key)),
        unreported=tuple(sorted(unreported, key=Finding.sort_key)),
        errors=tuple(sorted(set(errors), key=lambda e: (e.path, e.location.sort_key(), e.reason, e.message))),
        unused_suppressions=tuple(unused), started_utc=started, finished_utc=_now(),
        notices=_role_notices(results) + (() if found.items or found.errors else (nothing_to_scan(paths),)),
        signatures=_signatures(results))


def _signatures(results: Sequence[ArtifactResult]) -> tuple[SignatureStatus, ...]:
    """The signature status of every scanned model folder (only a scan with folders loads the summariser)."""
    folders = [(r.artifact.path, r.facts) for r in results if r.artifact.kind is ArtifactKind.DIRECTORY]
    if not folders:
        return ()
    from aisec.signing.status import signature_statuses

    return signature_statuses(folders)


def _analyze(executor: Executor, items: Sequence[Discovered], rules: Sequence[BoundRule], policy: Policy,
             progress: Progress | None) -> list[ArtifactResult]:
    """Every item's result, in the order of ``items``.

    When files are hashed for the report, signed model folders are analysed after their files and get the
    files' SHA-256 from those results: the signature check then reads no file a second time (a signed folder
    is hashed once per scan).
    """
    signed = [i for i, item in enumerate(items) if _holds_signature(item, policy)] \
        if any(item.hash_content for item in items) else []
    if not signed:
        return executor.run(items, rules, policy, progress)
    later = set(signed)
    first = [i for i in range(len(items)) if i not in later]
    results = dict(zip(first, executor.run([items[i] for i in first], rules, policy, progress), strict=True))
    hashed = [(os.path.realpath(items[i].fs_path), results[i].artifact.sha256) for i in first
              if results[i].artifact.sha256 and items[i].artifact.kind is not ArtifactKind.DIRECTORY
              and items[i].remote is None]
    folders = []
    for i in signed:
        root = os.path.join(os.path.realpath(items[i].fs_path), "")
        folders.append(replace(items[i], digests=tuple(sorted((p, d) for p, d in hashed if p.startswith(root)))))
    results.update(zip(signed, executor.run(folders, rules, policy, progress), strict=True))
    return [results[i] for i in range(len(items))]


def _holds_signature(item: Discovered, policy: Policy) -> bool:
    """A model folder with a signature file of its own (which its analysis verifies by hashing its files)."""
    if item.artifact.kind is not ArtifactKind.DIRECTORY or item.remote is not None:
        return False
    from aisec.signing.settings import load_signature_settings

    names = load_signature_settings(policy.settings).file_names
    return any(os.path.isfile(os.path.join(item.fs_path, name)) for name in names)


def _role_notices(results: Sequence[ArtifactResult]) -> tuple[str, ...]:
    """The missing-dataset-column notices (only a scan that met a dataset, even inside an archive, has any)."""
    facts = [(r.artifact.path, f) for r in results for f in r.facts if f.key.startswith("dataset.")]
    if not facts:
        return ()
    from aisec.datasets import role_notice

    return role_notice.notices(facts)


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
