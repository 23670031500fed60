"""Render a ``Report`` for people: grouped by file, severity colours on a terminal, a summary line."""

from __future__ import annotations

from itertools import groupby

from aisec.model import ArtifactKind, Finding, Location, Report, Severity

_COLOURS = {Severity.CRITICAL: "\x1b[1;35m", Severity.HIGH: "\x1b[1;31m", Severity.MEDIUM: "\x1b[33m",
            Severity.LOW: "\x1b[36m", Severity.INFO: "\x1b[2m"}
_RESET = "\x1b[0m"
TEXT_RELATED_SHOWN = 5
"""Related places listed per finding in the text report (the rest is counted)."""
NOT_PROOF = "No findings is not proof of safety: aisec reports what it recognises, and reviews cannot be skipped."


def render_text(report: Report, *, colour: bool = False) -> str:
    """The human-readable report."""
    lines: list[str] = []
    for path, group in groupby(report.findings, key=lambda f: f.path):
        lines.append(_bold(path, colour))
        for finding in group:
            lines.append(_line(finding, colour))
            if finding.related_locations:
                lines.append(_related_line(finding))
        lines.append("")
    if report.errors:
        lines.append(_bold("Could not be fully scanned:", colour))
        lines.extend(f"  {e.path}: [{e.reason}] {e.message}" for e in report.errors)
        lines.append("")
    if report.unused_suppressions:
        lines.append("Suppressions that matched nothing: " + "; ".join(report.unused_suppressions))
    lines.extend(f"Notice: {n}" for n in report.notices)
    lines.extend(_baseline_lines(report))
    lines.extend(_unreported_lines(report))
    lines.append(_summary(report))
    if not report.findings and not report.gated_unreported:
        lines.append(NOT_PROOF)
    return "\n".join(lines) + "\n"


def _line(finding: Finding, colour: bool) -> str:
    sev = finding.severity.value.upper()
    tag = f"{_COLOURS[finding.severity]}{sev:<8}{_RESET}" if colour else f"{sev:<8}"
    where = []
    if finding.location.member:
        where.append(f"member {finding.location.member}")
    if finding.location.line:
        col = f":{finding.location.column}" if finding.location.column else ""
        where.append(f"line {finding.location.line}{col}")
    if finding.location.offset is not None:
        where.append(f"offset {finding.location.offset}")
    suffix = f" ({', '.join(where)})" if where else ""
    state = f" [{finding.baseline_state}]" if finding.baseline_state else ""
    return f"  {tag} {finding.rule_id}{state}  {finding.message}{suffix}"


def _related_line(finding: Finding) -> str:
    """Count and the first few related places; the true total when the producer capped the list."""
    related = finding.related_locations
    shown = ", ".join(r.message or _where(r.location) for r in related[:TEXT_RELATED_SHOWN])
    total = finding.evidence.get("affected_rows")
    count = total if isinstance(total, int) and not isinstance(total, bool) and total > len(related) else len(related)
    more = f", … ({count} in all; every one in the SARIF and JSON reports)" if count > TEXT_RELATED_SHOWN else ""
    return f"           affects {count}: {shown}{more}"


def _where(loc: Location) -> str:
    if loc.line:
        return f"line {loc.line}"
    return loc.pointer or (f"offset {loc.offset}" if loc.offset is not None else "?")


def _baseline_lines(report: Report) -> list[str]:
    states = [f.baseline_state for f in (*report.findings, *report.absent) if f.baseline_state]
    if not states:
        return []
    counts = ", ".join(f"{states.count(s)} {s}" for s in ("new", "updated", "unchanged", "absent"))
    lines = [f"Against the baseline: {counts}"
             f"{'' if report.gate_all else ' (the gate counts new and updated findings only)'}."]
    lines.extend(f"  absent   {f.rule_id}  {f.path}: {f.message}" for f in report.absent)
    return lines


def _unreported_lines(report: Report) -> list[str]:
    """Say so when the report floor hid findings the gate counts: the exit code must never be a surprise."""
    gated = report.gated_unreported
    if not gated:
        return []
    counts = ", ".join(f"{sum(f.severity is s for f in gated)} {s.value}" for s in Severity
                       if any(f.severity is s for f in gated))
    return [f"Not shown: {len(gated)} finding(s) at or above the gate ({counts}) are below the report's minimum "
            "severity; they still fail the gate (lower --min-severity to see them)."]


def _bold(text: str, colour: bool) -> str:
    return f"\x1b[1m{text}{_RESET}" if colour else text


def _summary(report: Report) -> str:
    counts = {s: 0 for s in Severity}
    for finding in report.findings:
        counts[finding.severity] += 1
    parts = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    gate = len(report.gate_findings)
    verdict = "FAIL" if gate or not report.trustworthy else "PASS"
    return (f"{verdict}: {scanned(report)}, {plural(len(report.findings), 'finding')}"
            f"{f' ({parts})' if parts else ''}, {plural(len(report.errors), 'scan error')}, {len(report.suppressed)} "
            f"suppressed; gate fails on {report.fail_on.value} and above ({gate} at or above).")


def scanned(report: Report) -> str:
    """``3 files and 1 model folder scanned``, or ``nothing to scan`` (the why is among the notices)."""
    folders = sum(1 for a in report.artifacts if a.kind is ArtifactKind.DIRECTORY)
    files = len(report.artifacts) - folders
    if not report.artifacts:
        return "nothing scanned" if report.errors else "nothing to scan"
    return plural(files, "file") + (f" and {plural(folders, 'model folder')}" if folders else "") + " scanned"


def plural(count: int, noun: str) -> str:
    """``1 finding``, ``2 findings``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
