"""Real signatures made by model_signing releases (copied from sigstore/model-transparency) verify offline."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from aisec.signing import (
    CertificateTrust,
    KeyTrust,
    Reason,
    SigstoreTrust,
    load_certificates,
    load_public_key,
    load_sigstore_root,
    verify_model,
)
from aisec.signing.trust import embedded_sigstore_root

from .conftest import DATA, SIGSTORE_IDENTITY, SIGSTORE_ISSUER, copy_sample

KEYS = DATA / "keys"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket fails the test: verification must be offline."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access attempted during verification")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def sigstore_trust(identity: str = SIGSTORE_IDENTITY, issuer: str = SIGSTORE_ISSUER,
                   root: Path | None = None) -> SigstoreTrust:
    trusted_root, source = load_sigstore_root(root)
    return SigstoreTrust(trusted_root=trusted_root, identity=identity, issuer=issuer, source=source)


def key_trust() -> KeyTrust:
    return KeyTrust(public_key=load_public_key(KEYS / "signing-key-pub.pem"), source="key")


def cert_trust(identity: str | None = "intermediate-ca") -> CertificateTrust:
    return CertificateTrust(roots=tuple(load_certificates(KEYS / "ca-cert.pem")), identity=identity,
                            issuer="intermediate-ca" if identity else None, source="ca")


@pytest.mark.parametrize("sample", ["v1.0.0-sigstore", "v1.1.0-sigstore"])
def test_sigstore_samples_verify_offline(sample: str) -> None:
    folder = DATA / sample
    result = verify_model(folder, signature_path=folder / "model.sig", trust=sigstore_trust())
    assert result.valid, result.discrepancies
    assert result.signature_authenticated
    assert result.signer is not None and SIGSTORE_IDENTITY in result.signer
    assert result.checked_files == ("signme-1", "signme-2")
    assert result.signing_time is not None and result.signing_time.startswith("2025-")
    assert "embedded in sigstore-python" in result.trust_root


def test_sigstore_sample_with_explicit_trust_root_file(tmp_path: Path) -> None:
    root_file = tmp_path / "trusted_root.json"
    root_file.write_bytes(embedded_sigstore_root())
    folder = DATA / "v1.1.0-sigstore"
    result = verify_model(folder, signature_path=folder / "model.sig", trust=sigstore_trust(root=root_file))
    assert result.valid
    assert str(root_file) in result.trust_root


def test_sigstore_sample_with_a_client_trust_config(tmp_path: Path) -> None:
    """model_signing's --trust_config format (a ClientTrustConfig wrapping the trusted root) is accepted too."""
    import json
    from importlib import resources

    store = resources.files("sigstore._store").joinpath("https%3A%2F%2Ftuf-repo-cdn.sigstore.dev")
    config = {"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
              "trustedRoot": json.loads(embedded_sigstore_root()),
              "signingConfig": json.loads(store.joinpath("signing_config.v0.2.json").read_bytes())}
    path = tmp_path / "trust_config.json"
    path.write_text(json.dumps(config))
    folder = DATA / "v1.0.0-sigstore"
    assert verify_model(folder, signature_path=folder / "model.sig", trust=sigstore_trust(root=path)).valid


def test_sigstore_wrong_identity_and_issuer_fail() -> None:
    folder = DATA / "v1.1.0-sigstore"
    wrong_id = verify_model(folder, signature_path=folder / "model.sig",
                            trust=sigstore_trust(identity="mallory@us.ibm.com"))
    assert wrong_id.reasons == (Reason.IDENTITY_MISMATCH,)
    assert not wrong_id.signature_authenticated
    wrong_issuer = verify_model(folder, signature_path=folder / "model.sig",
                                trust=sigstore_trust(issuer="https://accounts.google.com"))
    assert wrong_issuer.reasons == (Reason.ISSUER_MISMATCH,)


def test_sigstore_tampered_added_removed(tmp_path: Path) -> None:
    folder = copy_sample("v1.1.0-sigstore", tmp_path)
    sig = folder / "model.sig"
    (folder / "signme-1").write_bytes(b"tampered")
    assert verify_model(folder, signature_path=sig, trust=sigstore_trust()).reasons == (Reason.FILE_MODIFIED,)
    (folder / "signme-1").unlink()
    assert verify_model(folder, signature_path=sig, trust=sigstore_trust()).reasons == (Reason.FILE_MISSING,)
    (folder / "signme-1").write_bytes((DATA / "v1.1.0-sigstore" / "signme-1").read_bytes())
    (folder / "extra").write_bytes(b"x")
    assert verify_model(folder, signature_path=sig, trust=sigstore_trust()).reasons == (Reason.FILE_ADDED,)
    (folder / "extra").unlink()
    (folder / "ignore-me").write_bytes(b"the signer ignored this file, so it may change")
    result = verify_model(folder, signature_path=sig, trust=sigstore_trust())
    assert result.valid
    assert any(n.path == "ignore-me" and "signer" in n.why for n in result.not_checked)


def test_sigstore_tampered_payload_is_a_bad_signature(tmp_path: Path) -> None:
    import base64
    import json

    folder = copy_sample("v1.1.0-sigstore", tmp_path)
    doc = json.loads((folder / "model.sig").read_bytes())
    payload = base64.b64decode(doc["dsseEnvelope"]["payload"]).replace(b"signme-2", b"signme-3")
    doc["dsseEnvelope"]["payload"] = base64.b64encode(payload).decode()
    (folder / "model.sig").write_text(json.dumps(doc))
    result = verify_model(folder, signature_path=folder / "model.sig", trust=sigstore_trust())
    assert Reason.BAD_SIGNATURE in result.reasons
    assert not result.signature_authenticated


def test_sigstore_bundle_given_to_key_verifier_is_a_method_mismatch() -> None:
    folder = DATA / "v1.1.0-sigstore"
    result = verify_model(folder, signature_path=folder / "model.sig", trust=key_trust())
    assert result.reasons == (Reason.METHOD_MISMATCH,)


def test_elliptic_key_sample(tmp_path: Path) -> None:
    folder = DATA / "v1.1.0-elliptic-key"
    assert verify_model(folder, signature_path=folder / "model.sig", trust=key_trust()).valid
    copy = copy_sample("v1.1.0-elliptic-key", tmp_path)
    (copy / "signme-2").write_bytes(b"changed!")
    (copy / "new").write_bytes(b"")
    result = verify_model(copy, signature_path=copy / "model.sig", trust=key_trust())
    assert sorted(result.reasons) == sorted([Reason.FILE_MODIFIED, Reason.FILE_ADDED])


def test_certificate_sample(tmp_path: Path) -> None:
    folder = DATA / "v1.1.0-certificate"
    result = verify_model(folder, signature_path=folder / "model.sig", trust=cert_trust())
    assert result.valid, result.discrepancies
    assert any("CA:TRUE" in w for w in result.warnings)
    wrong = verify_model(folder, signature_path=folder / "model.sig", trust=cert_trust("someone-else"))
    assert wrong.reasons == (Reason.IDENTITY_MISMATCH,)
    copy = copy_sample("v1.1.0-certificate", tmp_path)
    (copy / "signme-1").unlink()
    assert verify_model(copy, signature_path=copy / "model.sig", trust=cert_trust()).reasons == (
        Reason.FILE_MISSING,)
    # Every given certificate is a trust anchor, so pinning the leaf itself works.
    untrusted = CertificateTrust(roots=tuple(load_certificates(KEYS / "signing-key-cert.pem")),
                                 identity=None, issuer=None, source="leaf")
    result = verify_model(folder, signature_path=folder / "model.sig", trust=untrusted)
    assert result.valid  # a pinned leaf is trusted as-is
    other = verify_model(folder, signature_path=folder / "model.sig",
                         trust=CertificateTrust(roots=(), identity=None, issuer=None, source="none"))
    assert other.reasons == (Reason.CHAIN_NOT_ROOTED,)
