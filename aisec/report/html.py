"""Render an aisec SARIF report (untrusted input) as one self-contained HTML page for auditors."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aisec.baseline import read_sarif
from aisec.errors import ConfigError
from aisec.report.escape import readable
from aisec.report.sarif import path_of

SEVERITIES = ("critical", "high", "medium", "low", "info")
FAMILIES = ("model", "dataset", "signature", "other")
MAX_TEXT = 2000
"""Longest string shown from the input; longer ones are cut (the SARIF file holds the rest)."""
HTML_RELATED_SHOWN = 5
"""Related places (affected rows) listed per finding; the rest is counted."""
MAX_RESULTS = 20_000
"""Most results rendered; the page says when more were left out."""
_COLOURS = {"critical": "#7b1fa2", "high": "#c62828", "medium": "#ef6c00", "low": "#1565c0", "info": "#607d8b",
            "model": "#37474f", "dataset": "#00796b", "signature": "#5d4037", "other": "#9e9e9e"}
_LEVEL_SEVERITY = {"error": "high", "warning": "medium", "note": "low", "none": "info"}
_DATASET_KINDS = frozenset({"csv", "json", "jsonl", "parquet"})
_MODEL_KINDS = frozenset({"pickle", "pytorch_zip", "torchscript_zip", "keras_zip", "npz", "hdf5", "gguf", "safetensors",
                          "onnx", "tf_savedmodel", "protobuf", "npy", "directory", "jinja"})
_RULE_FAMILY = {"MDL": "model", "DAT": "dataset", "SIG": "signature"}
_LINED_KINDS = frozenset({"json", "jsonl", "json_records", "csv", "python", "jinja", "text", "signature"})
"""Kinds whose findings sit on real lines; SARIF's ``startLine`` 1 on anything else is a placeholder."""


class HtmlReportError(ConfigError):
    """The SARIF input cannot be rendered."""


@dataclass(frozen=True, kw_only=True)
class _Result:
    rule_id: str
    severity: str
    message: str
    path: str
    line: int | None
    member: str | None
    state: str | None
    related: tuple[str, ...] = ()
    """The first few related places' labels (e.g. ``row 123``)."""
    related_total: int = 0
    """How many related places the finding has in all (the producer's count when it capped the list)."""


@dataclass(frozen=True, kw_only=True)
class _Artifact:
    path: str
    kind: str
    sha256: str
    size: int | None
    signature: str | None


def render_html_from_sarif(path: Path) -> str:
    """Read ``path`` defensively (size, depth, strict JSON) and render the audit page."""
    # A file name that is not UTF-8 comes back from the SARIF URI with its raw bytes; show them as \xNN.
    return readable(render_html(read_sarif(path, error=HtmlReportError), source=path.name))


def render_html(document: dict[str, Any], *, source: str = "report.sarif") -> str:
    """The page for a parsed SARIF log; every value taken from it is escaped and bounded."""
    run = document["runs"][0]
    if not isinstance(run, dict):
        raise HtmlReportError("runs[0] is not an object", source=source)
    driver = _dict(_dict(run.get("tool")).get("driver"))
    props = _dict(run.get("properties"))
    rules = {_text(r.get("id")): r for r in _list(driver.get("rules")) if isinstance(r, dict)}
    artifacts = [_artifact(a) for a in _list(run.get("artifacts")) if isinstance(a, dict)]
    raw_results = [r for r in _list(run.get("results")) if isinstance(r, dict)]
    kinds = {a.path: a.kind for a in artifacts}
    results = [_placed(_result(r, rules), kinds) for r in raw_results[:MAX_RESULTS]]
    left_out = max(0, len(raw_results) - MAX_RESULTS)
    invocation = _dict(_list(run.get("invocations"))[0]) if _list(run.get("invocations")) else {}
    notes = [n for n in _list(invocation.get("toolExecutionNotifications")) if isinstance(n, dict)]
    live = [r for r in results if r.state != "absent"]
    by_severity = Counter(r.severity for r in live)
    by_family = Counter(_family(r, kinds) for r in live)
    meta = {
        "tool": f"{_text(driver.get('name')) or '?'} {_text(driver.get('version'))}".strip(),
        "policy": _text(props.get("aisec/policy")) or "?",
        "policy digest": _text(props.get("aisec/policyDigest")) or "?",
        "fail on": _text(props.get("aisec/failOn")) or "?",
        "started": _text(invocation.get("startTimeUtc")) or "?",
        "finished": _text(invocation.get("endTimeUtc")) or "?",
        "source": source,
    }
    fail_on = meta["fail on"]
    gate = sum(1 for r in live if fail_on in SEVERITIES and SEVERITIES.index(r.severity) <= SEVERITIES.index(fail_on))
    parts = [_HEAD.replace("{title}", _e(f"aisec audit report: {source}")), "<body>",
             f"<h1>aisec audit report</h1>{_meta_table(meta)}",
             _verdict(len(live), gate, len(notes), fail_on),
             '<section id="summary"><h2>Summary</h2><div class="charts">',
             _chart("Findings by severity", "severity", [(s, by_severity.get(s, 0)) for s in SEVERITIES]),
             _chart("Findings by artifact family", "family", [(f, by_family.get(f, 0)) for f in FAMILIES]),
             "</div>", _counts_line(props, results, len(artifacts)), _fired(live, rules), _files_with_findings(live),
             "</section>"]
    if left_out:
        parts.append(f'<p class="warn">{left_out} more results are in the SARIF file and not shown here.</p>')
    if notes:
        parts.append(_errors(notes))
    parts.append(_dataset_section(live, kinds))
    parts.append(_artifact_sections(artifacts, results))
    absent = [r for r in results if r.state == "absent"]
    if absent:
        parts.append("<section id=\"absent\"><h2>Fixed since the baseline (absent)</h2>"
                     + _findings_table(absent, dataset=False) + "</section>")
    parts.append(_unused(props))
    parts.append("<footer>No findings is not proof of safety: aisec reports what it recognises.</footer>"
                 "</body></html>\n")
    return "".join(parts)


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1180px;color:#212121;
padding:0 1rem;line-height:1.45}
h1{margin-bottom:.3rem}h2{border-bottom:2px solid #e0e0e0;padding-bottom:.2rem;margin-top:2rem}
h3{margin:1.4rem 0 .4rem;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1rem;word-break:break-all}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #e0e0e0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.mono,span.mono{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
table.meta{width:auto}table.meta th{width:9rem}td.rule{white-space:nowrap}
table.facts td:nth-child(2){width:36rem}
.sev{display:inline-block;color:#fff;border-radius:3px;padding:0 .4rem;font-size:.8rem;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:2rem}.chart{flex:1 1 420px}
.verdict{font-size:1.2rem;font-weight:700;padding:.6rem 1rem;border-radius:4px;display:inline-block}
.pass{background:#e8f5e9;color:#1b5e20}.fail{background:#ffebee;color:#b71c1c}.warn{color:#b71c1c}
footer{margin-top:2rem;color:#757575;font-size:.85rem}
</style></head>
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _artifact(entry: dict[str, Any]) -> _Artifact:
    props = _dict(entry.get("properties"))
    signature = next((_text(v) for k, v in sorted(props.items()) if "signature" in k.lower() and _text(v)), None)
    size = entry.get("length")
    return _Artifact(path=path_of(entry.get("location")) or "?",
                     kind=_text(props.get("aisec/kind")) or "?",
                     sha256=_text(_dict(entry.get("hashes")).get("sha-256")),
                     size=size if isinstance(size, int) and not isinstance(size, bool) else None, signature=signature)


def _result(entry: dict[str, Any], rules: dict[str, Any]) -> _Result:
    props = _dict(entry.get("properties"))
    severity = _text(props.get("aisec/severity")).lower()
    if severity not in SEVERITIES:
        rule = _dict(rules.get(_text(entry.get("ruleId"))))
        severity = _text(_dict(rule.get("properties")).get("aisec/severity")).lower()
    if severity not in SEVERITIES:
        severity = _LEVEL_SEVERITY.get(_text(entry.get("level")), "medium")
    location = _dict(_list(entry.get("locations"))[0]) if _list(entry.get("locations")) else {}
    physical = _dict(location.get("physicalLocation"))
    line = _dict(physical.get("region")).get("startLine")
    state = _text(entry.get("baselineState")) or None
    related_entries = _list(entry.get("relatedLocations"))
    related = tuple(_related_label(_dict(r)) for r in related_entries[:HTML_RELATED_SHOWN])
    total = props.get("aisec/affected_rows")
    related_total = max(len(related_entries),
                        total if isinstance(total, int) and not isinstance(total, bool) and related_entries else 0)
    return _Result(rule_id=_text(entry.get("ruleId")) or "?", severity=severity, related=related,
                   related_total=related_total,
                   message=_text(_dict(entry.get("message")).get("text")),
                   path=path_of(physical.get("artifactLocation")) or "?",
                   line=line if isinstance(line, int) and not isinstance(line, bool) else None,
                   member=_text(props.get("aisec/member")) or None, state=state)


def _placed(result: _Result, kinds: dict[str, str]) -> _Result:
    """Drop the placeholder line of a finding in a binary artifact (SARIF needs a startLine; "line 1" of a
    pickle means nothing to a reader)."""
    if result.line is None or kinds.get(result.path, "?") in _LINED_KINDS or kinds.get(result.path) is None:
        return result
    return replace(result, line=None)


def _fired(results: list[_Result], rules: dict[str, Any]) -> str:
    """The rules that fired, worst first, each with its count and short description."""
    counts = Counter(r.rule_id for r in results)
    if not counts:
        return ""
    worst = {rid: min(SEVERITIES.index(r.severity) for r in results if r.rule_id == rid) for rid in counts}
    rows = "".join(
        f'<tr data-fired="{_e(rid)}"><td>{_severity_badge(SEVERITIES[worst[rid]])}</td><td class="mono">{_e(rid)}'
        f'</td><td>{n}</td><td>{_e(_text(_dict(_dict(rules.get(rid)).get("shortDescription")).get("text")))}</td>'
        "</tr>" for rid, n in sorted(counts.items(), key=lambda kv: (worst[kv[0]], -kv[1], kv[0])))
    return ('<h3>Rules that fired</h3><table id="fired"><tr><th>worst</th><th>rule</th><th>findings</th>'
            f"<th>what it means</th></tr>{rows}</table>")


def _files_with_findings(results: list[_Result]) -> str:
    """Every file with findings, worst first, linked to its section below."""
    by_path: dict[str, list[_Result]] = {}
    for r in results:
        by_path.setdefault(r.path, []).append(r)
    if not by_path:
        return ""
    worst = {p: min(SEVERITIES.index(r.severity) for r in rs) for p, rs in by_path.items()}
    rows = "".join(
        f'<tr data-file="{_e(p)}"><td>{_severity_badge(SEVERITIES[worst[p]])}</td><td class="mono">{_e(p)}</td>'
        f"<td>{len(rs)}</td></tr>" for p, rs in sorted(by_path.items(), key=lambda kv: (worst[kv[0]], kv[0])))
    return ('<h3>Files with findings</h3><table id="files"><tr><th>worst</th><th>file</th><th>findings</th></tr>'
            f"{rows}</table>")


def _related_label(entry: dict[str, Any]) -> str:
    text = _text(_dict(entry.get("message")).get("text"))
    if text:
        return text
    line = _dict(_dict(entry.get("physicalLocation")).get("region")).get("startLine")
    return f"line {line}" if isinstance(line, int) and not isinstance(line, bool) else "?"


def _related_html(result: _Result) -> str:
    if not result.related_total:
        return ""
    more = f", … ({result.related_total} in all, every one in the SARIF file)" \
        if result.related_total > len(result.related) else ""
    return (f'<br><small data-related="{result.related_total}">affects {result.related_total}: '
            f'{_e(", ".join(result.related))}{_e(more)}</small>')


def _family(result: _Result, kinds: dict[str, str]) -> str:
    kind = kinds.get(result.path)
    if kind in _DATASET_KINDS:
        return "dataset"
    if kind == "signature":
        return "signature"
    if kind in _MODEL_KINDS:
        return "model"
    return _RULE_FAMILY.get(result.rule_id.split("-")[1] if result.rule_id.count("-") >= 2 else "", "other")


def _meta_table(meta: dict[str, str]) -> str:
    rows = "".join(f'<tr><th>{_e(k)}</th><td class="mono" data-meta="{_e(k)}">{_e(v)}</td></tr>'
                   for k, v in meta.items())
    return f'<table class="meta">{rows}</table>'


def _verdict(findings: int, gate: int, errors: int, fail_on: str) -> str:
    if errors:
        text, cls = f"INCOMPLETE: {errors} artifact problem(s); the scan cannot be trusted", "fail"
    elif gate:
        text, cls = f"FAIL: {gate} finding(s) at or above {fail_on}", "fail"
    else:
        text, cls = f"PASS: nothing at or above {fail_on} ({findings} finding(s) in total)", "pass"
    return f'<p><span class="verdict {cls}" id="verdict">{_e(text)}</span></p>'


def _chart(title: str, axis: str, bars: list[tuple[str, int]]) -> str:
    """A horizontal bar chart as inline SVG; the numbers are also in the DOM as text."""
    width, label_w, bar_h, gap = 460, 90, 24, 8
    top = max((n for _, n in bars), default=0) or 1
    height = len(bars) * (bar_h + gap) + gap
    rows = []
    for i, (name, count) in enumerate(bars):
        y = gap + i * (bar_h + gap)
        length = round((width - label_w - 50) * count / top)
        rows.append(
            f'<g data-{axis}="{_e(name)}"><text x="{label_w - 6}" y="{y + 17}" text-anchor="end" '
            f'font-size="13">{_e(name)}</text><rect x="{label_w}" y="{y}" width="{max(length, 1)}" height="{bar_h}" '
            f'fill="{_COLOURS[name]}" rx="2"/><text x="{label_w + max(length, 1) + 6}" y="{y + 17}" font-size="13" '
            f'class="count" data-count-{axis}="{_e(name)}">{count}</text></g>')
    return (f'<figure class="chart" id="chart-{axis}"><figcaption><strong>{_e(title)}</strong></figcaption>'
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(title)}" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}">{"".join(rows)}</svg></figure>')


def _counts_line(props: dict[str, Any], results: list[_Result], artifacts: int) -> str:
    live = sum(1 for r in results if r.state != "absent")
    suppressed = props.get("aisec/suppressedCount")
    suppressed_n = suppressed if isinstance(suppressed, int) and not isinstance(suppressed, bool) else 0
    states = Counter(r.state for r in results if r.state)
    baseline = ""
    if states:
        baseline = "; against the baseline: " + ", ".join(
            f'<span data-baseline="{s}">{states.get(s, 0)}</span> {s}' for s in ("new", "updated", "unchanged",
                                                                                "absent"))
    return (f'<p id="totals"><span data-total="artifacts">{artifacts}</span> artifacts, '
            f'<span data-total="findings">{live}</span> findings, '
            f'<span data-total="suppressed">{suppressed_n}</span> suppressed{baseline}.</p>')


def _errors(notes: list[dict[str, Any]]) -> str:
    rows = "".join(f'<tr><td class="mono">{_e(_text(_dict(n.get("message")).get("text")))}</td></tr>' for n in notes)
    return f'<section id="errors"><h2>Could not be fully scanned</h2><table>{rows}</table></section>'


def _severity_badge(severity: str) -> str:
    return f'<span class="sev" style="background:{_COLOURS[severity]}">{_e(severity)}</span>'


def _findings_table(results: Iterable[_Result], *, dataset: bool) -> str:
    where = "row (line)" if dataset else "line / member"
    items = list(results)
    states = any(r.state for r in items)
    rows = []
    for r in items:
        place = str(r.line) if r.line is not None else ""
        if r.member:
            place = f"{place} {r.member}".strip()
        rows.append(f'<tr data-rule="{_e(r.rule_id)}"><td>{_severity_badge(r.severity)}</td>'
                    f'<td class="mono rule">{_e(r.rule_id)}</td><td>{_e(r.message)}{_related_html(r)}</td>'
                    f'<td class="mono" data-line="{_e(r.line or "")}">{_e(place)}</td>'
                    + (f"<td>{_e(r.state or '')}</td>" if states else "") + "</tr>")
    if not rows:
        return "<p>No findings.</p>"
    return (f"<table><tr><th>severity</th><th>rule</th><th>message</th><th>{_e(where)}</th>"
            + ("<th>baseline</th>" if states else "") + "</tr>" + "".join(rows) + "</table>")


def _dataset_section(results: list[_Result], kinds: dict[str, str]) -> str:
    rows = [r for r in results if kinds.get(r.path) in _DATASET_KINDS or r.rule_id.startswith("AISEC-DAT-")]
    if not rows:
        return ""
    by_path: dict[str, list[_Result]] = {}
    for r in rows:
        by_path.setdefault(r.path, []).append(r)
    body = "".join(f'<h3>{_e(p)}</h3>{_findings_table(sorted(rs, key=lambda r: r.line or 0), dataset=True)}'
                   for p, rs in sorted(by_path.items()))
    return f'<section id="datasets"><h2>Dataset findings by row</h2>{body}</section>'


def _artifact_sections(artifacts: list[_Artifact], results: list[_Result]) -> str:
    """Artifacts with findings in full; clean files and finding-free folders collapsed into one list."""
    by_path: dict[str, list[_Result]] = {}
    for r in results:
        if r.state != "absent":
            by_path.setdefault(r.path, []).append(r)
    known = {a.path for a in artifacts}
    extra = [_Artifact(path=p, kind="?", sha256="", size=None, signature=None) for p in sorted(set(by_path) - known)]
    parts = ['<section id="artifacts"><h2>Artifacts with findings</h2>']
    clean: list[str] = []
    for a in [*artifacts, *extra]:
        mine = by_path.get(a.path, [])
        problems = sorted({r.rule_id for r in mine if r.rule_id.startswith("AISEC-SIG-")})
        signature = a.signature or (f"{', '.join(problems)} (see findings)" if problems else "not recorded")
        if not mine:
            clean.append(f'<tr data-artifact="{_e(a.path)}" data-artifact-findings="0"><td class="mono">{_e(a.path)}'
                         f'</td><td>{_e(a.kind)}</td><td class="mono">{_e(a.sha256 or "not computed")}</td>'
                         f'<td>{_e(a.size if a.size is not None else "-")}</td><td>{_e(signature)}</td></tr>')
            continue
        parts.append(
            f'<div class="artifact" data-artifact="{_e(a.path)}"><h3>{_e(a.path)}</h3><table class="facts">'
            "<tr><th>kind</th><th>sha256</th><th>size</th><th>signature</th><th>findings</th></tr>"
            f'<tr><td>{_e(a.kind)}</td><td class="mono">{_e(a.sha256 or "not computed")}</td>'
            f'<td>{_e(a.size if a.size is not None else "-")}</td><td>{_e(signature)}</td>'
            f'<td data-artifact-findings="{len(mine)}">{len(mine)}</td></tr></table>'
            f'{_findings_table(mine, dataset=a.kind in _DATASET_KINDS)}</div>')
    if len(parts) == 1:
        parts.append("<p>No artifact has findings.</p>")
    parts.append("</section>")
    if clean:
        parts.append(f'<details id="clean"><summary>{len(clean)} artifact(s) without findings (files and model '
                     "folders)</summary><table><tr><th>path</th><th>kind</th><th>sha256</th><th>size</th>"
                     f"<th>signature</th></tr>{''.join(clean)}</table></details>")
    return "".join(parts)


def _unused(props: dict[str, Any]) -> str:
    unused = [_text(u) for u in _list(props.get("aisec/unusedSuppressions")) if _text(u)]
    if not unused:
        return ""
    items = "".join(f'<li class="mono">{_e(u)}</li>' for u in unused)
    return f'<section id="unused"><h2>Suppressions that matched nothing</h2><ul>{items}</ul></section>'


__all__ = ["HtmlReportError", "render_html", "render_html_from_sarif"]
