"""``aisec scan s3://…`` against moto's real S3 server with real s3fs: same findings as on disk, ranged reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aisec.cli.main import main
from aisec.model import Finding, Report
from aisec.remote.source import TRANSFERRED
from aisec.scan import scan
from benchmarks.bench_models import write_sparse_checkpoint
from tests.conftest import fixture_path
from tests.remote.servers import BUCKET, upload

FAIL = fixture_path("AISEC-MDL-001", "fail")
PASS = fixture_path("AISEC-MDL-001", "pass")
CHECK_SARIF = Path("/work/shared/tools/check_sarif.py")


def _shape(findings: tuple[Finding, ...], prefix: str) -> list[tuple[str, str, str, str]]:
    """Findings with the report path replaced by the name under ``prefix`` (what must not depend on storage)."""
    out = []
    for f in findings:
        assert f.path.startswith(prefix), f.path
        name = f.path[len(prefix):]
        out.append((f.rule_id, name, str(f.location), f.message.replace(f.path, name)))
    return sorted(out)


def test_a_bucket_prefix_gets_the_same_findings_as_the_same_files_on_disk(s3: Any) -> None:
    upload(s3, FAIL, f"{BUCKET}/mdl001/fail")
    upload(s3, PASS, f"{BUCKET}/mdl001/pass")
    local = scan([FAIL], jobs=0)
    remote = scan([f"s3://{BUCKET}/mdl001"], jobs=0)
    assert not remote.errors
    assert [a.path for a in remote.artifacts] == sorted(
        f"s3://{BUCKET}/mdl001/{d}/{p.name}" for d, folder in (("fail", FAIL), ("pass", PASS))
        for p in folder.iterdir())
    rel = FAIL.relative_to(Path.cwd()) if Path.cwd() in FAIL.parents else FAIL
    assert _shape(tuple(f for f in remote.findings if "/fail/" in f.path), f"s3://{BUCKET}/mdl001/fail/") == \
        _shape(tuple(f for f in local.findings if f.path.startswith(f"{rel.as_posix()}/")), f"{rel.as_posix()}/")
    assert {f.rule_id for f in remote.findings} >= {"AISEC-MDL-001"}
    assert not any("/pass/" in f.path and f.severity.rank >= 3 for f in remote.findings)


def test_a_large_checkpoint_costs_its_directory_and_pickle_not_its_tensors(s3: Any, tmp_path: Path) -> None:
    checkpoint = tmp_path / "big.pt"
    write_sparse_checkpoint(checkpoint, 64 * 1024 * 1024)
    upload(s3, checkpoint, f"{BUCKET}/ckpt/big.pt")
    before = TRANSFERRED.bytes
    report = scan([f"s3://{BUCKET}/ckpt/big.pt"], jobs=0)
    fetched = TRANSFERRED.bytes - before
    assert not report.errors and [a.kind.value for a in report.artifacts] == ["pytorch_zip"]
    assert 0 < fetched < 1024 * 1024, fetched


def test_the_cli_scans_s3_in_worker_processes_and_writes_valid_sarif(s3: Any, work: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    upload(s3, FAIL / "os_system_p4.pkl", f"{BUCKET}/cli/evil.pkl")
    upload(s3, PASS / "joblib_zfile_numbers.pkl", f"{BUCKET}/cli/ok/numbers.pkl")
    code = main(["scan", f"s3://{BUCKET}/cli", "-q", "--jobs", "2", "-f", "json", "--sarif", "out.sarif"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert {f["path"] for f in report["findings"] if f["rule_id"] == "AISEC-MDL-001"} == {f"s3://{BUCKET}/cli/evil.pkl"}
    sarif = json.loads((work / "out.sarif").read_text())
    run = sarif["runs"][0]
    assert run["originalUriBaseIds"][f"s3://{BUCKET}/"]["uri"] == f"s3://{BUCKET}/"
    locations = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert "cli/evil.pkl" in locations
    if CHECK_SARIF.is_file():
        checked = subprocess.run([sys.executable, str(CHECK_SARIF), "--strict", "out.sarif"], capture_output=True,
                                 text=True, check=False)
        assert checked.returncode == 0, checked.stdout
    from aisec.report.sarif import path_of

    assert path_of({"uri": "cli/evil.pkl", "uriBaseId": f"s3://{BUCKET}/"}) == f"s3://{BUCKET}/cli/evil.pkl"


def test_an_object_that_fails_while_being_read_is_not_fully_scanned_and_the_rest_goes_on(s3: Any) -> None:
    from aisec.analysis import analyze_artifact
    from aisec.discovery import discover
    from aisec.scan import load_configuration

    upload(s3, FAIL / "os_system_p4.pkl", f"{BUCKET}/race/a.pkl")
    upload(s3, FAIL / "os_system_p2.pkl", f"{BUCKET}/race/b.pkl")
    policy, _rules, bound = load_configuration()
    found = discover([f"s3://{BUCKET}/race"], policy.limits)
    s3.rm(f"{BUCKET}/race/a.pkl")  # gone between listing and reading (a lifecycle rule, another writer)
    results = [analyze_artifact(item, bound, policy) for item in found.items]
    gone, kept = results
    assert [e.reason for e in gone.errors] == ["io"] and "s3://models/race/a.pkl" in gone.errors[0].message
    assert [f.rule_id for f in gone.findings] == ["AISEC-GEN-001"]
    assert not kept.errors and "AISEC-MDL-001" in {f.rule_id for f in kept.findings}


def test_a_missing_prefix_and_an_unknown_scheme_are_reported_targets(s3: Any, work: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    upload(s3, PASS / "joblib_zfile_numbers.pkl", f"{BUCKET}/here/numbers.pkl")
    code = main(["scan", "-q", "-f", "json", "--jobs", "1", f"s3://{BUCKET}/here", f"s3://{BUCKET}/nothing-here",
                 "ftp://example.invalid/x.pkl"])
    report = json.loads(capsys.readouterr().out)
    assert code == 2
    errors = {(e["path"], e["reason"]) for e in report["errors"]}
    assert errors == {(f"s3://{BUCKET}/nothing-here", "not-found"), ("ftp://example.invalid/x.pkl", "unsupported")}
    assert [a["path"] for a in report["artifacts"]] == [f"s3://{BUCKET}/here/numbers.pkl"]


def test_fsspec_endpoint_variable_and_anonymous_access(s3: Any, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    upload(s3, FAIL / "os_system_p4.pkl", f"{BUCKET}/anon/evil.pkl")
    s3.chmod(f"{BUCKET}/anon/evil.pkl", acl="public-read")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("FSSPEC_S3_ENDPOINT_URL", s3_endpoint)
    # No credentials anywhere: the standard chain finds none, so a signed request cannot be made …
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    signed = scan([f"s3://{BUCKET}/anon"], jobs=0)
    assert [e.reason for e in signed.errors] == ["io"] and "credentials" in signed.errors[0].message.lower()
    # … while --anonymous reads the (public) bucket unsigned.
    s3fs.S3FileSystem.clear_instance_cache()
    anonymous = scan([f"s3://{BUCKET}/anon"], jobs=0, anonymous=True)
    assert not anonymous.errors
    assert [f.rule_id for f in anonymous.findings if f.rule_id == "AISEC-MDL-001"]


def test_report_json_round_trips(s3: Any) -> None:
    upload(s3, FAIL / "os_system_p4.pkl", f"{BUCKET}/rt/evil.pkl")
    report = scan([f"s3://{BUCKET}/rt"], jobs=0)
    assert isinstance(report, Report) and report.artifacts[0].path == f"s3://{BUCKET}/rt/evil.pkl"
