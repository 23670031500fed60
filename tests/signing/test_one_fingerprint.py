"""One key fingerprint everywhere (issue 12): ``sign``, ``verify`` and the scan's AISEC-SIG findings name a key
by the sha256 of its DER SubjectPublicKeyInfo, and a wrong key is one finding, not two; ``verify`` finds the
signature where ``sign`` wrote it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from aisec.cli import main
from aisec.scan import scan
from aisec.signing import load_public_key

Keys = dict[str, tuple[Path, Path]]


def _fingerprint(pub: Path) -> str:
    der = load_public_key(pub).public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def test_sign_verify_and_scan_name_keys_alike(model: Path, ec_keys: Keys, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (priv, pub), (_, other) = ec_keys["p256"], ec_keys["other"]
    assert main(["sign", str(model), "--private-key", str(priv)]) == 0
    assert f"signer:      {_fingerprint(pub)}" in capsys.readouterr().out
    # verify without --signature reads MODEL/model.sig, where sign wrote it
    assert main(["verify", str(model), "--public-key", str(pub)]) == 0
    out = capsys.readouterr().out
    assert "VALID" in out and f"public key {_fingerprint(pub)}" in out
    assert main(["verify", str(model), "--public-key", str(other)]) == 1
    out = capsys.readouterr().out
    assert "INVALID (1 discrepancy)" in out and "untrusted-key" in out and _fingerprint(other) in out
    assert _fingerprint(pub) not in out  # the untrusted signer is not named as if it were the trusted key

    monkeypatch.chdir(tmp_path)
    policy = tmp_path / "trust.yaml"
    policy.write_text(f"name: trust\nextends: default\nsettings:\n  signature:\n    public_keys: [{other}]\n")
    report = scan([model], policy=policy, jobs=0)
    sig = [f for f in report.findings if f.rule_id.startswith("AISEC-SIG")]
    assert len(sig) == 1 and "untrusted-key" in sig[0].message and _fingerprint(other) in sig[0].message
