"""Render a ``Report`` as a GitLab SAST report (security report schema 15.x, ``gl-sast-report.json``)."""

from __future__ import annotations

import json
import re
from typing import Any

from aisec.model import Finding, Report, Severity

SCHEMA_VERSION = "15.1.4"
SCHEMA_URL = ("https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/"
              f"v{SCHEMA_VERSION}/dist/sast-report-format.json")
INFORMATION_URI = "https://github.com/aisec-dev/aisec"
MAX_NAME_CHARS = 255
"""The schema's bound on a vulnerability's ``name``."""
MAX_SOLUTION_CHARS = 7000
MAX_DESCRIPTION_CHARS = 1_048_576
_SEVERITY = {Severity.CRITICAL: "Critical", Severity.HIGH: "High", Severity.MEDIUM: "Medium", Severity.LOW: "Low",
             Severity.INFO: "Info"}
_CWE = re.compile(r"^CWE-(\d+)$")
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})")
_EPOCH = "1970-01-01T00:00:00"


def render_gitlab_sast(report: Report) -> str:
    """Deterministic, indented JSON text."""
    return json.dumps(gitlab_document(report), indent=2, ensure_ascii=False) + "\n"


def gitlab_document(report: Report) -> dict[str, Any]:
    """The JSON-ready SAST report: one vulnerability per unsuppressed finding (absent ones are not reported)."""
    tool = {"id": "aisec", "name": "aisec", "url": INFORMATION_URI, "version": report.tool_version,
            "vendor": {"name": "aisec"}}
    scan: dict[str, Any] = {
        "analyzer": tool,
        "scanner": tool,
        "type": "sast",
        "start_time": _time(report.started_utc),
        "end_time": _time(report.finished_utc or report.started_utc),
        # "failure" tells GitLab the findings may be incomplete, so missing ones are not taken as fixed.
        "status": "success" if report.trustworthy else "failure",
    }
    messages = [{"level": "warn", "value": f"{e.path}: could not be fully scanned ({e.reason}): {e.message}"}
                for e in report.errors]
    messages += [{"level": "info", "value": n} for n in report.notices]
    if messages:
        scan["messages"] = messages
    rules = {r.id: r for r in report.rules}
    return {
        "version": SCHEMA_VERSION,
        "schema": SCHEMA_URL,
        "scan": scan,
        "vulnerabilities": [_vulnerability(f, rules) for f in report.findings],
    }


def _time(stamp: str | None) -> str:
    match = _TIME.match(stamp or "")
    return match.group(1) if match else _EPOCH


def _vulnerability(finding: Finding, rules: dict[str, Any]) -> dict[str, Any]:
    rule = rules.get(finding.rule_id)
    name = f"{finding.rule_id} {rule.name}" if rule is not None else finding.rule_id
    identifiers: list[dict[str, str]] = [{"type": "aisec_rule_id", "name": finding.rule_id, "value": finding.rule_id}]
    if rule is not None and rule.help_uri:
        identifiers[0]["url"] = rule.help_uri
    for cwe in rule.cwe if rule is not None else ():
        match = _CWE.match(cwe)
        if match:
            identifiers.append({"type": "cwe", "name": cwe, "value": match.group(1),
                                "url": f"https://cwe.mitre.org/data/definitions/{match.group(1)}.html"})
    location: dict[str, Any] = {"file": finding.path, "start_line": finding.location.line or 1}
    if finding.location.member:
        location["class"] = finding.location.member
    description = finding.message
    if rule is not None and rule.short_description:
        description = f"{finding.message}\n\n{rule.short_description}"
    vulnerability: dict[str, Any] = {
        # GitLab tracks a vulnerability by its id across pipelines: the stable fingerprint, as a UUID.
        "id": _uuid(finding.fingerprint),
        "name": name[:MAX_NAME_CHARS],
        "description": description[:MAX_DESCRIPTION_CHARS],
        "severity": _SEVERITY[finding.severity],
        "location": location,
        "identifiers": identifiers,
    }
    if rule is not None and rule.help_text:
        vulnerability["solution"] = rule.help_text[:MAX_SOLUTION_CHARS]
    return vulnerability


def _uuid(fingerprint: str) -> str:
    f = (fingerprint or "0" * 32).ljust(32, "0")
    return f"{f[:8]}-{f[8:12]}-{f[12:16]}-{f[16:20]}-{f[20:32]}"
