"""Configuration precedence (flag > AISEC_* > project file > default), validation, and the scanned-folder refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest

from aisec.cli import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from aisec.config import FormatName, resolve
from aisec.errors import ConfigError
from aisec.report import OutputFormat
from tests.workflow.conftest import UNKNOWN_IMPORT, put, read_json


def _medium_model(work: Path) -> None:
    put(UNKNOWN_IMPORT, work / "m" / "medium.pkl")  # a medium finding: passes "default", fails "strict"


def test_default_then_project_file_then_env_then_flag(work: Path, aisec, monkeypatch: pytest.MonkeyPatch) -> None:
    _medium_model(work)
    assert aisec("scan", "m")[0] == EXIT_OK  # built-in default policy gates on high
    (work / "aisec.yaml").write_text("fail_on: medium\n")
    assert aisec("scan", "m")[0] == EXIT_FINDINGS  # project file
    monkeypatch.setenv("AISEC_FAIL_ON", "critical")
    assert aisec("scan", "m")[0] == EXIT_OK  # environment beats the file
    assert aisec("scan", "m", "--fail-on", "low")[0] == EXIT_FINDINGS  # flag beats the environment
    monkeypatch.setenv("AISEC_FAIL_ON", "")
    assert aisec("scan", "m")[0] == EXIT_FINDINGS  # an empty variable is unset: the file applies again


def test_config_show_names_every_source(work: Path, aisec, monkeypatch: pytest.MonkeyPatch) -> None:
    (work / "aisec.yaml").write_text("policy: strict\nmin_severity: info\nformat: json\n")
    monkeypatch.setenv("AISEC_FORMAT", "sarif")
    code, out, _ = aisec("config", "show", "--json", "--min-severity", "HIGH")
    assert code == EXIT_OK
    settings = json.loads(out)["settings"]
    assert settings["policy"] == {"value": "strict", "source": "project file aisec.yaml"}
    assert settings["format"] == {"value": "sarif", "source": "environment (AISEC_FORMAT)"}
    assert settings["min_severity"] == {"value": "high", "source": "command line (--min-severity)"}
    assert settings["rules"] == {"value": None, "source": "default"}
    code, out, _ = aisec("config", "show")
    assert "fail_on       medium" in out and "from the policy" in out  # strict's own fail_on
    assert "policy        strict" in out and "from project file aisec.yaml" in out


def test_env_format_and_policy_drive_the_scan(work: Path, aisec, monkeypatch: pytest.MonkeyPatch) -> None:
    _medium_model(work)
    monkeypatch.setenv("AISEC_FORMAT", "json")
    monkeypatch.setenv("AISEC_POLICY", "strict")
    code, out, _ = aisec("scan", "m")
    assert code == EXIT_FINDINGS
    assert json.loads(out)["policy"]["name"] == "strict"


def test_pyproject_tool_table_and_precedence_among_files(work: Path, aisec) -> None:
    _medium_model(work)
    (work / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.aisec]\npolicy = "strict"\n')
    assert aisec("scan", "m")[0] == EXIT_FINDINGS
    (work / "aisec.yaml").write_text("policy: default\n")
    code, out, _ = aisec("scan", "m")
    assert code == EXIT_OK  # aisec.yaml takes precedence over pyproject.toml
    assert "pyproject.toml: not read, aisec.yaml takes precedence" in out


def test_paths_in_a_project_file_are_relative_to_it(work: Path, aisec, tmp_path: Path) -> None:
    _medium_model(work)
    conf = tmp_path / "conf"
    (conf / "policies").mkdir(parents=True)
    (conf / "policies" / "team.yaml").write_text("name: team\nextends: default\nfail_on: low\n")
    (conf / "ci.yaml").write_text("policy: policies/team.yaml\n")
    code, out, _ = aisec("scan", "m", "--config", str(conf / "ci.yaml"), "-f", "json")
    assert code == EXIT_FINDINGS and json.loads(out)["policy"]["name"] == "team"


def test_a_config_inside_a_scanned_model_folder_is_never_read(work: Path, aisec, sarif_validator) -> None:
    _medium_model(work)
    (work / "aisec.yaml").write_text("fail_on: medium\n")
    # the model ships a config that would switch the gate off
    (work / "m" / "aisec.yaml").write_text("fail_on: critical\nmin_severity: critical\n")
    (work / "m" / ".aisec.yaml").write_text("policy: audit\n")
    (work / "m" / "pyproject.toml").write_text('[tool.aisec]\nfail_on = "critical"\n')
    code, out, _ = aisec("scan", "m")
    assert code == EXIT_FINDINGS  # the working directory's file applies, the model's does not
    for name in ("m/aisec.yaml", "m/.aisec.yaml", "m/pyproject.toml"):
        assert f"Notice: {name}: configuration inside a scanned folder was not read" in out
    code, out, err = aisec("scan", "m", "-f", "json")
    assert len(json.loads(out)["notices"]) == 3 and "aisec: notice: m/aisec.yaml" in err
    aisec("scan", "m", "--sarif", "s.sarif")
    log = read_json(work / "s.sarif")
    sarif_validator.validate(log)
    notes = log["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
    assert len(notes) == 3
    # only explicitly: --config reads it
    assert aisec("scan", "m", "--config", "m/aisec.yaml")[0] == EXIT_OK


def test_scanning_from_inside_another_folder_ignores_the_targets_config(work: Path, aisec, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    download = tmp_path / "download"
    put(UNKNOWN_IMPORT, download / "model.pkl")
    (download / "aisec.yaml").write_text("fail_on: critical\n")
    (work / "aisec.yaml").write_text("fail_on: medium\n")
    code, out, _ = aisec("scan", str(download))
    assert code == EXIT_FINDINGS and "configuration inside a scanned folder was not read" in out


@pytest.mark.parametrize(("content", "field"), [
    ("fail_on: sometimes\n", "field 'fail_on'"),
    ("policy: strict\ngate: off\n", "field 'gate'"),
    ("format: xml\n", "field 'format'"),
    ("- a list\n", "one mapping"),
])
def test_invalid_project_file_names_file_and_field(work: Path, aisec, content: str, field: str) -> None:
    _medium_model(work)
    (work / "aisec.yaml").write_text(content)
    code, _, err = aisec("scan", "m")
    assert code == EXIT_ERROR and "aisec.yaml" in err and field in err


def test_invalid_inputs_from_env_pyproject_and_config_flag(work: Path, aisec, monkeypatch: pytest.MonkeyPatch,
                                                           ) -> None:
    _medium_model(work)
    monkeypatch.setenv("AISEC_MIN_SEVERITY", "loud")
    code, _, err = aisec("scan", "m")
    assert code == EXIT_ERROR and "AISEC_MIN_SEVERITY" in err
    monkeypatch.delenv("AISEC_MIN_SEVERITY")
    (work / "pyproject.toml").write_text('[tool.aisec]\nfail-on = "high"\n')
    code, _, err = aisec("scan", "m")
    assert code == EXIT_ERROR and "pyproject.toml [tool.aisec]" in err and "field 'fail-on'" in err
    code, _, err = aisec("scan", "m", "--config", "missing.yaml")
    assert code == EXIT_ERROR and "missing.yaml" in err
    monkeypatch.setenv("AISEC_CONFIG", "other.toml")
    (work / "other.toml").write_text("[project]\n")
    code, _, err = aisec("scan", "m")
    assert code == EXIT_ERROR and "no [tool.aisec] table" in err


def test_pyproject_without_tool_table_is_not_a_project_file(work: Path) -> None:
    (work / "pyproject.toml").write_text('[project]\nname = "x"\n')
    config = resolve(cli={}, env={}, cwd=work)
    assert config.project_file is None and config.value("policy") == "default"


def test_project_file_formats_match_the_output_formats() -> None:
    assert set(get_args(FormatName)) == {f.value for f in OutputFormat}


def test_resolve_rejects_a_bad_env_value_directly(work: Path) -> None:
    with pytest.raises(ConfigError, match="AISEC_FORMAT"):
        resolve(cli={}, env={"AISEC_FORMAT": "pdf"}, cwd=work)


def test_pyproject_detection_follows_toml_not_text(work: Path) -> None:
    (work / "pyproject.toml").write_text('# see [tool.aisec] in the docs\n[project]\nname = "aisec-plugin"\n')
    assert resolve(cli={}, env={}, cwd=work).project_file is None  # mentioned, not configured
    (work / "pyproject.toml").write_text('tool = {aisec = {fail_on = "low"}}\n')
    assert resolve(cli={}, env={}, cwd=work).value("fail_on") == "low"  # an inline table counts
    (work / "pyproject.toml").write_text('[tool.aisec]\nfail_on = "low\n')
    with pytest.raises(ConfigError, match=r"pyproject\.toml"):  # broken: fail loudly, never fall back silently
        resolve(cli={}, env={}, cwd=work)
