"""The command line: exit codes as a contract, reports written where asked, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aisec import __version__
from aisec.cli import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, main
from tests.conftest import fixture_path

MALICIOUS = fixture_path("AISEC-MDL-001", "fail", "os_system_p4.pkl")
BENIGN = fixture_path("AISEC-MDL-001", "pass", "state_dict.pkl")
TRUNCATED = fixture_path("AISEC-GEN-001", "fail", "truncated.pkl")


def _copy(src: Path, folder: Path, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or src.name)
    shutil.copyfile(src, target)
    return target


def test_exit_0_on_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(_copy(BENIGN, tmp_path))]) == EXIT_OK
    out = capsys.readouterr().out
    assert "PASS" in out and "not proof of safety" in out


def test_exit_1_on_findings_at_or_above_fail_on(tmp_path: Path) -> None:
    target = _copy(fixture_path("AISEC-MDL-003", "fail", "unknown_import.pkl"), tmp_path)  # medium
    assert main(["scan", str(target)]) == EXIT_OK  # default gate: high and above
    assert main(["scan", str(target), "--policy", "strict"]) == EXIT_FINDINGS
    assert main(["scan", str(target), "--fail-on", "medium"]) == EXIT_FINDINGS
    assert main(["scan", str(_copy(MALICIOUS, tmp_path))]) == EXIT_FINDINGS


def test_exit_2_when_the_scan_cannot_be_trusted(tmp_path: Path) -> None:
    assert main(["scan", str(tmp_path / "missing")]) == EXIT_ERROR
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["scan", str(empty)]) == EXIT_ERROR  # nothing scanned
    assert main(["scan", str(_copy(TRUNCATED, tmp_path / "t"))]) == EXIT_ERROR


def test_error_on_one_file_never_hides_findings_on_another(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    _copy(MALICIOUS, folder, "evil.pkl")
    _copy(fixture_path("AISEC-MDL-002", "fail", "unknown_call.pkl"), folder, "cut.pkl")
    (folder / "cut.pkl").write_bytes((folder / "cut.pkl").read_bytes()[:-1])  # drop STOP: the call is complete
    out = tmp_path / "r.json"
    assert main(["scan", str(folder), "-f", "json", "-o", str(out)]) == EXIT_ERROR
    doc = json.loads(out.read_text())
    rules = {(Path(f["path"]).name, f["rule_id"]) for f in doc["findings"]}
    assert ("evil.pkl", "AISEC-MDL-001") in rules
    assert ("cut.pkl", "AISEC-GEN-001") in rules and ("cut.pkl", "AISEC-MDL-002") in rules
    assert doc["summary"]["complete"] is False


def test_text_on_stdout_and_sarif_and_json_files_in_one_run(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    sarif, js = tmp_path / "out.sarif", tmp_path / "out.json"
    code = main(["scan", str(_copy(MALICIOUS, tmp_path / "m")), "--sarif", str(sarif), "--json", str(js)])
    assert code == EXIT_FINDINGS
    assert "AISEC-MDL-001" in capsys.readouterr().out
    assert json.loads(sarif.read_text())["runs"][0]["results"][0]["ruleId"] == "AISEC-MDL-001"
    assert json.loads(js.read_text())["schema"] == "aisec-report/v1"


def test_bad_rule_file_exits_2_naming_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "myrules"
    rules.mkdir()
    (rules / "AISEC-MDL-950.yaml").write_text(
        "id: AISEC-MDL-950\nname: x-rule\nshort_description: A short description here.\n"
        "full_description: A full description of the rule.\nseverity: catastrophic\nconfidence: high\n"
        "applies_to: [pickle]\nwhen: {fact: pickle.call, op: exists}\nmessage: '{path}'\nremediation: fix it\n")
    assert main(["scan", str(_copy(BENIGN, tmp_path / "m")), "--rules", str(rules)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "AISEC-MDL-950.yaml" in err and "field 'severity'" in err
    assert main(["rules", "validate", str(rules)]) == EXIT_ERROR


def test_bad_policy_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\nfail_on: sometimes\n")
    assert main(["scan", str(_copy(BENIGN, tmp_path / "m")), "--policy", str(policy)]) == EXIT_ERROR
    assert "p.yaml" in capsys.readouterr().err


def test_extra_rules_folder_adds_rules(tmp_path: Path) -> None:
    rules = tmp_path / "myrules"
    rules.mkdir()
    (rules / "AISEC-MDL-951.yaml").write_text(
        "id: AISEC-MDL-951\nname: ordered-dict-call\nshort_description: Calls OrderedDict (test rule).\n"
        "full_description: A test rule that fires on OrderedDict calls.\nseverity: high\nconfidence: high\n"
        "applies_to: [pickle]\nwhen: {fact: pickle.call, op: equals, value: collections.OrderedDict}\n"
        "message: '{path} calls {value}'\nremediation: none needed\n")
    assert main(["scan", str(_copy(BENIGN, tmp_path / "m")), "--rules", str(rules)]) == EXIT_FINDINGS
    assert main(["rules", "validate", str(rules)]) == EXIT_OK


def test_rules_list_show_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list"]) == EXIT_OK
    listing = capsys.readouterr().out
    assert "AISEC-MDL-001" in listing and "AISEC-GEN-001" in listing
    assert main(["rules", "show", "AISEC-MDL-001"]) == EXIT_OK
    assert "CWE-502" in capsys.readouterr().out
    assert main(["rules", "show", "AISEC-NOPE-000"]) == EXIT_ERROR
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_builtin_rules_folder_validates(capsys: pytest.CaptureFixture[str]) -> None:
    from aisec.paths import builtin_rules_dir

    assert main(["rules", "validate", str(builtin_rules_dir())]) == EXIT_OK
    assert "policies" in capsys.readouterr().out


def test_unwritable_output_is_an_error(tmp_path: Path) -> None:
    target = _copy(BENIGN, tmp_path)
    assert main(["scan", str(target), "-o", str(tmp_path / "no" / "such" / "dir" / "r.txt")]) == EXIT_ERROR


def test_python_dash_m_works(tmp_path: Path) -> None:
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "aisec", "scan", str(_copy(MALICIOUS, tmp_path)), "-f", "json"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == EXIT_FINDINGS
    assert json.loads(run.stdout)["findings"][0]["rule_id"] == "AISEC-MDL-001"
