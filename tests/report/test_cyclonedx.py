"""CycloneDX ML-BOM output: valid CycloneDX 1.6 (offline), every artifact a component, every finding a
vulnerability affecting its component, signature status and signer carried, byte-identical across runs."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from aisec.cli import EXIT_ERROR, EXIT_FINDINGS, main
from aisec.errors import AisecError
from aisec.model import Report
from aisec.report import OutputFormat, render
from aisec.report.cyclonedx import SOURCE_DATE_EPOCH, render_cyclonedx
from aisec.scan import scan
from aisec.signing import sign_model
from tests.conftest import fixture_path
from tests.signing.conftest import build_model, write_key, write_public

EPOCH = "1767225600"  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class Scanned:
    root: Path
    report: Report
    bom: dict[str, Any]


def _tree(root: Path) -> tuple[Path, Path]:
    """Three model folders (signed, signed then tampered, unsigned with a malicious pickle), a dataset, a
    truncated pickle, and a policy trusting the signing key and suppressing one finding."""
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = write_key(root / "key.pem", key), write_public(root / "key.pub", key)
    scanned = root / "scanned"
    sign_model(build_model(scanned / "signed"), private_key=private)
    tampered = build_model(scanned / "tampered")
    sign_model(tampered, private_key=private)
    (tampered / "config.json").write_text('{"hidden": 9}\n')
    unsigned = build_model(scanned / "unsigned")
    shutil.copy(fixture_path("AISEC-MDL-001", "fail", "attrgetter.pkl"), unsigned / "evil.pkl")
    data = scanned / "data"
    data.mkdir()
    shutil.copy(fixture_path("AISEC-DAT-001", "fail", "notes.jsonl"), data / "notes.jsonl")
    shutil.copy(fixture_path("AISEC-GEN-001", "fail", "truncated.pkl"), data / "cut.pkl")
    policy = root / "policy.yaml"
    policy.write_text("name: bom-test\nextends: default\n"
                      "suppressions:\n  - {rule: AISEC-DAT-001, path: '**', justification: 'reviewed: test text'}\n"
                      f"settings:\n  signature:\n    public_keys: [{public}]\n")
    return scanned, policy


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    root = tmp_path_factory.mktemp("bom")
    tree, policy = _tree(root)
    report = scan([tree, root / "gone.pkl"], policy=policy, jobs=0, hashes=True)
    return Scanned(root=tree, report=report, bom=json.loads(render_cyclonedx(report)))


def _components(bom: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in bom["components"]}


def _props(item: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for prop in item.get("properties", []):
        out.setdefault(prop["name"], []).append(prop["value"])
    return out


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection attempt fails the test: the validator must use the schemas the library bundles."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access during CycloneDX validation")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_the_bom_validates_against_the_cyclonedx_1_6_schema_offline(scanned: Scanned, offline: None,
                                                                    tmp_path: Path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonValidator

    validator = JsonValidator(SchemaVersion.V1_6)
    empty = tmp_path / "empty"
    empty.mkdir()
    for report in (scanned.report, scan([empty], jobs=0)):
        text = render_cyclonedx(report)
        assert validator.validate_str(text) is None
    assert scanned.bom["specVersion"] == "1.6" and scanned.bom["bomFormat"] == "CycloneDX"
    broken = dict(scanned.bom, components=[{"type": "not-a-type", "name": "x"}])
    assert validator.validate_str(json.dumps(broken)) is not None  # the validator does reject a bad BOM


def test_models_datasets_and_signatures_are_components_of_the_right_type(scanned: Scanned) -> None:
    components = _components(scanned.bom)
    assert len(scanned.bom["components"]) == len(scanned.report.artifacts) + 1  # + the target that is gone
    types = {name: c["type"] for name, c in components.items()}
    for folder in ("signed", "tampered", "unsigned"):
        assert types[folder] == "machine-learning-model"
    assert types["unsigned/evil.pkl"] == "machine-learning-model"
    assert types["data/notes.jsonl"] == "data" and _props(components["data/notes.jsonl"])["aisec:role"] == ["dataset"]
    assert types["signed/model.sig"] == "data" and types["tampered/model.sig"] == "data"
    assert types["signed/config.json"] == "file"
    assert _props(components["unsigned/evil.pkl"])["aisec:format"] == ["pickle"]
    pickle_bytes = (scanned.root / "unsigned" / "evil.pkl").read_bytes()
    assert _props(components["unsigned/evil.pkl"])["aisec:size"] == [str(len(pickle_bytes))]
    assert components["unsigned/evil.pkl"]["hashes"] == [
        {"alg": "SHA-256", "content": hashlib.sha256(pickle_bytes).hexdigest()}]
    assert "hashes" not in components["signed"]  # a folder's listing digest is no content hash
    assert _props(components["signed"])["aisec:listing_sha256"]


def test_signature_status_and_signer_are_carried(scanned: Scanned) -> None:
    components = _components(scanned.bom)
    signed, tampered, unsigned = (_props(components[n]) for n in ("signed", "tampered", "unsigned"))
    assert signed["aisec:signature:status"] == ["verified"]
    assert signed["aisec:signature:file"] == ["signed/model.sig"]
    assert signed["aisec:signature:signer"][0].startswith("public key sha256:")
    assert tampered["aisec:signature:status"] == ["invalid"]
    assert tampered["aisec:signature:reason"] == ["file-modified"]
    assert unsigned["aisec:signature:status"] == ["unsigned"] and "aisec:signature:signer" not in unsigned
    sig = _props(components["signed/model.sig"])
    assert sig["aisec:signature:status"] == ["verified"] and sig["aisec:signature:covers"] == ["signed"]
    assert sig["aisec:signature:signer"] == signed["aisec:signature:signer"]
    assert _props(components["tampered/model.sig"])["aisec:signature:status"] == ["invalid"]


def test_every_finding_is_a_vulnerability_affecting_its_component(scanned: Scanned) -> None:
    report, bom = scanned.report, scanned.bom
    refs = {c["bom-ref"] for c in bom["components"]}
    vulns = bom["vulnerabilities"]
    assert len(vulns) == len(report.findings) + len(report.suppressed)
    assert {v["id"] for v in vulns} >= {"AISEC-MDL-001", "AISEC-SIG-002", "AISEC-DAT-001", "AISEC-GEN-001"}
    assert len({v["bom-ref"] for v in vulns}) == len(vulns)
    for vuln in vulns:
        assert len(vuln["affects"]) == 1 and vuln["affects"][0]["ref"] in refs
    by_component = {(v["id"], v["affects"][0]["ref"]) for v in vulns}
    gone = str(scanned.root.parent / "gone.pkl")  # a target given by absolute path keeps it
    assert {("AISEC-MDL-001", "artifact:unsigned/evil.pkl"), ("AISEC-SIG-002", "artifact:tampered/config.json"),
            ("AISEC-GEN-001", "artifact:data/cut.pkl"), ("AISEC-GEN-001", f"artifact:{gone}")} <= by_component
    pickle = next(v for v in vulns if v["id"] == "AISEC-MDL-001"
                  and v["affects"][0]["ref"] == "artifact:unsigned/evil.pkl")
    finding = next(f for f in report.findings if f.rule_id == "AISEC-MDL-001" and f.fingerprint in pickle["bom-ref"])
    assert pickle["ratings"][0]["severity"] == finding.severity.value == "critical"
    assert 502 in pickle["cwes"]
    assert pickle["detail"] == finding.message
    props = _props(pickle)
    assert props["aisec:fingerprint"] == [finding.fingerprint] and props["aisec:gate"] == ["true"]
    assert props["aisec:location"][0].startswith("unsigned/evil.pkl")
    assert _props(_components(bom)["unsigned/evil.pkl"])["aisec:max_severity"] == ["critical"]


def test_suppressed_findings_keep_their_justification_and_never_gate(scanned: Scanned) -> None:
    suppressed = [v for v in scanned.bom["vulnerabilities"] if v["id"] == "AISEC-DAT-001"]
    assert suppressed and len(suppressed) == len(scanned.report.suppressed)
    for vuln in suppressed:
        assert vuln["analysis"]["response"] == ["will_not_fix"]
        assert "reviewed: test text" in vuln["analysis"]["detail"]
        assert _props(vuln)["aisec:gate"] == ["false"]


def test_incomplete_scans_are_marked_on_the_component_and_the_bom(scanned: Scanned) -> None:
    components = _components(scanned.bom)
    cut = _props(components["data/cut.pkl"])
    assert cut["aisec:scan:complete"] == ["false"] and cut["aisec:scan:error"]
    assert _props(components["unsigned/evil.pkl"])["aisec:scan:complete"] == ["true"]
    gone = components[str(scanned.root.parent / "gone.pkl")]
    assert gone["type"] == "file" and _props(gone)["aisec:scan:complete"] == ["false"]
    assert _props(scanned.bom["metadata"])["aisec:scan:complete"] == ["false"]


def test_a_model_folder_depends_on_the_files_scanned_inside_it(scanned: Scanned) -> None:
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in scanned.bom["dependencies"]}
    assert {"artifact:signed/model.sig", "artifact:signed/weights.bin",
            "artifact:signed/nested/adapter/x"} <= deps["artifact:signed"]
    assert "artifact:unsigned/evil.pkl" not in deps["artifact:signed"]


def test_two_scans_render_byte_identical_boms(scanned: Scanned, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = scanned.root.parent / "policy.yaml"
    monkeypatch.setenv(SOURCE_DATE_EPOCH, EPOCH)
    first = render(scan([scanned.root], policy=policy, jobs=0), OutputFormat.CYCLONEDX)
    again = scan([scanned.root], policy=policy, jobs=2)  # worker processes: the signature facts come back
    assert again.started_utc  # the scan's own clock is not what the BOM's timestamp comes from
    second = render(replace(again, started_utc="2000-01-01T00:00:00Z"), OutputFormat.CYCLONEDX)
    assert first == second
    doc = json.loads(first)
    assert doc["metadata"]["timestamp"] == "2026-01-01T00:00:00+00:00"
    # The serial number follows the content: one more finding, another BOM.
    changed = replace(again, findings=again.findings[1:])
    other = json.loads(render(changed, OutputFormat.CYCLONEDX))
    assert other["serialNumber"] != doc["serialNumber"]
    assert doc["serialNumber"].startswith("urn:uuid:")


def test_without_source_date_epoch_the_timestamp_is_the_scan_start(scanned: Scanned,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SOURCE_DATE_EPOCH, raising=False)
    doc = json.loads(render_cyclonedx(replace(scanned.report, started_utc="2026-12-03T10:11:12Z")))
    assert doc["metadata"]["timestamp"] == "2026-12-03T10:11:12+00:00"
    monkeypatch.setenv(SOURCE_DATE_EPOCH, "yesterday")
    with pytest.raises(AisecError, match=SOURCE_DATE_EPOCH):
        render_cyclonedx(scanned.report)


def test_cli_writes_the_bom_beside_other_reports(scanned: Scanned, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SOURCE_DATE_EPOCH, EPOCH)
    monkeypatch.chdir(scanned.root)
    policy = str(scanned.root.parent / "policy.yaml")
    side, main_out = tmp_path / "side.cdx.json", tmp_path / "main.cdx.json"
    assert main(["scan", "unsigned", "-q", "-j", "0", "--policy", policy, "--cyclonedx", str(side),
                 "--json", str(tmp_path / "r.json")]) == EXIT_FINDINGS
    assert main(["scan", "unsigned", "-q", "-j", "0", "--policy", policy, "-f", "cyclonedx",
                 "-o", str(main_out)]) == EXIT_FINDINGS
    assert side.read_bytes() == main_out.read_bytes()
    assert {v["id"] for v in json.loads(side.read_text())["vulnerabilities"]} == {"AISEC-MDL-001"}


def test_a_missing_library_names_the_extra_before_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import aisec.scan

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the scan ran although the BOM could not be written")
    monkeypatch.setattr(aisec.scan, "scan", refuse)
    for name in [m for m in sys.modules if m == "cyclonedx" or m.startswith("cyclonedx.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cyclonedx", None)  # what an environment without the library gives
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.pkl").write_bytes(b"\x80\x04K\x01.")
    assert main(["scan", "m.pkl", "-q", "--cyclonedx", "bom.json"]) == EXIT_ERROR
    assert "aisec[sbom]" in capsys.readouterr().err
    assert main(["scan", "m.pkl", "-q", "-f", "cyclonedx"]) == EXIT_ERROR
    assert "aisec[sbom]" in capsys.readouterr().err
    assert not (tmp_path / "bom.json").exists()
