"""Turn an artifact's facts into findings: select and bind rules, render messages, fingerprint, suppress."""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aisec.engine.conditions import (
    BoundCondition,
    Condition,
    FactPredicate,
    Group,
    Not,
    ParamPredicate,
    ValueRef,
    bind,
    evaluate,
    glob_matches,
    needed_keys,
)
from aisec.engine.policy import Policy, SuppressionRule
from aisec.engine.rules import Rule
from aisec.errors import PolicyError
from aisec.model import NO_LOCATION, Artifact, Fact, Finding, Location, RuleDescriptor, Scalar, Severity, Suppression
from aisec.suggest import unknown_key

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_MAX_EVIDENCE_CHARS = 300


@dataclass(frozen=True, kw_only=True)
class BoundRule:
    """A rule enabled by a policy, with its severity decided and its condition compiled."""

    rule: Rule
    descriptor: RuleDescriptor
    condition: BoundCondition
    entries: tuple[tuple[str, str], ...] = ()
    """The (value, reason) entries of the policy list the rule's fact is matched against, when it is one."""
    entries_op: str = ""
    needs: frozenset[str] | None = None
    """Fact keys of which one must be present for the condition to hold (``None``: not known to need any)."""


def select_rules(rules: Sequence[Rule], policy: Policy) -> tuple[BoundRule, ...]:
    """The rules the policy enables, bound to its lists and parameters.

    Unknown rule ids in overrides or suppressions, and missing lists or params, are :class:`PolicyError`s.
    """
    ids = {r.id for r in rules}
    source = policy.sources[-1]
    for rule_id in policy.severity_overrides:
        if rule_id not in ids:
            raise PolicyError(f"severity override for unknown rule {rule_id!r}", source=source,
                              field=f"severity_overrides.{rule_id}")
    known_params = {name for rule in rules for name in _param_names(rule.condition)}
    for name in sorted(policy.params):
        if name not in known_params:
            raise PolicyError(unknown_key("parameter", name, known_params) + " (no loaded rule reads any other)",
                              source=source, field=f"params.{name}")
    for i, sup in enumerate(policy.suppressions):
        if not any(fnmatch.fnmatchcase(r, sup.rule) for r in ids):
            raise PolicyError(f"suppression names no known rule ({sup.rule!r})", source=source,
                              field=f"suppressions[{i}].rule")
    bound = []
    for rule in rules:
        if not _enabled(rule, policy):
            continue
        severity = policy.severity_overrides.get(rule.id, rule.descriptor.severity)
        descriptor = replace(rule.descriptor, severity=severity)
        entries, entries_op = _list_entries(rule, policy)
        condition = _bind(rule, policy)
        bound.append(BoundRule(rule=rule, descriptor=descriptor, condition=condition, entries=entries,
                               entries_op=entries_op, needs=needed_keys(condition)))
    return tuple(bound)


def _param_names(condition: Condition) -> Iterator[str]:
    """Every policy parameter a condition reads (``param:`` predicates and ``value_from: params.NAME``)."""
    if isinstance(condition, (Group, Not)):
        for child in (condition.children if isinstance(condition, Group) else (condition.child,)):
            yield from _param_names(child)
        return
    checks = (condition.check, *condition.unless) if isinstance(condition, FactPredicate) else (condition.check,)
    if isinstance(condition, ParamPredicate):
        yield condition.param
    yield from (c.ref.name for c in checks if c.ref is not None and c.ref.namespace == "params")


def _list_entries(rule: Rule, policy: Policy) -> tuple[tuple[tuple[str, str], ...], str]:
    """A rule whose condition is one fact matched against a policy list (glob/in): that list's entries.

    Findings then name the entry (and its reason) that matched, so a reader sees which line of the policy
    allowed or denied what.
    """
    condition = rule.condition
    if not isinstance(condition, FactPredicate) or condition.check.field is not None:
        return (), ""
    ref = condition.check.ref
    if ref is None or ref.namespace != "lists" or condition.check.op not in ("glob", "in") or \
            ref.name not in policy.lists:
        return (), ""
    return tuple((str(v), str(r)) for v, r in policy.lists[ref.name]), condition.check.op


def _matched_entry(bound: BoundRule, value: Scalar) -> tuple[str, str] | None:
    text = str(value)
    for entry, reason in bound.entries:
        if (bound.entries_op == "glob" and glob_matches(text, entry)) or \
                (bound.entries_op == "in" and text == entry):
            return entry, reason
    return None



def _enabled(rule: Rule, policy: Policy) -> bool:
    sel = policy.selection
    if any(fnmatch.fnmatchcase(rule.id, p) for p in sel.exclude):
        return False
    return any(fnmatch.fnmatchcase(rule.id, p) for p in sel.include) or \
        any(tag in rule.descriptor.tags for tag in sel.tags)


def _bind(rule: Rule, policy: Policy) -> BoundCondition:
    def resolve(ref: ValueRef) -> Any:
        if ref.namespace == "lists":
            if ref.name not in policy.lists:
                raise PolicyError(f"rule {rule.id} needs list {ref.name!r}, which policy {policy.name!r} "
                                  f"does not define", source=policy.sources[-1], field=f"lists.{ref.name}")
            return policy.list_values(ref.name)
        if ref.name not in policy.params:
            raise PolicyError(f"rule {rule.id} needs parameter {ref.name!r}, which policy {policy.name!r} "
                              f"does not define", source=policy.sources[-1], field=f"params.{ref.name}")
        return policy.params[ref.name]

    try:
        return bind(rule.condition, resolve, policy.params)
    except ValueError as exc:
        raise PolicyError(f"a policy value does not fit rule {rule.id}: {exc}", source=policy.sources[-1],
                          rule_id=rule.id) from None


def findings_for(artifact: Artifact, facts: Iterable[Fact], rules: Sequence[BoundRule]) -> list[Finding]:
    """Evaluate every applicable rule over one artifact's facts."""
    by_key: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        by_key[fact.key].append(fact)
    findings: list[Finding] = []
    for bound in rules:
        applies = bound.rule.applies_to
        if applies is not None and artifact.kind not in applies:
            continue
        if bound.needs is not None and bound.needs.isdisjoint(by_key):
            continue  # none of the facts it needs: it cannot hold (the same verdict, without evaluating it)
        held, witnesses = evaluate(bound.condition, by_key)
        if held:
            findings.extend(_findings(artifact, bound, witnesses))
    return findings


def _findings(artifact: Artifact, bound: BoundRule, witnesses: list[Fact]) -> list[Finding]:
    key = bound.rule.evidence_key
    chosen: dict[tuple[str, Location], Fact] = {}
    for fact in witnesses:
        if fact.key == key:
            chosen.setdefault((repr(fact.value), fact.location), fact)
    if not chosen:
        return [_finding(artifact, bound, None)]
    return [_finding(artifact, bound, fact) for fact in chosen.values()]


def _finding(artifact: Artifact, bound: BoundRule, fact: Fact | None) -> Finding:
    location = fact.location if fact is not None else None
    path = (location.path if location is not None and location.path else artifact.path)
    matched = _matched_entry(bound, fact.value) if fact is not None and bound.entries else None
    if fact is not None and matched is not None:
        fact = replace(fact, detail={**fact.detail, "list_entry": matched[0], "list_reason": matched[1]})
    evidence: dict[str, Scalar] = {}
    if fact is not None:
        evidence = {"fact": fact.key, "value": _clip(fact.value), **{k: _clip(v) for k, v in fact.detail.items()}}
    loc = location or NO_LOCATION
    fingerprint = fingerprint_of(bound.rule.id, path, loc.member, loc.pointer,
                                 f"{fact.key}={fact.value!r}" if fact is not None else "", loc.line)
    return Finding(rule_id=bound.rule.id, severity=bound.descriptor.severity,
                   confidence=bound.descriptor.confidence,
                   message=render_message(bound.rule.message, artifact=artifact, path=path, fact=fact),
                   path=path, location=loc, evidence=evidence, fingerprint=fingerprint,
                   related_locations=fact.related if fact is not None else ())


def _clip(value: Scalar) -> Scalar:
    if isinstance(value, str) and len(value) > _MAX_EVIDENCE_CHARS:
        return value[:_MAX_EVIDENCE_CHARS] + "…"
    return value


def fingerprint_of(rule_id: str, path: str, member: str | None, pointer: str | None, evidence: str,
                   line: int | None) -> str:
    """Stable identity of a finding: never timestamps, absolute paths or raw bytes."""
    text = "\x1f".join([rule_id, path, member or "", pointer or "", evidence, str(line or "")])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def render_message(template: str, *, artifact: Artifact, path: str, fact: Fact | None) -> str:
    """Fill ``{value}``, ``{path}``, ``{member}``, ``{detail.X}`` … (validated at rule load)."""
    values: dict[str, str] = {"path": path, "kind": artifact.kind.value}
    if fact is not None:
        values.update(value=str(_clip(fact.value)), fact=fact.key, member=fact.location.member or "",
                      line=str(fact.location.line or ""), pointer=fact.location.pointer or "")
        values.update({f"detail.{k}": str(_clip(v)) for k, v in fact.detail.items()})

    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1), "?")
    return _PLACEHOLDER.sub(fill, template)


def apply_suppressions(findings: Sequence[Finding], suppressions: Sequence[SuppressionRule], *,
                       today: dt.date) -> tuple[list[Finding], list[Finding], list[str]]:
    """Split findings into (kept, suppressed); also list suppressions that matched nothing.

    An expired suppression no longer hides anything, so its findings come back.
    """
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    used: set[int] = set()
    for finding in findings:
        match = _matching(finding, suppressions, today)
        if match is None:
            kept.append(finding)
            continue
        used.add(match)
        sup = suppressions[match]
        suppressed.append(replace(finding, suppression=Suppression(
            justification=sup.justification, expires=sup.expires.isoformat() if sup.expires else None)))
    unused = [s.describe() for i, s in enumerate(suppressions) if i not in used]
    return kept, suppressed, unused


def _matching(finding: Finding, suppressions: Sequence[SuppressionRule], today: dt.date) -> int | None:
    for i, sup in enumerate(suppressions):
        if sup.expires is not None and sup.expires < today:
            continue
        if not fnmatch.fnmatchcase(finding.rule_id, sup.rule):
            continue
        if sup.path is not None and not _path_matches(finding.path, sup.path):
            continue
        if sup.fingerprint is not None and not finding.fingerprint.startswith(sup.fingerprint):
            continue
        return i
    return None


def _path_matches(path: str, pattern: str) -> bool:
    if pattern.endswith("/**"):
        prefix = pattern[:-3]
        return path == prefix or path.startswith(prefix + "/")
    return fnmatch.fnmatchcase(path, pattern)


def at_or_above(findings: Iterable[Finding], floor: Severity) -> list[Finding]:
    """Findings whose severity is at least ``floor``."""
    return [f for f in findings if f.severity.rank >= floor.rank]


def descriptors(rules: Sequence[BoundRule]) -> tuple[RuleDescriptor, ...]:
    """The enabled rules' descriptors, sorted by id."""
    return tuple(sorted((b.descriptor for b in rules), key=lambda d: d.id))


__all__ = ["BoundRule", "apply_suppressions", "at_or_above", "descriptors", "findings_for",
           "fingerprint_of", "render_message", "select_rules"]
