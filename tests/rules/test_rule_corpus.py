"""Every rule has fixtures that must trigger it and look-alikes that must not; both are checked here."""

from __future__ import annotations

from pathlib import Path

import pytest

from aisec.scan import load_configuration, scan
from tests.conftest import FIXTURES

_POLICY, RULES, _BOUND = load_configuration("audit")
RULE_IDS = [r.id for r in RULES]
JOBS = 0
"""Analyze in this process: a forked worker per case cost more than most cases (and re-imported the dataset stack
for each dataset case); the report does not depend on the jobs (tests/test_executor.py)."""


def _cases(rule_id: str, side: str) -> list[Path]:
    folder = FIXTURES / rule_id / side
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _params(side: str) -> list[object]:
    return [pytest.param(rule_id, case, id=f"{rule_id}/{side}/{case.name}")
            for rule_id in RULE_IDS for case in _cases(rule_id, side)]


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_rule_has_fail_and_pass_fixtures(rule_id: str) -> None:
    assert _cases(rule_id, "fail"), f"no fixture in fixtures/generated/{rule_id}/fail triggers {rule_id}"
    assert _cases(rule_id, "pass"), f"no look-alike in fixtures/generated/{rule_id}/pass for {rule_id}"


def _policy(rule_id: str) -> str | Path:
    """A rule whose condition needs a policy parameter or setting ships its own ``policy.yaml`` beside its cases."""
    own = FIXTURES / rule_id / "policy.yaml"
    return own if own.is_file() else "audit"


@pytest.mark.parametrize(("rule_id", "case"), _params("fail"))
def test_fail_fixture_triggers_rule(rule_id: str, case: Path, in_repo: Path) -> None:
    report = scan([case.relative_to(in_repo)], policy=_policy(rule_id), jobs=JOBS)
    hits = [f for f in report.findings if f.rule_id == rule_id]
    assert hits, f"{rule_id} did not fire on {case.name}; findings: {[f.rule_id for f in report.findings]}"


@pytest.mark.parametrize(("rule_id", "case"), _params("pass"))
def test_pass_fixture_does_not_trigger_rule(rule_id: str, case: Path, in_repo: Path) -> None:
    report = scan([case.relative_to(in_repo)], policy=_policy(rule_id), jobs=JOBS)
    hits = [f.message for f in report.findings if f.rule_id == rule_id]
    assert not hits, f"{rule_id} fired on look-alike {case.name}: {hits}"
