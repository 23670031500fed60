"""Policies: extends and merging, validation, suppressions with expiry, selection and severity overrides."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from aisec.engine.evaluate import apply_suppressions, select_rules
from aisec.engine.policy import load_policy
from aisec.errors import PolicyError
from aisec.model import Confidence, Finding, Severity
from aisec.paths import builtin_policies_dir
from aisec.scan import load_configuration


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _load(path: Path) -> object:
    return load_policy(path, policies_dir=builtin_policies_dir())


def test_builtin_policies_load_and_differ() -> None:
    policies = {name: load_policy(name, policies_dir=builtin_policies_dir()) for name in
                ("default", "strict", "audit")}
    assert policies["default"].fail_on is Severity.HIGH
    assert policies["strict"].fail_on is Severity.MEDIUM
    assert policies["audit"].min_severity is Severity.INFO
    assert len({p.digest for p in policies.values()}) == 3
    # The modelscan table is merged into the denylist from the installed package.
    assert "builtins.eval" in policies["default"].list_values("pickle_denylist")
    assert "webbrowser.*" in policies["default"].list_values("pickle_denylist")


def test_extends_merges_lists_params_and_overrides(tmp_path: Path) -> None:
    _write(tmp_path, "base.yaml", """
        name: base
        fail_on: critical
        params: {a: 1, b: 2}
        lists:
          allow:
            - {value: "x.*", reason: "base entry"}
        """)
    child = _write(tmp_path, "child.yaml", """
        name: child
        extends: base.yaml
        params: {b: 3}
        lists:
          allow:
            - {value: "y.*", reason: "child entry"}
            - {value: "x.*", reason: "duplicate is dropped"}
        """)
    policy = load_policy(child, policies_dir=builtin_policies_dir())
    assert policy.name == "child"
    assert policy.fail_on is Severity.CRITICAL  # inherited
    assert dict(policy.params) == {"a": 1, "b": 3}
    assert policy.list_values("allow") == ["x.*", "y.*"]
    assert [Path(s).name for s in policy.sources] == ["base.yaml", "child.yaml"]


def test_extends_a_builtin_by_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "mine.yaml", """
        name: mine
        extends: strict
        lists:
          pickle_allowlist:
            - {value: "mycompany.models.*", reason: "our own reviewed classes"}
        """)
    policy = load_policy(path, policies_dir=builtin_policies_dir())
    assert policy.fail_on is Severity.MEDIUM
    assert "mycompany.models.*" in policy.list_values("pickle_allowlist")
    assert "collections.OrderedDict" in policy.list_values("pickle_allowlist")


@pytest.mark.parametrize(("text", "field", "words"), [
    ("name: p\nfail_on: severe\n", "fail_on", "critical"),
    ("name: p\nwhatever: 1\n", "whatever", "unknown key"),
    ("name: p\nlists: {a: [{value: x}]}\n", "lists.a", ""),
    ("name: p\nsuppressions: [{rule: AISEC-MDL-001, justification: 'because I said so'}]\n", "suppressions.0",
     "path"),
    ("name: p\nsuppressions: [{rule: AISEC-MDL-001, path: x, justification: short}]\n",
     "suppressions.0.justification", "at least 10"),
    ("name: p\nlimits: {max_bananas: 3}\n", "limits.max_bananas", "unknown limit"),
    ("name: p\nlimits: {max_pickle_opcodes: -1}\n", "limits.max_pickle_opcodes", "positive"),
    ("name: p\nlists: {a: {include: [nowhere]}}\n", "lists.a.include", "unknown list source"),
    ("- not a mapping\n", None, "mapping"),
])
def test_invalid_policy_names_file_and_field(tmp_path: Path, text: str, field: str | None, words: str) -> None:
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(PolicyError) as info:
        _load(path)
    assert info.value.source == str(path)
    if field is not None:
        assert info.value.field is not None and info.value.field.startswith(field)
    assert words in info.value.message


def test_circular_extends_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "name: a\nextends: b.yaml\n")
    _write(tmp_path, "b.yaml", "name: b\nextends: a.yaml\n")
    with pytest.raises(PolicyError, match="circular"):
        _load(tmp_path / "a.yaml")


def test_unknown_builtin_and_missing_file() -> None:
    with pytest.raises(PolicyError, match="no built-in policy"):
        load_policy("paranoid", policies_dir=builtin_policies_dir())
    with pytest.raises(PolicyError, match="not found"):
        load_policy("nope/missing.yaml", policies_dir=builtin_policies_dir())


def test_binding_checks_rule_references(tmp_path: Path) -> None:
    _policy, rules, _bound = load_configuration("default")
    for text, words in [
        ("name: p\nextends: default\nseverity_overrides: {AISEC-XXX-999: low}\n", "unknown rule"),
        ("name: p\nextends: default\nsuppressions: [{rule: AISEC-NOPE-*, path: x, justification: 'reviewed "
         "by security'}]\n", "no known rule"),
        ("name: p\n", "needs (list|parameter) '"),
    ]:
        path = _write(tmp_path, "p.yaml", text)
        with pytest.raises(PolicyError, match=words):
            select_rules(rules, _load(path))  # type: ignore[arg-type]


def test_selection_and_severity_override(tmp_path: Path) -> None:
    _policy, rules, _bound = load_configuration("default")
    path = _write(tmp_path, "p.yaml", """
        name: p
        extends: default
        rules: {include: ["AISEC-MDL-*"], exclude: ["AISEC-MDL-003"]}
        severity_overrides: {AISEC-MDL-002: critical}
        """)
    bound = select_rules(rules, _load(path))  # type: ignore[arg-type]
    ids = {b.rule.id for b in bound}
    assert "AISEC-MDL-001" in ids and "AISEC-MDL-003" not in ids and "AISEC-GEN-001" not in ids
    assert next(b for b in bound if b.rule.id == "AISEC-MDL-002").descriptor.severity is Severity.CRITICAL


def _finding(path: str, rule: str = "AISEC-MDL-001", fingerprint: str = "ab" * 32) -> Finding:
    return Finding(rule_id=rule, severity=Severity.CRITICAL, confidence=Confidence.HIGH, message="m", path=path,
                   fingerprint=fingerprint)


def test_suppressions_match_by_path_and_fingerprint_and_expire(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.yaml", """
        name: p
        extends: default
        suppressions:
          - {rule: AISEC-MDL-001, path: "tests/**", justification: "test payloads, reviewed", expires: 2026-12-31}
          - {rule: "AISEC-MDL-*", fingerprint: "cdcd", justification: "known false positive, ticket 42"}
          - {rule: AISEC-MDL-002, path: "old/*", justification: "expired exception for old models",
             expires: 2020-01-01}
        """)
    policy = _load(path)
    findings = [_finding("tests/x/a.pkl"), _finding("models/b.pkl", fingerprint="cd" * 32),
                _finding("models/c.pkl"), _finding("old/d.pkl", rule="AISEC-MDL-002")]
    kept, suppressed, unused = apply_suppressions(findings, policy.suppressions,  # type: ignore[attr-defined]
                                                  today=dt.date(2026, 11, 28))
    assert [f.path for f in kept] == ["models/c.pkl", "old/d.pkl"]  # the expired one no longer hides d.pkl
    assert [f.path for f in suppressed] == ["tests/x/a.pkl", "models/b.pkl"]
    assert suppressed[0].suppression is not None and suppressed[0].suppression.expires == "2026-12-31"
    assert unused == ["AISEC-MDL-002 path=old/*"]
    # After its expiry date the first suppression stops working too.
    kept_later, _, _ = apply_suppressions(findings, policy.suppressions,  # type: ignore[attr-defined]
                                          today=dt.date(2027, 1, 1))
    assert "tests/x/a.pkl" in [f.path for f in kept_later]


def test_settings_merge_key_by_key_at_every_depth(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.yaml", """
        name: p
        extends: default
        settings:
          dataset: {cv_folds: 3}
        """)
    policy = load_policy(path, policies_dir=builtin_policies_dir())
    dataset = policy.settings["dataset"]
    assert dataset["cv_folds"] == 3
    assert "numpy" in dataset["popular_packages"]  # inherited, not wiped by the override
