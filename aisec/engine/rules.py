"""Rules: one YAML file each, validated at load time into frozen ``Rule`` objects."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aisec.engine.conditions import Condition, ConditionSyntaxError, fact_keys, parse_condition
from aisec.errors import RuleError
from aisec.model import ArtifactKind, Confidence, RuleDescriptor, Severity

if TYPE_CHECKING:
    from aisec.engine.rule_schema import _RuleSpec

INFORMATION_URI = "https://github.com/aisec-dev/aisec"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TEMPLATE_NAMES = frozenset({"value", "path", "member", "line", "fact", "kind", "pointer"})


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A validated rule: metadata, the kinds it applies to, and its condition tree."""

    descriptor: RuleDescriptor
    applies_to: frozenset[ArtifactKind] | None
    """``None`` means every kind."""
    condition: Condition
    evidence_key: str | None
    """Fact key whose witnesses become one finding each (default: the first fact in ``when``)."""
    message: str
    source: str

    @property
    def id(self) -> str:
        """The rule id."""
        return self.descriptor.id


def parse_rule(raw: Any, *, source: str, known_facts: Mapping[str, str]) -> Rule:
    """Validate one rule document; every problem is a :class:`RuleError` naming file, rule and field."""
    rule_id = raw.get("id") if isinstance(raw, Mapping) and isinstance(raw.get("id"), str) else None
    if not isinstance(raw, Mapping):
        raise RuleError("a rule file must hold one YAML mapping", source=source)
    # pydantic (and YAML) are imported only when rules are validated, not when cached rules are reused.
    from pydantic import ValidationError

    from aisec.engine.rule_schema import _RuleSpec
    from aisec.engine.yamlio import first_validation_problem

    try:
        spec = _RuleSpec.model_validate(dict(raw))
    except ValidationError as exc:
        field, message = first_validation_problem(exc, _RuleSpec)
        raise RuleError(message, source=source, rule_id=rule_id, field=field) from None
    stem = Path(source).stem
    if stem != spec.id:
        raise RuleError(f"file name must match the rule id ({spec.id}.yaml)", source=source, rule_id=spec.id,
                        field="id")
    try:
        condition = parse_condition(spec.when)
    except ConditionSyntaxError as exc:
        raise RuleError(str(exc), source=source, rule_id=spec.id, field=exc.field) from None
    keys = fact_keys(condition)
    for key in keys:
        if key not in known_facts:
            raise RuleError(f"unknown fact {key!r} (no analyzer provides it)", source=source, rule_id=spec.id,
                            field="when")
    evidence = spec.evidence or (keys[0] if keys else None)
    if spec.evidence is not None and spec.evidence not in keys:
        raise RuleError(f"evidence {spec.evidence!r} is not a fact used in 'when'", source=source,
                        rule_id=spec.id, field="evidence")
    _check_template(spec.message, source=source, rule_id=spec.id)
    return Rule(descriptor=_descriptor(spec), applies_to=_kinds(spec, source), condition=condition,
                evidence_key=evidence, message=spec.message, source=source)


def _kinds(spec: _RuleSpec, source: str) -> frozenset[ArtifactKind] | None:
    if spec.applies_to == ["*"]:
        return None
    kinds = set()
    for i, name in enumerate(spec.applies_to):
        try:
            kinds.add(ArtifactKind(name))
        except ValueError:
            known = ", ".join(k.value for k in ArtifactKind)
            raise RuleError(f"unknown artifact kind {name!r} (known: *, {known})", source=source,
                            rule_id=spec.id, field=f"applies_to[{i}]") from None
    if ArtifactKind.JSONL in kinds:
        # A JSON array of records is JSON Lines in one document (read record by record), so every rule written
        # for jsonl datasets applies to it; rule authors need not list both.
        kinds.add(ArtifactKind.JSON_RECORDS)
    return frozenset(kinds)


def _check_template(message: str, *, source: str, rule_id: str) -> None:
    for name in _PLACEHOLDER.findall(message):
        if name not in _TEMPLATE_NAMES and not re.fullmatch(r"detail\.[A-Za-z0-9_]+", name):
            allowed = ", ".join(sorted(_TEMPLATE_NAMES))
            raise RuleError(f"unknown placeholder {{{name}}} (allowed: {allowed}, detail.NAME)", source=source,
                            rule_id=rule_id, field="message")


def _descriptor(spec: _RuleSpec) -> RuleDescriptor:
    tags = tuple(dict.fromkeys(["security", *spec.tags, *(f"external/cwe/{c.lower()}" for c in spec.cwe)]))
    refs = "".join(f"\n- {r}" for r in spec.references)
    markdown = (f"**{spec.short_description}**\n\n{spec.full_description}\n\n**Remediation:** {spec.remediation}"
                + (f"\n\n**References:**{refs}" if refs else ""))
    return RuleDescriptor(
        id=spec.id, name=spec.name, short_description=spec.short_description,
        full_description=spec.full_description, severity=Severity(spec.severity),
        confidence=Confidence(spec.confidence), help_text=f"{spec.full_description} Remediation: "
        f"{spec.remediation}", help_markdown=markdown,
        help_uri=spec.help_uri or f"{INFORMATION_URI}/blob/main/rules/{_family(spec.id)}/{spec.id}.yaml",
        cwe=tuple(spec.cwe), tags=tags, references=tuple(spec.references))


def _family(rule_id: str) -> str:
    return {"MDL": "model", "DAT": "dataset", "SIG": "signature", "GEN": "general"}[rule_id.split("-")[1]]


def load_rules(directory: Path, *, known_facts: Mapping[str, str]) -> tuple[Rule, ...]:
    """Load every ``*.yaml`` rule below ``directory`` (except ``policies/``); duplicate ids are errors."""
    if not directory.is_dir():
        raise RuleError("rules directory not found", source=str(directory))
    from aisec.engine.yamlio import read_yaml

    rules: dict[str, Rule] = {}
    for path in sorted(directory.rglob("*.yaml")):
        if "policies" in path.relative_to(directory).parts:
            continue
        rule = parse_rule(read_yaml(path, error=RuleError), source=str(path), known_facts=known_facts)
        if rule.id in rules:
            raise RuleError(f"duplicate rule id, also defined in {rules[rule.id].source}", source=str(path),
                            rule_id=rule.id, field="id")
        rules[rule.id] = rule
    return tuple(rules[k] for k in sorted(rules))


__all__ = ["Rule", "load_rules", "parse_rule"]
