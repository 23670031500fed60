"""Helpers for the pickle and archive tests: analyze bytes as a file, the way a scan does."""

from __future__ import annotations

import sys
from pathlib import Path

from aisec.analysis import analyze_artifact
from aisec.discovery import Discovered, describe
from aisec.limits import Limits
from aisec.model import Fact, Finding, ScanError
from aisec.scan import load_configuration
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "fixtures"))

POLICY, _RULES, BOUND = load_configuration("audit")


def analyze_bytes(tmp_path: Path, data: bytes, name: str = "sample.pkl", limits: Limits | None = None,
                  ) -> tuple[list[Fact], list[Finding], list[ScanError]]:
    """Write ``data`` to a file and analyze it with every analyzer and the audit policy's rules."""
    path = tmp_path / name
    path.write_bytes(data)
    policy = POLICY if limits is None else _with_limits(limits)
    item = Discovered(artifact=describe(path, name, policy.limits), fs_path=path)
    result = analyze_artifact(item, BOUND, policy)
    return list(result.facts), list(result.findings), list(result.errors)


def _with_limits(limits: Limits):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(POLICY, limits=limits)


def values(facts: list[Fact], key: str) -> set[object]:
    """Values of every fact with ``key``."""
    return {f.value for f in facts if f.key == key}


def rule_ids(findings: list[Finding]) -> set[str]:
    """Ids of the rules that fired."""
    return {f.rule_id for f in findings}
