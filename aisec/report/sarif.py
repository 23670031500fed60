"""Render a ``Report`` as SARIF 2.1.0 that passes the official schema and GitHub code scanning's rules."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from aisec.model import Artifact, Finding, Location, RelatedLocation, Report, RuleDescriptor, ScanError
from aisec.report import escape

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/aisec-dev/aisec"
SRCROOT = "%SRCROOT%"
FSROOT = "%FSROOT%"
"""Base of the few report paths outside the report's base (a missing ``/data/x.pkl`` given on the command line):
their URI is relative to ``file:///``, so no result carries an absolute-path reference."""
REMOTE_PATH = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/]*)/?(.*)$", re.DOTALL)
"""A remote object's report path (``s3://bucket/key``): its base (``s3://bucket``) and the rest. Such a path is
relative to a base named by its own URI (``s3://bucket/``), so results carry no absolute URI (GitHub refuses
schemes other than ``file``) and the location still names the bucket and key."""
BINARY_MIME = "application/octet-stream"


def render_sarif(report: Report) -> str:
    """The SARIF log as deterministic, indented JSON text (with a trailing newline)."""
    return json.dumps(sarif_log(report), indent=2, ensure_ascii=False) + "\n"


def sarif_log(report: Report) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict."""
    rule_index = {r.id: i for i, r in enumerate(report.rules)}
    artifact_index = {a.path: i for i, a in enumerate(report.artifacts)}
    results = [_result(f, rule_index, artifact_index) for f in report.findings if f.rule_id in rule_index]
    results += [_result(f, rule_index, artifact_index) for f in report.absent]
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "aisec", "fullName": "aisec AI security scanner", "version": report.tool_version,
            "semanticVersion": report.tool_version, "informationUri": INFORMATION_URI,
            "rules": [_rule(r) for r in report.rules],
        }},
        "invocations": [_invocation(report)],
        "originalUriBaseIds": _bases(report),
        "automationDetails": {"id": f"aisec/{report.policy_name}/"},
        "artifacts": [_artifact(a) for a in report.artifacts],
        "results": results,
        "properties": {"aisec/policy": report.policy_name, "aisec/policyDigest": report.policy_digest,
                       "aisec/failOn": report.fail_on.value,
                       "aisec/unusedSuppressions": list(report.unused_suppressions),
                       "aisec/suppressedCount": len(report.suppressed),
                       "aisec/gateFindingsNotShown": len(report.gated_unreported)},
    }
    if report.notices:
        run["invocations"][0]["toolConfigurationNotifications"] = [
            {"level": "note", "message": {"text": n}, "descriptor": {"id": "aisec/config"}} for n in report.notices]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(rule: RuleDescriptor) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.short_description},
        "fullDescription": {"text": rule.full_description},
        "help": {"text": rule.help_text, "markdown": rule.help_markdown},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": rule.severity.sarif_level},
        "properties": {
            "tags": list(rule.tags)[:10],
            "precision": rule.confidence.value,
            "problem.severity": {"error": "error", "warning": "warning", "note": "recommendation"}[
                rule.severity.sarif_level],
            "security-severity": rule.severity.security_severity,
            "aisec/severity": rule.severity.value,
            "aisec/cwe": list(rule.cwe),
            "aisec/references": list(rule.references),
        },
    }


def _artifact(artifact: Artifact) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "location": location_of(artifact.path),
        "length": artifact.size,
        "roles": ["analysisTarget"],
        "properties": {"aisec/kind": artifact.kind.value},
    }
    if artifact.sha256:
        entry["hashes"] = {"sha-256": artifact.sha256}
    if artifact.kind.value == "directory":
        entry.pop("length")
    return entry


def _result(finding: Finding, rule_index: dict[str, int], artifact_index: dict[str, int]) -> dict[str, Any]:
    loc = finding.location
    region: dict[str, Any] = {"startLine": loc.line or 1}
    if loc.line and loc.column:
        region["startColumn"] = loc.column
        if loc.end_column and loc.end_column > loc.column:
            region["endColumn"] = loc.end_column
    artifact_location = location_of(finding.path)
    if finding.path in artifact_index:
        artifact_location["index"] = artifact_index[finding.path]
    location: dict[str, Any] = {"physicalLocation": {"artifactLocation": artifact_location, "region": region}}
    logical = _logical(finding)
    if logical:
        location["logicalLocations"] = [logical]
    properties: dict[str, Any] = {"aisec/severity": finding.severity.value}
    properties.update({f"aisec/{k}": v for k, v in sorted(finding.evidence.items())})
    if loc.member:
        properties["aisec/member"] = loc.member
    if loc.offset is not None:
        properties["aisec/offset"] = loc.offset
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index.get(finding.rule_id, -1),
        "level": finding.severity.sarif_level,
        "message": {"text": finding.message},
        "locations": [location],
        "partialFingerprints": {
            "primaryLocationLineHash": f"{finding.fingerprint[:16]}:{loc.line or 1}",
            "aisecFinding/v1": finding.fingerprint,
        },
        "properties": properties,
    }
    if finding.related_locations:
        result["relatedLocations"] = [_related(i, r, finding.path, artifact_index)
                                      for i, r in enumerate(finding.related_locations)]
    if finding.baseline_state:
        result["baselineState"] = finding.baseline_state
    if finding.baseline_state == "absent":
        # Gone since the baseline: a "pass" with no level, so viewers do not show it as a live problem.
        result.update(kind="pass", level="none")
    if result["ruleIndex"] < 0:
        del result["ruleIndex"]  # a baseline rule this run no longer has
    return result


def _region(loc: Location) -> dict[str, Any] | None:
    if loc.line:
        region: dict[str, Any] = {"startLine": loc.line}
        if loc.column:
            region["startColumn"] = loc.column
            if loc.end_column and loc.end_column > loc.column:
                region["endColumn"] = loc.end_column
        return region
    if loc.offset is not None:
        return {"byteOffset": loc.offset}
    return None


def _related(index: int, related: RelatedLocation, path: str, artifact_index: dict[str, int]) -> dict[str, Any]:
    """One ``relatedLocations`` entry: a region when the place has a line (CSV, JSONL) or byte offset, else
    a logical location (a Parquet row pointer)."""
    loc = related.location
    where = loc.path or path
    artifact_location = location_of(where)
    if where in artifact_index:
        artifact_location["index"] = artifact_index[where]
    physical: dict[str, Any] = {"artifactLocation": artifact_location}
    region = _region(loc)
    if region is not None:
        physical["region"] = region
    entry: dict[str, Any] = {"id": index, "physicalLocation": physical}
    if loc.pointer:
        entry["logicalLocations"] = [{"name": loc.pointer, "fullyQualifiedName": f"{where}#{loc.pointer}",
                                      "kind": "member"}]
    if related.message:
        entry["message"] = {"text": related.message}
    return entry


def _logical(finding: Finding) -> dict[str, Any] | None:
    loc = finding.location
    if loc.member:
        return {"name": loc.member.rsplit("!/", 1)[-1], "fullyQualifiedName": f"{finding.path}!/{loc.member}",
                "kind": "module"}
    if loc.pointer:
        return {"name": loc.pointer, "fullyQualifiedName": f"{finding.path}#{loc.pointer}", "kind": "member"}
    return None


def _invocation(report: Report) -> dict[str, Any]:
    invocation: dict[str, Any] = {
        "executionSuccessful": True,
        "toolExecutionNotifications": [_notification(e) for e in report.errors],
    }
    if report.started_utc:
        invocation["startTimeUtc"] = report.started_utc
    if report.finished_utc:
        invocation["endTimeUtc"] = report.finished_utc
    return invocation


def _notification(error: ScanError) -> dict[str, Any]:
    # "warning", not "error": the run itself succeeded; the file-level failure is also a result (AISEC-GEN-001).
    note: dict[str, Any] = {
        "level": "warning",
        "message": {"text": f"{error.path}: {error.message}"},
        "descriptor": {"id": f"aisec/{error.reason}"},
        "locations": [{"physicalLocation": {"artifactLocation": location_of(error.path)}}],
        "properties": {"aisec/reason": error.reason},
    }
    if error.limit:
        note["properties"]["aisec/limit"] = error.limit
    if error.location.member:
        note["properties"]["aisec/member"] = error.location.member
    return note


def _bases(report: Report) -> dict[str, Any]:
    bases: dict[str, Any] = {SRCROOT: {"description": {
        "text": "The folder the report's paths are relative to (uri omitted so reports are reproducible)."}}}
    paths = [*(a.path for a in report.artifacts), *(f.path for f in report.findings), *(e.path for e in report.errors)]
    if any(p.startswith("/") for p in paths):
        bases[FSROOT] = {"uri": "file:///", "description": {"text": "The file-system root (for paths given on the "
                                                                    "command line outside the report's base)."}}
    for base in sorted({m.group(1) for p in paths if (m := REMOTE_PATH.match(p))}):
        bases[base + "/"] = {"uri": escape.uri_of(base) + "/",
                             "description": {"text": "Remote storage the scanned objects were read from."}}
    return bases


def location_of(path: str) -> dict[str, Any]:
    """A report path as a SARIF ``artifactLocation``: relative to %SRCROOT%, or to %FSROOT% when absolute."""
    if path.startswith("/"):
        return {"uri": uri_of(path.lstrip("/")), "uriBaseId": FSROOT}
    remote = REMOTE_PATH.match(path)
    if remote:
        return {"uri": uri_of(remote.group(2)) or ".", "uriBaseId": remote.group(1) + "/"}
    return {"uri": uri_of(path), "uriBaseId": SRCROOT}


def path_of(location: object) -> str:
    """The report path of a SARIF ``artifactLocation`` (the inverse of :func:`location_of`); "" when unreadable."""
    if not isinstance(location, dict) or not isinstance(location.get("uri"), str):
        return ""
    # surrogateescape: a name that is not UTF-8 comes back spelt as the scan spells it (os.fsdecode)
    base = location.get("uriBaseId")
    rest = unquote(location["uri"], errors="surrogateescape")
    if isinstance(base, str) and "://" in base:
        return base.rstrip("/") + ("" if rest == "." else "/" + rest)
    return ("/" if base == FSROOT else "") + rest


def uri_of(path: str) -> str:
    """A relative URI reference for a repo-relative POSIX path (its bytes percent-encoded where needed)."""
    return escape.uri_of(path)
