"""The scanner's signature analyzer and the AISEC-SIG rules, on folders signed here with generated keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aisec.analyzers import ANALYZERS, fact_catalog
from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.signature import SignatureAnalyzer
from aisec.errors import PolicyError
from aisec.limits import Limits
from aisec.model import Fact, Severity
from aisec.scan import scan
from aisec.signing import sign_model
from aisec.signing.settings import load_signature_settings
from aisec.source import BytesSource

from .conftest import DATA, LEAF_EMAIL, PKI, SIGSTORE_IDENTITY, SIGSTORE_ISSUER, build_model

Keys = dict[str, tuple[Path, Path]]


def facts(folder: Path, settings: dict[str, Any] | None = None) -> list[Fact]:
    context = AnalysisContext(path="m", limits=Limits(), settings={"signature": settings or {}}, fs_path=folder)
    out = list(SignatureAnalyzer().analyze(BytesSource(b"", budget=0), context))
    assert not context.errors, context.errors
    return out


def failures(found: list[Fact]) -> set[tuple[Any, Any]]:
    return {(f.value, f.detail["category"]) for f in found if f.key == "signature.failure"}


def test_registered_once_and_facts_declared() -> None:
    assert sum(isinstance(a, SignatureAnalyzer) for a in ANALYZERS) == 1
    assert {"signature.present", "signature.verified", "signature.failure", "signature.signer"} <= set(
        fact_catalog())


def test_unsigned_signed_verified_and_tampered(model: Path, ec_keys: Keys) -> None:
    assert [(f.key, f.value) for f in facts(model)] == [("signature.present", False)]
    sign_model(model, private_key=ec_keys["p256"][0])
    trusted = {"public_keys": [str(ec_keys["p256"][1])]}
    found = facts(model, trusted)
    assert ("signature.verified", True) in [(f.key, f.value) for f in found]
    assert failures(found) == set()
    # Without trust material the manifest is still compared, and the signer is reported as unverified.
    assert failures(facts(model)) == {("not-authenticated", "unverified")}
    (model / "weights.bin").write_bytes(b"swapped")
    found = facts(model, trusted)
    assert failures(found) == {("file-modified", "integrity")}
    failure = next(f for f in found if f.key == "signature.failure")
    assert failure.location.path == "m/weights.bin" and failure.detail["file"] == "weights.bin"
    other = {"public_keys": [str(ec_keys["other"][1])]}
    assert ("untrusted-key", "trust") in failures(facts(model, other))


def test_certificate_and_sigstore_settings(tmp_path: Path, pki: PKI) -> None:
    folder = build_model(tmp_path / "pki-model")
    sign_model(folder, private_key=pki.good.key, certificate=pki.good.cert, certificate_chain=[pki.good.chain])
    roots = {"certificate_roots": [str(pki.root)]}
    assert failures(facts(folder, {**roots, "certificate_identity": LEAF_EMAIL})) == set()
    assert failures(facts(folder, {**roots, "certificate_identity": "x@example.com"})) == {
        ("identity-mismatch", "trust")}
    sig_folder = DATA / "v1.1.0-sigstore"
    pinned = {"sigstore_identity": SIGSTORE_IDENTITY, "sigstore_issuer": SIGSTORE_ISSUER}
    assert failures(facts(sig_folder, pinned)) == set()
    assert failures(facts(sig_folder)) == {("not-authenticated", "unverified")}
    assert failures(facts(sig_folder, {**pinned, "sigstore_issuer": "https://evil.example"})) == {
        ("issuer-mismatch", "trust")}


def test_subfolder_is_covered_by_a_parent_signature(model: Path, ec_keys: Keys) -> None:
    sign_model(model, private_key=ec_keys["p256"][0])
    found = facts(model / "nested" / "adapter")
    assert [(f.key, f.value) for f in found] == [("signature.present", True)]
    assert found[0].detail["covered_by"] == str(model.resolve())


def test_settings_are_validated() -> None:
    assert load_signature_settings({}).file_names == ("model.sig",)
    for bad in ({"public_key": "x"}, {"allow_symlinks": "yes"}, {"file_names": ["../model.sig"]},
                {"sigstore_identity": ""}, "not a mapping"):
        with pytest.raises(PolicyError):
            load_signature_settings({"signature": bad})


def test_scan_with_a_policy_requiring_signatures(tmp_path: Path, ec_keys: Keys) -> None:
    signed = build_model(tmp_path / "models" / "signed")
    build_model(tmp_path / "models" / "unsigned")
    sign_model(signed, private_key=ec_keys["p256"][0])
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "name: require-signed\nextends: default\n"
        "severity_overrides:\n  AISEC-SIG-001: high\n"
        f"settings:\n  signature:\n    public_keys: [{ec_keys['p256'][1]}]\n")
    report = scan([tmp_path / "models"], policy=policy, jobs=0)
    sig = [(f.rule_id, f.path, f.severity) for f in report.findings if f.rule_id.startswith("AISEC-SIG")]
    assert sig == [("AISEC-SIG-001", "unsigned", Severity.HIGH)]
    (signed / "config.json").write_text("{}")
    report = scan([tmp_path / "models"], policy=policy, jobs=0)
    sig = [(f.rule_id, f.path) for f in report.findings if f.rule_id.startswith("AISEC-SIG")]
    assert sorted(sig) == [("AISEC-SIG-001", "unsigned"), ("AISEC-SIG-002", "signed/config.json")]
