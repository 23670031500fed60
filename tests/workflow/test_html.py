"""``aisec report``: a self-contained HTML page from untrusted SARIF, checked in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aisec.cli import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from aisec.report.html import render_html
from tests.conftest import fixture_path
from tests.workflow.conftest import BENIGN, OS_SYSTEM_P4, UNKNOWN_IMPORT, put

HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&'


def _sarif_with_dataset_rows() -> dict[str, Any]:
    """A SARIF log as aisec writes it, with a dataset artifact whose findings sit on rows, and hostile text."""
    def result(rule: str, severity: str, uri: str, line: int, state: str | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "ruleId": rule, "level": "error", "message": {"text": f"{rule} on {uri} {HOSTILE}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                                                "region": {"startLine": line}}}],
            "partialFingerprints": {"aisecFinding/v1": "ab" * 32}, "properties": {"aisec/severity": severity}}
        if state:
            entry["baselineState"] = state
        return entry

    return {"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "aisec", "version": "9.9.9", "rules": []}},
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": [],
                         "startTimeUtc": "2026-01-01T00:00:00Z", "endTimeUtc": "2026-01-01T00:00:01Z"}],
        "artifacts": [
            {"location": {"uri": "data/train.jsonl"}, "hashes": {"sha-256": "1" * 64},
             "properties": {"aisec/kind": "jsonl"}},
            {"location": {"uri": "models/m.safetensors"}, "hashes": {"sha-256": "2" * 64},
             "properties": {"aisec/kind": "safetensors", "aisec/signature": "verified: sha256:abcd"}},
            {"location": {"uri": f"models/{HOSTILE}.pkl"}, "properties": {"aisec/kind": "pickle"}},
        ],
        "results": [
            result("AISEC-DAT-001", "high", "data/train.jsonl", 17),
            result("AISEC-DAT-002", "medium", "data/train.jsonl", 4),
            result("AISEC-DAT-002", "low", "data/train.jsonl", 230),
            result("AISEC-MDL-001", "critical", f"models/{HOSTILE}.pkl", 1, "new"),
            result("AISEC-MDL-001", "critical", "models/gone.pkl", 1, "absent"),
        ],
        "properties": {"aisec/policy": f"team {HOSTILE}", "aisec/policyDigest": "f" * 64, "aisec/failOn": "high",
                       "aisec/suppressedCount": 2, "aisec/unusedSuppressions": ["AISEC-MDL-009 path=x/**"]},
    }]}


def test_every_input_string_is_escaped_and_nothing_external_is_loaded() -> None:
    page = render_html(_sarif_with_dataset_rows())
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)  # no external resources
    assert "default-src 'none'" in page
    assert "<img" not in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _browser(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on PATH: see the README's Set up (sudo apt-get install chromium; .ci/run does it)")
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def _count(dom: str, attribute: str, name: str) -> int:
    match = re.search(rf'data-count-{attribute}="{name}"[^>]*>(\d+)<', dom)
    assert match, f"no {attribute} count for {name}"
    return int(match.group(1))


def test_report_renders_in_a_real_browser(work: Path, aisec, tmp_path: Path) -> None:
    put(OS_SYSTEM_P4, work / "models" / "evil.pkl")
    put(UNKNOWN_IMPORT, work / "models" / "medium.pkl")
    put(fixture_path("AISEC-DAT-001", "fail", "notes.jsonl"), work / "data" / "notes.jsonl")
    put(BENIGN, work / "models" / "clean.pkl")
    code, _, _ = aisec("scan", "models", "data", "--sarif", "scan.sarif", "--json", "scan.json")
    assert code == EXIT_FINDINGS
    assert aisec("report", "scan.sarif", "-o", "report.html")[0] == EXIT_OK
    ours = json.loads((work / "scan.json").read_text())
    run = _browser(["--dump-dom", (work / "report.html").as_uri()], tmp_path / "profile")
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    for severity, expected in ours["summary"]["by_severity"].items():
        assert _count(dom, "severity", severity) == expected
    in_data = [f for f in ours["findings"] if f["path"].startswith("data/")]
    assert in_data and all(f["location"].get("line") for f in in_data)  # dataset findings sit on rows
    assert _count(dom, "family", "model") == ours["summary"]["findings"] - len(in_data)
    assert _count(dom, "family", "dataset") == len(in_data)
    datasets = dom.split('id="datasets"', 1)[1].split("</section>", 1)[0]
    assert [int(n) for n in re.findall(r'data-line="(\d+)"', datasets)] == sorted(f["location"]["line"]
                                                                                for f in in_data)
    assert f'data-total="findings">{ours["summary"]["findings"]}<' in dom
    assert re.search(r'id="verdict">FAIL: \d+ finding', dom)
    assert f'data-meta="policy digest">{ours["policy"]["digest"]}<' in dom
    assert 'data-meta="tool">aisec ' in dom
    for artifact in ours["artifacts"]:
        assert f'data-artifact="{artifact["path"]}"' in dom
        if artifact["sha256"]:
            assert artifact["sha256"] in dom
    # A summary first: verdict, counts, the rules that fired and the files with findings, before any detail.
    summary = dom.split('id="summary"', 1)[1].split("</section>", 1)[0]
    assert dom.index('id="verdict"') < dom.index('id="summary"') < dom.index('id="artifacts"')
    fired = {f["rule_id"] for f in ours["findings"]}
    assert set(re.findall(r'data-fired="([^"]+)"', summary)) == fired
    assert set(re.findall(r'data-file="([^"]+)"', summary)) == {f["path"] for f in ours["findings"]}
    # Clean files are listed once, collapsed; the detailed sections are only for files with findings.
    clean = dom.split('<details id="clean"', 1)[1].split("</details>", 1)[0]
    assert not clean.lstrip().startswith("open") and 'data-artifact="models/clean.pkl"' in clean
    details = dom.split('id="artifacts"', 1)[1].split("</section>", 1)[0]
    assert "models/clean.pkl" not in details and 'data-artifact="models/evil.pkl"' in details
    # A pickle has no lines: its findings show no "line 1".
    evil = details.split('data-artifact="models/evil.pkl"', 1)[1].split("</div>", 1)[0]
    assert re.findall(r'data-line="([^"]*)"', evil) and set(re.findall(r'data-line="([^"]*)"', evil)) == {""}
    shot = tmp_path / "artifacts" / "report.png"
    shot.parent.mkdir()
    run = _browser([f"--screenshot={shot}", "--window-size=1280,2000", (work / "report.html").as_uri()],
                   tmp_path / "profile2")
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_dataset_rows_baseline_and_hostile_text_in_a_real_browser(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(_sarif_with_dataset_rows()), encoding="utf-8")
    run = _browser(["--dump-dom", page.as_uri()], tmp_path / "profile")
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    assert "<script>alert" not in dom  # the hostile text stayed text
    assert _count(dom, "severity", "critical") == 1  # the absent finding is not counted
    assert _count(dom, "family", "dataset") == 3 and _count(dom, "family", "model") == 1
    datasets = dom.split('id="datasets"', 1)[1].split("</section>", 1)[0]
    assert [int(n) for n in re.findall(r'data-line="(\d+)"', datasets)] == [4, 17, 230]  # by row
    assert "verified: sha256:abcd" in dom  # the signature status the SARIF recorded
    assert 'id="absent"' in dom and "models/gone.pkl" in dom
    assert 'data-baseline="new">1<' in dom and 'data-baseline="absent">1<' in dom
    assert 'data-total="suppressed">2<' in dom and "AISEC-MDL-009 path=x/**" in dom


def test_report_refuses_oversized_deep_or_non_sarif_input(work: Path, aisec) -> None:
    (work / "deep.sarif").write_text('{"runs": [' + "[" * 3000 + "]" * 3000 + "]}")
    code, _, err = aisec("report", "deep.sarif")
    assert code == EXIT_ERROR and "deep.sarif" in err and "nested deeper" in err
    (work / "list.sarif").write_text("[1, 2]")
    code, _, err = aisec("report", "list.sarif")
    assert code == EXIT_ERROR and "not a SARIF log" in err
    (work / "odd.sarif").write_text(json.dumps({"runs": [{"results": [{"ruleId": 5, "message": []}, "x"],
                                                          "artifacts": "nope", "properties": []}]}))
    code, out, _ = aisec("report", "odd.sarif")  # wrong types degrade to "?" instead of crashing
    assert code == EXIT_OK and "<html" in out


def test_signature_status_comes_from_properties_or_signature_findings() -> None:
    doc = _sarif_with_dataset_rows()
    run = doc["runs"][0]
    run["artifacts"].append({"location": {"uri": "models"}, "properties": {"aisec/kind": "directory"}})
    run["results"].append({"ruleId": "AISEC-SIG-002", "message": {"text": "signature does not match"},
                           "locations": [{"physicalLocation": {"artifactLocation": {"uri": "models"}}}],
                           "properties": {"aisec/severity": "high"}})
    page = render_html(doc)
    folder = page.split('data-artifact="models"', 1)[1].split("</div>", 1)[0]
    assert "AISEC-SIG-002 (see findings)" in folder
    tensors = page.split('data-artifact="models/m.safetensors"', 1)[1].split("</div>", 1)[0]
    assert "verified: sha256:abcd" in tensors
