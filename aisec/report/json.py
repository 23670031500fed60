"""Render a ``Report`` as aisec's own JSON document (schema ``aisec-report/v1``, documented in the README)."""

from __future__ import annotations

import json
from typing import Any

from aisec.model import ArtifactKind, Finding, Location, Report, ScanError

JSON_SCHEMA_ID = "aisec-report/v1"


def render_json(report: Report) -> str:
    """Deterministic, indented JSON text."""
    return json.dumps(report_document(report), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def report_document(report: Report) -> dict[str, Any]:
    """The JSON-ready document."""
    return {
        "schema": JSON_SCHEMA_ID,
        "tool": {"name": "aisec", "version": report.tool_version},
        "policy": {"name": report.policy_name, "digest": report.policy_digest, "fail_on": report.fail_on.value},
        "summary": summary(report),
        "artifacts": [{"path": a.path, "kind": a.kind.value, "size": a.size, "sha256": a.sha256 or None,
                       "declared_kind": a.declared_kind} for a in report.artifacts],
        "findings": [_finding(f) for f in report.findings],
        "suppressed": [_finding(f) for f in report.suppressed],
        "errors": [_error(e) for e in report.errors],
        "absent": [_finding(f) for f in report.absent],
        "notices": list(report.notices),
        "unused_suppressions": list(report.unused_suppressions),
        "rules": [{"id": r.id, "name": r.name, "severity": r.severity.value, "confidence": r.confidence.value,
                   "short_description": r.short_description, "cwe": list(r.cwe), "tags": list(r.tags)}
                  for r in report.rules],
        "started_utc": report.started_utc,
        "finished_utc": report.finished_utc,
    }


def summary(report: Report) -> dict[str, Any]:
    """Counts by severity, and the gate's verdict."""
    counts = {s: 0 for s in ("critical", "high", "medium", "low", "info")}
    for finding in report.findings:
        counts[finding.severity.value] += 1
    folders = sum(1 for a in report.artifacts if a.kind is ArtifactKind.DIRECTORY)
    doc = {"artifacts": len(report.artifacts), "files": len(report.artifacts) - folders, "model_folders": folders,
           "findings": len(report.findings), "by_severity": counts,
           "errors": len(report.errors), "suppressed": len(report.suppressed),
           "gate_findings": len(report.gate_findings), "complete": report.trustworthy,
           "gated_not_shown": len(report.gated_unreported)}
    states = [f.baseline_state for f in (*report.findings, *report.absent) if f.baseline_state]
    if states:
        doc["baseline"] = {s: states.count(s) for s in ("new", "updated", "unchanged", "absent")}
        doc["gate_all"] = report.gate_all
    return doc


def _location(loc: Location) -> dict[str, Any]:
    fields = {"path": loc.path, "member": loc.member, "offset": loc.offset, "line": loc.line,
              "column": loc.column, "end_column": loc.end_column, "pointer": loc.pointer}
    return {k: v for k, v in fields.items() if v is not None}


def _finding(finding: Finding) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "rule_id": finding.rule_id, "severity": finding.severity.value, "confidence": finding.confidence.value,
        "path": finding.path, "location": _location(finding.location), "message": finding.message,
        "evidence": dict(sorted(finding.evidence.items())), "fingerprint": finding.fingerprint,
    }
    if finding.related_locations:
        doc["related_locations"] = [{"location": _location(r.location), "message": r.message}
                                    for r in finding.related_locations]
    if finding.baseline_state:
        doc["baseline_state"] = finding.baseline_state
    if finding.suppression is not None:
        doc["suppression"] = {"justification": finding.suppression.justification,
                              "expires": finding.suppression.expires}
    return doc


def _error(error: ScanError) -> dict[str, Any]:
    return {"path": error.path, "reason": error.reason, "message": error.message, "limit": error.limit,
            "location": _location(error.location)}
