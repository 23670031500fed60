"""Baselines: match a scan's findings against a previous aisec SARIF report (new, unchanged, updated, absent).

Matching, in this order, each baseline result used at most once:

1. same ``partialFingerprints["aisecFinding/v1"]`` (rule id, path, archive member, pointer, evidence, line)
   → ``unchanged``, or ``updated`` when the severity differs;
2. same identity: rule id + path + archive member + pointer, different fingerprint (the evidence or the
   line changed) → ``updated``;
3. anything else in this scan → ``new``; anything left in the baseline → ``absent`` (reported, never gated),
   except baseline results below this scan's reporting floor or now suppressed by the policy.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aisec import strictjson
from aisec.errors import ConfigError
from aisec.model import Confidence, Finding, Location, Report, Severity
from aisec.report.sarif import path_of

MAX_SARIF_BYTES = 64 * 1024 * 1024
"""Largest SARIF file read as input (baseline or audit report)."""
MAX_JSON_DEPTH = 64
"""Deepest JSON nesting accepted in an input SARIF file (aisec's own reports nest about 12 deep)."""
MAX_RESULTS = 500_000
FINGERPRINT_KEY = "aisecFinding/v1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class BaselineError(ConfigError):
    """The baseline (or another input SARIF file) is unusable: too large, too deep, malformed or incomplete."""


@dataclass(frozen=True, kw_only=True)
class BaselineResult:
    """What a baseline result contributes to matching."""

    rule_id: str
    path: str
    member: str | None
    pointer: str | None
    fingerprint: str
    severity: Severity | None
    message: str
    line: int | None

    def identity(self) -> tuple[str, str, str, str]:
        """The key of step 2: rule, path, member, pointer."""
        return (self.rule_id, self.path, self.member or "", self.pointer or "")


def read_sarif(path: str | Path, *, max_bytes: int = MAX_SARIF_BYTES, error: type[ConfigError] = BaselineError,
               ) -> dict[str, Any]:
    """Read an untrusted SARIF file: bounded size and depth, strict JSON, one mapping with a ``runs`` list."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror or exc}", source=source) from None
    if len(data) > max_bytes:
        raise error(f"file is larger than {max_bytes} bytes", source=source)
    try:
        document = strictjson.loads(data, max_depth=MAX_JSON_DEPTH)
    except strictjson.StrictJSONError as exc:
        if "nested" in str(exc):
            raise error(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", source=source) from None
        raise error(str(exc), source=source) from None
    if not isinstance(document, dict):
        raise error("not a SARIF log (expected a JSON object)", source=source)
    runs = document.get("runs")
    if not isinstance(runs, list) or not runs or not isinstance(runs[0], dict):
        raise error("not a SARIF log (no runs)", source=source, field="runs")
    return document


def load_baseline(path: str | Path) -> tuple[BaselineResult, ...]:
    """The results of an aisec SARIF report; :class:`BaselineError` naming file and field if unusable."""
    source = str(path)
    document = read_sarif(path)
    run = document["runs"][0]
    driver = _get(run, ("tool", "driver"))
    if not isinstance(driver, dict) or driver.get("name") != "aisec":
        raise BaselineError("not an aisec SARIF report (tool.driver.name is not 'aisec')", source=source,
                            field="runs[0].tool.driver.name")
    results = run.get("results")
    if not isinstance(results, list):
        raise BaselineError("missing results list", source=source, field="runs[0].results")
    if len(results) > MAX_RESULTS:
        raise BaselineError(f"more than {MAX_RESULTS} results", source=source, field="runs[0].results")
    out: list[BaselineResult] = []
    for index, result in enumerate(results):
        field = f"runs[0].results[{index}]"
        if not isinstance(result, dict):
            raise BaselineError("a result must be an object", source=source, field=field)
        if result.get("baselineState") == "absent":
            continue  # already gone in that report: not part of its state
        out.append(_baseline_result(result, source=source, field=field))
    return tuple(out)


def _baseline_result(result: dict[str, Any], *, source: str, field: str) -> BaselineResult:
    rule_id = result.get("ruleId")
    if not isinstance(rule_id, str) or not rule_id:
        raise BaselineError("missing ruleId", source=source, field=f"{field}.ruleId")
    fingerprint = _get(result, ("partialFingerprints", FINGERPRINT_KEY))
    if not isinstance(fingerprint, str) or not _HEX64.match(fingerprint):
        raise BaselineError("missing or malformed stable fingerprint", source=source,
                            field=f"{field}.partialFingerprints.{FINGERPRINT_KEY}")
    locations = result.get("locations")
    first = locations[0] if isinstance(locations, list) and locations else None
    uri = _get(first, ("physicalLocation", "artifactLocation", "uri"))
    if not isinstance(uri, str) or not uri:
        raise BaselineError("missing artifact location", source=source,
                            field=f"{field}.locations[0].physicalLocation.artifactLocation.uri")
    line = _get(first, ("physicalLocation", "region", "startLine"))
    properties = result.get("properties") if isinstance(result.get("properties"), dict) else {}
    assert isinstance(properties, dict)
    member = properties.get("aisec/member")
    logical = _get(first, ("logicalLocations",))
    pointer = None
    if isinstance(logical, list) and logical and isinstance(logical[0], dict) and logical[0].get("kind") == "member":
        pointer = logical[0].get("name") if isinstance(logical[0].get("name"), str) else None
    severity = None
    if isinstance(properties.get("aisec/severity"), str):
        try:
            severity = Severity.parse(properties["aisec/severity"])
        except ValueError:
            severity = None
    message = _get(result, ("message", "text"))
    where = path_of(_get(first, ("physicalLocation", "artifactLocation")))
    return BaselineResult(rule_id=rule_id, path=where, member=member if isinstance(member, str) else None,
                          pointer=pointer, fingerprint=fingerprint, severity=severity,
                          message=message if isinstance(message, str) else "",
                          line=line if isinstance(line, int) and not isinstance(line, bool) and line > 1 else None)


def _get(value: Any, keys: Iterable[str]) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def apply_baseline(report: Report, baseline: Sequence[BaselineResult], *, gate_all: bool = False,
                   floor: Severity = Severity.INFO) -> Report:
    """``report`` with a baseline state on every finding, the absent ones listed, and the gate narrowed.

    Without ``gate_all`` only new and updated findings fail the gate.
    """
    suppressed = {f.fingerprint for f in report.suppressed}
    pool = [b for b in baseline if b.fingerprint not in suppressed]
    used = [False] * len(pool)
    by_fingerprint: dict[str, list[int]] = defaultdict(list)
    by_identity: dict[tuple[str, str, str, str], list[int]] = defaultdict(list)
    for index, item in enumerate(pool):
        by_fingerprint[item.fingerprint].append(index)
        by_identity[item.identity()].append(index)
    states: dict[int, str] = {}
    current = (*report.findings, *report.unreported)  # findings the floor hid are gated, so they need a state too
    for position, finding in enumerate(current):
        taken = _take(by_fingerprint.get(finding.fingerprint, []), used)
        if taken is not None:
            same = pool[taken].severity in (None, finding.severity)
            states[position] = "unchanged" if same else "updated"
    for position, finding in enumerate(current):
        if position in states:
            continue
        key = (finding.rule_id, finding.path, finding.location.member or "", finding.location.pointer or "")
        states[position] = "updated" if _take(by_identity.get(key, []), used) is not None else "new"
    stated = tuple(replace(f, baseline_state=states[i]) for i, f in enumerate(current))
    findings, unreported = stated[:len(report.findings)], stated[len(report.findings):]
    confidence = {r.id: r.confidence for r in report.rules}
    absent = [_absent(b, confidence) for i, b in enumerate(pool)
              if not used[i] and (b.severity is None or b.severity.rank >= floor.rank)]
    return replace(report, findings=findings, unreported=unreported,
                   absent=tuple(sorted(absent, key=Finding.sort_key)), gate_all=gate_all)


def _take(candidates: list[int], used: list[bool]) -> int | None:
    for index in candidates:
        if not used[index]:
            used[index] = True
            return index
    return None


def _absent(item: BaselineResult, confidence: dict[str, Confidence]) -> Finding:
    return Finding(rule_id=item.rule_id, severity=item.severity or Severity.INFO,
                   confidence=confidence.get(item.rule_id, Confidence.MEDIUM), message=item.message, path=item.path,
                   location=Location(member=item.member, pointer=item.pointer, line=item.line),
                   fingerprint=item.fingerprint, baseline_state="absent")


def baseline_report(report: Report) -> Report:
    """The report as a baseline for later scans: current findings only, without baseline states."""
    return replace(report, findings=tuple(replace(f, baseline_state=None) for f in report.findings), absent=())


__all__ = ["FINGERPRINT_KEY", "BaselineError", "BaselineResult", "apply_baseline", "baseline_report",
           "load_baseline", "read_sarif"]
