"""``aisec scan --attest`` and ``aisec verify-attestation``: round trips and every kind of tampering."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from aisec.attest import PREDICATE_TYPE, STATEMENT_TYPE, policy_digest, sha256_file
from aisec.cli import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from aisec.signing import dsse
from tests.workflow.conftest import BENIGN, OS_SYSTEM_P4, UNKNOWN_IMPORT, make_key, put, read_json


def _statement(path: Path) -> dict[str, object]:
    envelope = json.loads(path.read_text().splitlines()[0])
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    return json.loads(base64.b64decode(envelope["payload"]))


def _clean_scan(work: Path, aisec, *extra: str) -> tuple[Path, Path]:
    put(BENIGN, work / "models" / "a" / "weights.pkl")
    put(UNKNOWN_IMPORT, work / "models" / "b.pkl")  # medium: reported, below the default gate
    private, public = make_key(work.parent)
    code, _, err = aisec("scan", "models", "--sarif", "scan.sarif", "--attest", str(private), *extra)
    assert code == EXIT_OK, err
    return private, public


def test_round_trip(work: Path, aisec) -> None:
    _private, public = _clean_scan(work, aisec)
    attestation = work / "scan.sarif.intoto.jsonl"
    doc = _statement(attestation)
    assert doc["_type"] == STATEMENT_TYPE and doc["predicateType"] == PREDICATE_TYPE
    subjects = {s["name"]: s["digest"]["sha256"] for s in doc["subject"]}  # type: ignore[attr-defined]
    assert subjects == {"models/a/weights.pkl": sha256_file(work / "models" / "a" / "weights.pkl"),
                        "models/b.pkl": sha256_file(work / "models" / "b.pkl")}
    predicate = doc["predicate"]
    assert isinstance(predicate, dict)
    assert predicate["verdict"]["result"] == "pass" and predicate["verdict"]["by_severity"]["medium"] == 1
    assert predicate["report"]["digest"]["sha256"] == sha256_file(work / "scan.sarif")
    sarif = read_json(work / "scan.sarif")
    assert predicate["policy"]["digest"]["sha256"] == sarif["runs"][0]["properties"]["aisec/policyDigest"]
    assert predicate["policy"]["digest"]["sha256"] == policy_digest("default")  # the verifier's recomputation
    code, out, _ = aisec("verify-attestation", str(attestation), "--public-key", str(public), "--report",
                         "scan.sarif", "--policy", "default", "models")
    assert code == EXIT_OK, out
    assert out.startswith("VALID") and "verdict pass" in out


def test_tampered_report_file_policy_and_extra_file_are_caught(work: Path, aisec) -> None:
    _private, public = _clean_scan(work, aisec)
    att = str(work / "scan.sarif.intoto.jsonl")
    base = ["verify-attestation", att, "--public-key", str(public)]
    assert aisec(*base, "--policy", "strict", "models")[0] == EXIT_FINDINGS  # other policy
    code, out, _ = aisec(*base, "--policy", "default", "--rules", str(_extra_rules(work)), "models")
    assert code == EXIT_FINDINGS and "different policy" in out  # same policy, other rule set
    report = work / "scan.sarif"
    original = report.read_text()
    downgraded = original.replace('"level": "warning"', '"level": "note"')  # hide the medium finding
    assert downgraded != original
    report.write_text(downgraded)
    code, out, _ = aisec(*base, "--report", str(report), "models")
    assert code == EXIT_FINDINGS and "report" in out and "changed" in out
    weights = work / "models" / "a" / "weights.pkl"
    weights.write_bytes(weights.read_bytes() + b"\n")
    code, out, _ = aisec(*base, "models")
    assert code == EXIT_FINDINGS and "models/a/weights.pkl: changed since the scan" in out
    put(BENIGN, weights)
    put(OS_SYSTEM_P4, work / "models" / "later.pkl")  # added after the scan: never scanned
    code, out, _ = aisec(*base, "models")
    assert code == EXIT_FINDINGS and "models/later.pkl: not covered" in out
    (work / "models" / "later.pkl").unlink()
    (work / "models" / "b.pkl").unlink()  # shipping less than was scanned is fine, and noted
    code, out, _ = aisec(*base, "models")
    assert code == EXIT_OK and "note: models/b.pkl: attested but not found" in out


def _extra_rules(work: Path) -> Path:
    rules = work.parent / "extra-rules"
    rules.mkdir(exist_ok=True)
    (rules / "AISEC-MDL-951.yaml").write_text(
        "id: AISEC-MDL-951\nname: ordered-dict-call\nshort_description: Calls OrderedDict (test rule).\n"
        "full_description: A test rule that fires on OrderedDict calls.\nseverity: low\nconfidence: high\n"
        "applies_to: [pickle]\nwhen: {fact: pickle.call, op: equals, value: collections.OrderedDict}\n"
        "message: '{path} calls {value}'\nremediation: none needed\n")
    return rules


def test_forged_or_foreign_signatures_are_refused(work: Path, aisec) -> None:
    _private, public = _clean_scan(work, aisec)
    attestation = work / "scan.sarif.intoto.jsonl"
    _other_private, other_public = make_key(work.parent, "other")
    code, out, _ = aisec("verify-attestation", str(attestation), "--public-key", str(other_public), "models")
    assert code == EXIT_FINDINGS and "signed by this key" in out
    # swap in a payload that claims a pass for different content, keeping the old signature
    envelope = json.loads(attestation.read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    forged = work / "forged.intoto.jsonl"
    forged.write_text(json.dumps(envelope) + "\n")
    code, out, _ = aisec("verify-attestation", str(forged), "--public-key", str(public), "models")
    assert code == EXIT_FINDINGS and "signed by this key" in out
    # an envelope validly signed by the key over a statement of another type is still not a scan attestation
    key = _load_private(work.parent / "key.pem")
    alien = json.dumps({"_type": STATEMENT_TYPE, "predicateType": "https://example.com/other", "subject": []})
    payload = alien.encode()
    line = {"payloadType": "application/vnd.in-toto+json", "payload": base64.b64encode(payload).decode(),
            "signatures": [{"sig": base64.b64encode(dsse.sign(key, payload)).decode()}]}
    (work / "alien.jsonl").write_text(json.dumps(line) + "\n")
    code, out, _ = aisec("verify-attestation", "alien.jsonl", "--public-key", str(public), "models")
    assert code == EXIT_FINDINGS and "not an aisec scan attestation" in out


def _load_private(path: Path) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def test_failing_scan_is_attested_as_fail_and_rejected_unless_any_verdict(work: Path, aisec) -> None:
    put(OS_SYSTEM_P4, work / "models" / "evil.pkl")
    private, public = make_key(work.parent, curve=ec.SECP384R1())
    code, _, _ = aisec("scan", "models", "-f", "sarif", "-o", "out.sarif", "--attest", str(private),
                       "--attestation", "att.jsonl")
    assert code == EXIT_FINDINGS
    assert _statement(work / "att.jsonl")["predicate"]["verdict"]["result"] == "fail"  # type: ignore[index]
    base = ["verify-attestation", "att.jsonl", "--public-key", str(public), "models"]
    code, out, _ = aisec(*base)
    assert code == EXIT_FINDINGS and "verdict was 'fail'" in out
    code, out, _ = aisec(*base, "--any-verdict", "--json")
    assert code == EXIT_OK and json.loads(out)["valid"] is True


def test_files_without_a_report_digest_are_hashed_streaming(work: Path, aisec) -> None:
    put(BENIGN, work / "models" / "weights.pkl")
    policy = work / "small.yaml"
    policy.write_text("name: small\nextends: default\nlimits: {max_hash_bytes: 16}\n")
    private, public = make_key(work.parent)
    aisec("scan", "models", "--policy", str(policy), "--json", "r.json", "--sarif", "s.sarif", "--attest",
          str(private))
    artifacts = {a["path"]: a for a in read_json(work / "r.json")["artifacts"]}
    assert artifacts["models/weights.pkl"]["sha256"] is None  # too big for the report's hashing
    subject = _statement(work / "s.sarif.intoto.jsonl")["subject"][0]  # type: ignore[index]
    assert subject["digest"]["sha256"] == hashlib.sha256((work / "models" / "weights.pkl").read_bytes()).hexdigest()
    code, _, _ = aisec("verify-attestation", "s.sarif.intoto.jsonl", "--public-key", str(public), "--policy",
                       str(policy), "models")
    assert code == EXIT_OK


def test_attest_needs_a_sarif_report_and_a_usable_key(work: Path, aisec) -> None:
    put(BENIGN, work / "models" / "w.pkl")
    private, public = make_key(work.parent)
    code, _, err = aisec("scan", "models", "--attest", str(private))
    assert code == EXIT_ERROR and "--sarif" in err
    code, _, err = aisec("scan", "models", "--sarif", "s.sarif", "--attest", str(public))
    assert code == EXIT_ERROR and "private key" in err
    assert not (work / "s.sarif").exists()  # refused before scanning
    code, _, err = aisec("verify-attestation", "nothing.jsonl", "--public-key", str(public), "models")
    assert code == EXIT_ERROR and "nothing.jsonl" in err


def test_encrypted_key_takes_its_password_from_the_environment(work: Path, aisec,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives import serialization

    put(BENIGN, work / "models" / "w.pkl")
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted = work.parent / "enc.pem"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"s3cret")))
    code, _, err = aisec("scan", "models", "--sarif", "s.sarif", "--attest", str(encrypted))
    assert code == EXIT_ERROR and "password" in err.lower()
    monkeypatch.setenv("AISEC_ATTEST_KEY_PASSWORD", "s3cret")
    assert aisec("scan", "models", "--sarif", "s.sarif", "--attest", str(encrypted))[0] == EXIT_OK
    assert (work / "s.sarif.intoto.jsonl").is_file()


def test_scanning_the_working_directory_leaves_this_runs_own_reports_out(work: Path, aisec) -> None:
    put(BENIGN, work / "models" / "w.pkl")
    private, public = make_key(work.parent)
    argv = ["scan", ".", "--sarif", "aisec.sarif", "--json", "aisec.json", "--attest", str(private)]
    assert aisec(*argv)[0] == EXIT_OK
    assert aisec(*argv)[0] == EXIT_OK  # the second run scans the first run's reports, then overwrites them
    predicate = _statement(work / "aisec.sarif.intoto.jsonl")["predicate"]
    assert predicate["not_attested"] == ["aisec.json", "aisec.sarif", "aisec.sarif.intoto.jsonl"]  # type: ignore[index]
    code, out, _ = aisec("verify-attestation", "aisec.sarif.intoto.jsonl", "--public-key", str(public), "--report",
                         "aisec.sarif", ".")
    assert code == EXIT_OK, out
    assert "note: aisec.sarif: written by the scan itself" in out
    (work / "models" / "w.pkl").write_bytes(b"changed")
    assert aisec("verify-attestation", "aisec.sarif.intoto.jsonl", "--public-key", str(public), ".")[0] == 1
