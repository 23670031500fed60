"""Exit codes under fail-on, min-severity, baselines and suppressions; baseline matching and its input checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aisec.baseline import BaselineError, load_baseline, read_sarif
from aisec.cli import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from tests.conftest import REPO, SARIF_SCHEMA
from tests.workflow.conftest import (
    BENIGN,
    OS_SYSTEM_P2,
    OS_SYSTEM_P4,
    SUBPROCESS,
    TRUNCATED,
    UNKNOWN_IMPORT,
    put,
    read_json,
)


def _states(doc: dict[str, object]) -> dict[tuple[str, str], str]:
    findings = doc["findings"]
    assert isinstance(findings, list)
    return {(f["rule_id"], f["path"]): f.get("baseline_state", "") for f in findings}


def test_min_severity_and_fail_on_are_independent(work: Path, aisec) -> None:
    put(UNKNOWN_IMPORT, work / "m" / "medium.pkl")
    code, _, _ = aisec("scan", "m", "--min-severity", "info", "--fail-on", "high", "--sarif", "all.sarif")
    assert code == EXIT_OK  # the medium finding is reported, not gated
    levels = {r["properties"]["aisec/severity"] for r in read_json(work / "all.sarif")["runs"][0]["results"]}
    assert "medium" in levels
    assert aisec("scan", "m", "--min-severity", "info", "--fail-on", "medium")[0] == EXIT_FINDINGS
    # a finding filtered out of the report still fails the gate, and the summary says it was hidden
    code, out, _ = aisec("scan", "m", "--min-severity", "high", "--fail-on", "medium")
    assert code == EXIT_FINDINGS and "Not shown: 1 finding(s) at or above the gate (1 medium)" in out


def test_unchanged_findings_do_not_gate_but_gate_all_does(work: Path, aisec) -> None:
    put(OS_SYSTEM_P2, work / "m" / "model.pkl")
    assert aisec("scan", "m", "--write-baseline", "base.sarif")[0] == EXIT_FINDINGS
    code, out, _ = aisec("scan", "m", "--baseline", "base.sarif", "--json", "r.json")
    assert code == EXIT_OK
    assert "[unchanged]" in out and "0 new, 0 updated" in out
    doc = read_json(work / "r.json")
    assert set(_states(doc).values()) == {"unchanged"}
    assert doc["summary"]["gate_findings"] == 0 and doc["summary"]["baseline"]["unchanged"] >= 1
    assert aisec("scan", "m", "--baseline", "base.sarif", "--gate-all")[0] == EXIT_FINDINGS


def test_resaved_but_equally_malicious_model_is_not_new(work: Path, aisec) -> None:
    put(OS_SYSTEM_P2, work / "m" / "model.pkl")
    aisec("scan", "m", "--write-baseline", "base.sarif")
    put(OS_SYSTEM_P4, work / "m" / "model.pkl")  # other protocol, other bytes, same payload
    assert OS_SYSTEM_P2.read_bytes() != OS_SYSTEM_P4.read_bytes()
    code, _, _ = aisec("scan", "m", "--baseline", "base.sarif", "--json", "r.json")
    states = _states(read_json(work / "r.json"))
    assert states[("AISEC-MDL-001", "m/model.pkl")] == "unchanged"
    assert code == EXIT_OK


def test_changed_payload_is_updated_and_gates(work: Path, aisec) -> None:
    put(OS_SYSTEM_P4, work / "m" / "model.pkl")
    aisec("scan", "m", "--write-baseline", "base.sarif")
    put(SUBPROCESS, work / "m" / "model.pkl")
    code, _, _ = aisec("scan", "m", "--baseline", "base.sarif", "--sarif", "cur.sarif", "--json", "r.json")
    assert code == EXIT_FINDINGS
    states = _states(read_json(work / "r.json"))
    assert "updated" in {s for (rule, _p), s in states.items() if rule == "AISEC-MDL-001"}
    results = read_json(work / "cur.sarif")["runs"][0]["results"]
    assert {r["baselineState"] for r in results if r["ruleId"] == "AISEC-MDL-001"} >= {"updated"}


def test_new_finding_gates_and_fixed_one_is_absent_never_gated(work: Path, aisec, sarif_validator) -> None:
    put(OS_SYSTEM_P4, work / "m" / "old.pkl")
    put(BENIGN, work / "m" / "weights.pkl")
    aisec("scan", "m", "--write-baseline", "base.sarif")
    (work / "m" / "old.pkl").unlink()
    code, out, _ = aisec("scan", "m", "--baseline", "base.sarif", "--sarif", "s.sarif", "--json", "r.json")
    assert code == EXIT_OK  # the only change is a fix
    doc = read_json(work / "r.json")
    assert [a["path"] for a in doc["absent"]] == ["m/old.pkl"] * len(doc["absent"]) and doc["absent"]
    assert doc["summary"]["baseline"]["absent"] == len(doc["absent"])
    assert "absent   AISEC-MDL-001  m/old.pkl" in out
    log = read_json(work / "s.sarif")
    sarif_validator.validate(log)
    absent = [r for r in log["runs"][0]["results"] if r.get("baselineState") == "absent"]
    assert absent and all(r["kind"] == "pass" and r["level"] == "none" for r in absent)
    check = subprocess.run([sys.executable, str(REPO / "tests" / "data" / "check_sarif.py"), "--strict", "--multitool",
                            "off", "--schema", str(SARIF_SCHEMA), str(work / "s.sarif")],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout  # GitHub code scanning's ingestion rules accept it
    put(OS_SYSTEM_P2, work / "m" / "fresh.pkl")
    code, out, _ = aisec("scan", "m", "--baseline", "base.sarif")
    assert code == EXIT_FINDINGS and "[new]" in out


def test_scan_errors_gate_even_with_a_baseline(work: Path, aisec) -> None:
    put(TRUNCATED, work / "m" / "cut.pkl")
    aisec("scan", "m", "--write-baseline", "base.sarif")
    assert aisec("scan", "m", "--baseline", "base.sarif")[0] == EXIT_ERROR


def test_baseline_written_under_suppression_then_expired_suppression_is_new(work: Path, aisec) -> None:
    put(OS_SYSTEM_P4, work / "m" / "model.pkl")
    active = work / "active.yaml"
    active.write_text("name: active\nextends: default\nsuppressions:\n  - rule: AISEC-MDL-001\n    path: 'm/**'\n"
                      "    justification: reviewed payload, ticket SEC-1\n    expires: 2999-01-01\n"
                      "  - rule: AISEC-MDL-002\n    path: 'nothing/**'\n    justification: matches nothing at all\n")
    expired = work / "expired.yaml"
    expired.write_text(active.read_text().replace("name: active", "name: expired").replace("2999-01-01",
                                                                                           "2000-01-01"))
    code, _, _ = aisec("scan", "m", "--policy", str(active), "--fail-on", "critical", "--write-baseline", "b.sarif",
                       "--json", "r.json", "--sarif", "s.sarif")
    assert code == EXIT_OK
    doc = read_json(work / "r.json")
    assert doc["suppressed"] and all(f["rule_id"] == "AISEC-MDL-001" for f in doc["suppressed"])
    assert doc["unused_suppressions"] == ["AISEC-MDL-002 path=nothing/**"]
    props = read_json(work / "s.sarif")["runs"][0]["properties"]
    assert props["aisec/unusedSuppressions"] == ["AISEC-MDL-002 path=nothing/**"]
    assert props["aisec/suppressedCount"] == len(doc["suppressed"])
    # suppressed while the baseline was written: not in it; with the suppression expired it is back, and new
    code, out, _ = aisec("scan", "m", "--policy", str(expired), "--fail-on", "critical", "--baseline", "b.sarif")
    assert code == EXIT_FINDINGS and "AISEC-MDL-001 [new]" in out
    # still suppressed: not reported, and not "absent" either
    code, out, _ = aisec("scan", "m", "--policy", str(active), "--fail-on", "critical", "--baseline", "b.sarif",
                         "--json", "r2.json")
    assert code == EXIT_OK and read_json(work / "r2.json")["absent"] == []


def test_baseline_from_a_higher_floor_is_not_reported_absent(work: Path, aisec) -> None:
    put(UNKNOWN_IMPORT, work / "m" / "medium.pkl")
    aisec("scan", "m", "--min-severity", "info", "--write-baseline", "b.sarif")
    code, _, _ = aisec("scan", "m", "--min-severity", "high", "--baseline", "b.sarif", "--json", "r.json")
    assert code == EXIT_OK and read_json(work / "r.json")["absent"] == []


def test_gate_all_without_baseline_is_an_error(work: Path, aisec) -> None:
    put(BENIGN, work / "m" / "w.pkl")
    code, _, err = aisec("scan", "m", "--gate-all")
    assert code == EXIT_ERROR and "--baseline" in err


@pytest.mark.parametrize(("content", "field"), [
    ('{"runs": [{"tool": {"driver": {"name": "other"}}, "results": []}]}', "runs[0].tool.driver.name"),
    ('{"runs": [{"tool": {"driver": {"name": "aisec"}}}]}', "runs[0].results"),
    ('{"runs": [{"tool": {"driver": {"name": "aisec"}}, "results": [{"ruleId": "AISEC-MDL-001"}]}]}',
     "runs[0].results[0].partialFingerprints.aisecFinding/v1"),
    ('{"runs": [{"tool": {"driver": {"name": "aisec"}}, "results": [{"ruleId": "X", "partialFingerprints": '
     '{"aisecFinding/v1": "' + "a" * 64 + '"}}]}]}', "runs[0].results[0].locations[0].physicalLocation"),
    ('{"runs": []}', "runs"),
])
def test_malformed_baseline_names_file_and_field(work: Path, aisec, content: str, field: str) -> None:
    put(BENIGN, work / "m" / "w.pkl")
    (work / "b.sarif").write_text(content)
    code, _, err = aisec("scan", "m", "--baseline", "b.sarif")
    assert code == EXIT_ERROR
    assert "b.sarif" in err and field in err


def test_baseline_input_limits(tmp_path: Path) -> None:
    deep = tmp_path / "deep.sarif"
    deep.write_text('{"runs": [' + "[" * 5000 + "]" * 5000 + "]}")
    with pytest.raises(BaselineError, match="nested deeper"):
        read_sarif(deep)
    big = tmp_path / "big.sarif"
    big.write_text('{"runs": [{}], "pad": "' + "x" * 2000 + '"}')
    with pytest.raises(BaselineError, match="larger than 1000 bytes"):
        read_sarif(big, max_bytes=1000)
    dup = tmp_path / "dup.sarif"
    dup.write_text('{"runs": [{}], "runs": []}')
    with pytest.raises(BaselineError, match="duplicate"):
        read_sarif(dup)
    quoted = tmp_path / "quoted.sarif"  # brackets inside strings do not count as nesting
    quoted.write_text(json.dumps({"runs": [{"tool": {"driver": {"name": "aisec"}}, "results": []}],
                                  "note": "[" * 500 + '\\"{'}))
    assert load_baseline(quoted) == ()


def test_exit_code_matrix_fail_on_baseline_suppression(work: Path, aisec) -> None:
    """Every combination of gate threshold, baseline state and suppression, with one critical and one medium."""
    put(UNKNOWN_IMPORT, work / "m" / "medium.pkl")
    aisec("scan", "m", "--write-baseline", "only-medium.sarif")  # the critical one will be new against this
    put(OS_SYSTEM_P4, work / "m" / "evil.pkl")
    aisec("scan", "m", "--write-baseline", "both.sarif")  # everything unchanged against this
    (work / "sup.yaml").write_text("name: sup\nextends: default\nsuppressions:\n  - rule: AISEC-MDL-001\n"
                                   "    path: m/evil.pkl\n    justification: accepted risk, ticket SEC-9\n")
    expected = {
        # (fail_on, baseline, suppressed, gate_all): exit code
        ("high", None, False, False): EXIT_FINDINGS, ("high", None, True, False): EXIT_OK,
        ("medium", None, False, False): EXIT_FINDINGS, ("medium", None, True, False): EXIT_FINDINGS,
        ("high", "both.sarif", False, False): EXIT_OK, ("high", "both.sarif", True, False): EXIT_OK,
        ("medium", "both.sarif", False, False): EXIT_OK, ("medium", "both.sarif", False, True): EXIT_FINDINGS,
        ("high", "only-medium.sarif", False, False): EXIT_FINDINGS,
        ("high", "only-medium.sarif", True, False): EXIT_OK,
        ("medium", "only-medium.sarif", True, False): EXIT_OK,
        ("medium", "only-medium.sarif", True, True): EXIT_FINDINGS,
        ("low", "only-medium.sarif", False, False): EXIT_FINDINGS,
    }
    for (fail_on, baseline, suppressed, gate_all), want in expected.items():
        argv = ["scan", "m", "--fail-on", fail_on]
        argv += ["--baseline", baseline] if baseline else []
        argv += ["--policy", "sup.yaml"] if suppressed else []
        argv += ["--gate-all"] if gate_all else []
        assert aisec(*argv)[0] == want, argv


def test_same_fingerprint_with_a_new_severity_is_updated(work: Path, aisec) -> None:
    put(OS_SYSTEM_P4, work / "m" / "model.pkl")
    aisec("scan", "m", "--write-baseline", "b.sarif")
    (work / "high.yaml").write_text("name: high\nextends: default\nseverity_overrides: {AISEC-MDL-001: high}\n")
    code, _, _ = aisec("scan", "m", "--policy", "high.yaml", "--baseline", "b.sarif", "--json", "r.json")
    states = _states(read_json(work / "r.json"))
    assert states[("AISEC-MDL-001", "m/model.pkl")] == "updated" and code == EXIT_FINDINGS
