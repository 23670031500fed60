"""Rule files are validated at load time; every invalid shape is rejected naming file, rule and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aisec.analyzers import fact_catalog
from aisec.engine.rules import load_rules, parse_rule
from aisec.errors import RuleError

VALID: dict[str, Any] = {
    "id": "AISEC-MDL-900",
    "name": "test-rule",
    "short_description": "A test rule for schema validation.",
    "full_description": "A longer description of the test rule used in schema tests.",
    "severity": "high",
    "confidence": "medium",
    "applies_to": ["pickle"],
    "when": {"fact": "pickle.call", "op": "equals", "value": "os.system"},
    "message": "{path}: calls {value}.",
    "remediation": "Do not load it.",
    "cwe": ["CWE-502"],
    "tags": ["AML.T0010"],
}


def _parse(doc: dict[str, Any], name: str = "AISEC-MDL-900.yaml") -> Any:
    return parse_rule(doc, source=f"rules/{name}", known_facts=fact_catalog())


def _with(**changes: Any) -> dict[str, Any]:
    doc = dict(VALID)
    for key, value in changes.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    return doc


def test_valid_rule_loads_with_metadata() -> None:
    rule = _parse(VALID)
    assert rule.id == "AISEC-MDL-900"
    assert rule.evidence_key == "pickle.call"
    assert "external/cwe/cwe-502" in rule.descriptor.tags
    assert rule.descriptor.help_uri.endswith("rules/model/AISEC-MDL-900.yaml")


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"id": "MDL-1"}, "id", "pattern"),
    ({"severity": "severe"}, "severity", "critical"),
    ({"confidence": None}, "confidence", "required field is missing"),
    ({"surprise": 1}, "surprise", "unknown key"),
    ({"applies_to": []}, "applies_to", "at least 1"),
    ({"applies_to": ["wheel"]}, "applies_to[0]", "unknown artifact kind"),
    ({"when": {"all": []}}, "when.all", "non-empty"),
    ({"when": {"any": [{"fact": "pickle.call", "op": "exists"}], "not": {}}}, "when", "only key"),
    ({"when": {"fact": "pickle.call", "op": "resembles", "value": "x"}}, "when.op", "unknown operator"),
    ({"when": {"fact": "pickle.teleport", "op": "exists"}}, "when", "unknown fact"),
    ({"when": {"fact": "pickle.call", "op": "gt", "value": "ten"}}, "when.value", "number"),
    ({"when": {"fact": "pickle.call", "op": "in", "value": "os.system"}}, "when.value", "list"),
    ({"when": {"fact": "pickle.call", "op": "matches", "value": "("}}, "when.value", "regular expression"),
    ({"when": {"fact": "pickle.call", "op": "equals"}}, "when", "needs 'value'"),
    ({"when": {"fact": "pickle.call", "op": "in", "value_from": "globals.x"}}, "when.value_from", "lists.NAME"),
    ({"when": {"fact": "pickle.call", "op": "exists", "unless": []}}, "when.unless", "non-empty"),
    ({"when": {"foo": 1}}, "when", "expected one of"),
    ({"message": "{path} {secret}"}, "message", "unknown placeholder"),
    ({"evidence": "pickle.import"}, "evidence", "not a fact used"),
])
def test_invalid_rule_is_rejected_naming_the_field(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(RuleError) as info:
        _parse(_with(**changes))
    err = info.value
    assert err.field == field
    assert words in err.message
    assert "rules/AISEC-MDL-900.yaml" in err.diagnostics()


def test_file_stem_must_match_id() -> None:
    with pytest.raises(RuleError, match="file name must match"):
        _parse(VALID, name="other.yaml")


def test_duplicate_ids_and_bad_yaml_are_load_errors(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "AISEC-MDL-900.yaml").write_text(yaml.safe_dump(VALID))
    with pytest.raises(RuleError, match="duplicate rule id"):
        load_rules(tmp_path, known_facts=fact_catalog())
    bad = tmp_path / "c"
    bad.mkdir()
    (bad / "AISEC-MDL-901.yaml").write_text("id: [unclosed\n")
    with pytest.raises(RuleError, match=r"invalid YAML \(line"):
        load_rules(bad, known_facts=fact_catalog())


def test_yaml_tags_are_never_constructed(tmp_path: Path) -> None:
    (tmp_path / "AISEC-MDL-902.yaml").write_text("!!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(RuleError, match="invalid YAML"):
        load_rules(tmp_path, known_facts=fact_catalog())


def test_builtin_rules_all_load() -> None:
    from aisec.paths import builtin_rules_dir

    rules = load_rules(builtin_rules_dir(), known_facts=fact_catalog())
    assert {"AISEC-GEN-001", "AISEC-MDL-001"} <= {r.id for r in rules}
    assert [r.id for r in rules] == sorted(r.id for r in rules)
