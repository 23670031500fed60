"""Every rejection reason, each triggered by a generated case (keys and PKI from conftest, no network)."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aisec.signing import (
    CertificateTrust,
    KeyTrust,
    Reason,
    SigstoreTrust,
    VerificationResult,
    load_certificates,
    load_public_key,
    load_sigstore_root,
    sign_model,
    verify_model,
)
from aisec.signing.trust import embedded_sigstore_root
from aisec.signing.verify import _sigstore_reason

from .conftest import LEAF_EMAIL, PKI, SIGSTORE_IDENTITY, SIGSTORE_ISSUER, Leaf, copy_sample
from .helpers import edit_bundle, forge, statement

SHA_A = "aa" * 32
Keys = dict[str, tuple[Path, Path]]


def key_trust(keys: Keys, name: str = "p256") -> KeyTrust:
    return KeyTrust(public_key=load_public_key(keys[name][1]), source=name)


def pki_trust(pki: PKI, identity: str | None = LEAF_EMAIL, issuer: str | None = None) -> CertificateTrust:
    return CertificateTrust(roots=tuple(load_certificates(pki.root)), identity=identity, issuer=issuer,
                            source="root")


def signed(model: Path, tmp_path: Path, keys: Keys, **kw: Any) -> Path:
    sig = tmp_path / "model.sig"
    sign_model(model, private_key=keys["p256"][0], signature_path=sig, **kw)
    return sig


def check(model: Path, sig: Path, trust: Any, **kw: Any) -> VerificationResult:
    return verify_model(model, signature_path=sig, trust=trust, **kw)


# --- files against the manifest -------------------------------------------------------------------


def test_valid_signature_has_no_discrepancies(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    result = check(model, signed(model, tmp_path, ec_keys), key_trust(ec_keys))
    assert result.valid and result.discrepancies == () and result.signature_authenticated


def test_file_modified(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = signed(model, tmp_path, ec_keys)
    (model / "nested" / "adapter" / "x").write_bytes(b"adapteR")
    result = check(model, sig, key_trust(ec_keys))
    assert result.reasons == (Reason.FILE_MODIFIED,)
    assert result.discrepancies[0].path == "nested/adapter/x"
    assert result.signature_authenticated  # the signature itself is fine


def test_file_added_missing_renamed(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = signed(model, tmp_path, ec_keys)
    (model / "config.json").rename(model / "config2.json")
    (model / "nested-notes.txt").unlink()
    (model / "nested" / "new.bin").write_bytes(b"new")
    result = check(model, sig, key_trust(ec_keys))
    got = {(d.reason, d.path) for d in result.discrepancies}
    assert got == {(Reason.FILE_RENAMED, "config.json"), (Reason.FILE_MISSING, "nested-notes.txt"),
                   (Reason.FILE_ADDED, "nested/new.bin")}


def test_ignore_unsigned_files_tolerates_added_but_not_missing(model: Path, tmp_path: Path,
                                                               ec_keys: Keys) -> None:
    sig = signed(model, tmp_path, ec_keys)
    (model / "extra.txt").write_text("extra")
    result = check(model, sig, key_trust(ec_keys), ignore_unsigned_files=True)
    assert result.valid
    assert any(n.path == "extra.txt" and "ignore-unsigned" in n.why for n in result.not_checked)
    (model / "config.json").unlink()
    result = check(model, sig, key_trust(ec_keys), ignore_unsigned_files=True)
    assert result.reasons == (Reason.FILE_MISSING,)


def test_ignore_paths_and_out_of_scope_paths_are_listed(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = signed(model, tmp_path, ec_keys, ignore_paths=["nested"])
    (model / "nested" / "adapter" / "x").write_bytes(b"changed: the signer ignored this folder")
    (model / ".git" / "HEAD").write_text("changed: git paths are never signed")
    result = check(model, sig, key_trust(ec_keys))
    assert result.valid
    assert {n.path: n.why for n in result.not_checked} == {
        ".git": "default git path (never signed)", ".gitattributes": "default git path (never signed)",
        "nested": "ignored by the signer (recorded in the signature)"}
    assert "nested" in result.signed_ignore_paths
    (model / "config.json").write_text("changed")
    result = check(model, sig, key_trust(ec_keys), ignore_paths=["config.json"])
    # A signed file is checked whatever --ignore-paths says (the OMS spec: every signed resource must match).
    assert [(d.reason, d.path) for d in result.discrepancies] == [(Reason.FILE_MODIFIED, "config.json")]
    assert not any(n.path == "config.json" for n in result.not_checked)


def test_shard_verification_detects_truncation(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = signed(model, tmp_path, ec_keys, method="shards", shard_size=100_000)
    with open(model / "weights.bin", "r+b") as handle:
        handle.truncate(300_000)
    result = check(model, sig, key_trust(ec_keys))
    assert result.reasons == (Reason.FILE_MODIFIED,)
    (model / "new-empty").write_bytes(b"")
    result = check(model, sig, key_trust(ec_keys))
    assert any(n.path == "new-empty" and "empty file" in n.why for n in result.not_checked)


def test_symlink_not_allowed_escapes_and_allowed(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the model")
    os.symlink("config.json", model / "alias.json")
    with pytest.raises(Exception, match="symlink-not-allowed"):
        signed(model, tmp_path, ec_keys)
    sig = signed(model, tmp_path, ec_keys, allow_symlinks=True)
    assert check(model, sig, key_trust(ec_keys)).reasons == (Reason.SYMLINK_NOT_ALLOWED,)
    assert check(model, sig, key_trust(ec_keys), allow_symlinks=True).valid
    (model / "alias.json").unlink()
    os.symlink(outside, model / "alias.json")
    result = check(model, sig, key_trust(ec_keys), allow_symlinks=True)
    assert result.reasons == (Reason.SYMLINK_ESCAPES,)
    assert result.discrepancies[0].path == "alias.json"
    with pytest.raises(Exception, match="symlink-escapes"):
        signed(model, tmp_path, ec_keys, allow_symlinks=True)


def test_file_unreadable_broken_symlink(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = signed(model, tmp_path, ec_keys)
    (model / "config.json").unlink()
    os.symlink("does-not-exist", model / "config.json")
    result = check(model, sig, key_trust(ec_keys), allow_symlinks=True)
    assert result.reasons == (Reason.FILE_UNREADABLE,)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_file_is_reported_and_never_opened(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = signed(model, tmp_path, ec_keys)
    os.mkfifo(model / "pipe")
    result = check(model, sig, key_trust(ec_keys))  # would hang forever if the FIFO were opened
    assert result.reasons == (Reason.SPECIAL_FILE,)


# --- the signed manifest --------------------------------------------------------------------------


def _res(name: str, digest: str = SHA_A, algorithm: str = "sha256") -> dict[str, str]:
    return {"name": name, "algorithm": algorithm, "digest": digest}


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a\\b", "./config.json", "a//b", "nested/../x",
                                  "C:/x", "trailing/"])
def test_unsafe_resource_name(model: Path, tmp_path: Path, ec_keys: Keys, name: str) -> None:
    sig = forge(tmp_path / "s.sig", ec_keys["p256"][0], statement([_res(name)]))
    result = check(model, sig, key_trust(ec_keys), ignore_unsigned_files=True)
    assert Reason.UNSAFE_RESOURCE_NAME in result.reasons
    assert result.checked_files == ()  # nothing outside the root was read


def test_duplicate_resource(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    import hashlib

    real = hashlib.sha256((model / "config.json").read_bytes()).hexdigest()
    sig = forge(tmp_path / "s.sig", ec_keys["p256"][0], statement([_res("config.json", real),
                                                                    _res("config.json", SHA_A)]))
    result = check(model, sig, key_trust(ec_keys), ignore_unsigned_files=True)
    assert Reason.DUPLICATE_RESOURCE in result.reasons


def test_root_digest_mismatch(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = forge(tmp_path / "s.sig", ec_keys["p256"][0], statement([_res("config.json")], root="bb" * 32))
    assert Reason.ROOT_DIGEST_MISMATCH in check(model, sig, key_trust(ec_keys)).reasons


@pytest.mark.parametrize(("change", "reason"), [
    ({"predicateType": "https://example.com/other"}, Reason.UNKNOWN_PREDICATE_TYPE),
    ({"_type": "https://in-toto.io/Statement/v0.1"}, Reason.UNKNOWN_STATEMENT_TYPE),
    ({"subject": []}, Reason.MALFORMED_STATEMENT),
    ({"predicate": {"resources": []}}, Reason.MALFORMED_STATEMENT),
])
def test_statement_level_rejections(model: Path, tmp_path: Path, ec_keys: Keys, change: dict[str, Any],
                                    reason: Reason) -> None:
    doc = {**statement([_res("config.json")]), **change}
    result = check(model, forge(tmp_path / "s.sig", ec_keys["p256"][0], doc), key_trust(ec_keys))
    assert result.reasons == (reason,)
    assert result.signature_authenticated  # well signed, but not acceptable


@pytest.mark.parametrize(("serialization", "resource_alg", "reason"), [
    ({"method": "files", "hash_type": "md5", "allow_symlinks": False}, "md5", Reason.UNKNOWN_HASH_ALGORITHM),
    ({"method": "files", "hash_type": "sha256", "allow_symlinks": False}, "sha512", Reason.UNKNOWN_HASH_ALGORITHM),
    ({"method": "chunks", "hash_type": "sha256", "allow_symlinks": False}, "sha256", Reason.UNKNOWN_SERIALIZATION),
    ({"method": "files", "hash_type": "sha256", "allow_symlinks": False, "ignore_paths": ["../up"]}, "sha256",
     Reason.UNSAFE_IGNORE_PATH),
    ({"method": "files", "hash_type": "sha256", "allow_symlinks": False, "ignore_paths": ["."]}, "sha256",
     Reason.UNSAFE_IGNORE_PATH),
    ({"method": "shards", "hash_type": "sha256", "allow_symlinks": False, "shard_size": 1.5}, "sha256",
     Reason.MALFORMED_STATEMENT),
])
def test_serialization_rejections(model: Path, tmp_path: Path, ec_keys: Keys, serialization: dict[str, Any],
                                  resource_alg: str, reason: Reason) -> None:
    doc = statement([_res("config.json", algorithm=resource_alg)], serialization_=serialization)
    result = check(model, forge(tmp_path / "s.sig", ec_keys["p256"][0], doc), key_trust(ec_keys))
    assert reason in result.reasons


def test_malformed_statement_bytes(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    for payload in (b"not json", b'{"_type": "a", "_type": "b"}', b"[1, 2]", b'{"x": NaN}'):
        result = check(model, forge(tmp_path / "s.sig", ec_keys["p256"][0], payload), key_trust(ec_keys))
        assert result.reasons == (Reason.MALFORMED_STATEMENT,), payload


def test_payload_bytes_are_verified_as_given_not_reserialized(model: Path, tmp_path: Path,
                                                              ec_keys: Keys) -> None:
    """Key order and whitespace of the signed payload are irrelevant: aisec never re-serializes it."""
    sig = signed(model, tmp_path, ec_keys)
    doc = json.loads(sig.read_bytes())
    payload = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    payload["predicate"] = dict(reversed(list(payload["predicate"].items())))
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    assert check(model, forge(tmp_path / "re.sig", ec_keys["p256"][0], raw), key_trust(ec_keys)).valid


# --- the bundle and the signature -----------------------------------------------------------------


@pytest.mark.parametrize("mutate", [
    lambda raw: raw[: len(raw) // 2],  # truncated
    lambda raw: b"",
    lambda raw: b"\xff\xfe garbage",
    lambda raw: raw.replace(b'"dsseEnvelope"', b'"envelope"'),
    lambda raw: raw.replace(b'"payload": "', b'"payload": "!!'),
    lambda raw: raw.replace(b'"mediaType"', b'"mediaType": "x", "mediaType"', 1),
    lambda raw: raw.replace(b'"signatures": [', b'"signatures": [{"sig": "AAAA"}, ', 1),
    lambda raw: raw.replace(b'"publicKey"', b'"x509CertificateChain": {"certificates": []}, "publicKey"', 1),
])
def test_malformed_bundle(model: Path, tmp_path: Path, ec_keys: Keys, mutate: Any) -> None:
    sig = signed(model, tmp_path, ec_keys)
    sig.write_bytes(mutate(sig.read_bytes()))
    result = check(model, sig, key_trust(ec_keys))
    assert result.reasons == (Reason.MALFORMED_BUNDLE,)
    assert not result.valid and not result.signature_authenticated


def test_unsupported_media_type(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = edit_bundle(signed(model, tmp_path, ec_keys),
                      lambda d: d.update(mediaType="application/vnd.dev.sigstore.bundle+json;version=0.3"))
    assert check(model, sig, key_trust(ec_keys)).reasons == (Reason.UNSUPPORTED_MEDIA_TYPE,)


def test_unknown_payload_type(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = edit_bundle(signed(model, tmp_path, ec_keys),
                      lambda d: d["dsseEnvelope"].update(payloadType="application/json"))
    result = check(model, sig, key_trust(ec_keys))
    assert Reason.UNKNOWN_PAYLOAD_TYPE in result.reasons
    assert Reason.BAD_SIGNATURE in result.reasons  # the type is part of the signed PAE


def test_bad_signature(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = signed(model, tmp_path, ec_keys)

    def flip(doc: dict[str, Any]) -> None:
        raw = bytearray(base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"]))
        raw[-1] ^= 1
        doc["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    result = check(model, edit_bundle(sig, flip), key_trust(ec_keys))
    assert result.reasons == (Reason.BAD_SIGNATURE,)
    assert not result.signature_authenticated


def test_payload_swapped_under_a_valid_signature(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = signed(model, tmp_path, ec_keys)
    other = forge(tmp_path / "other.sig", ec_keys["p256"][0], statement([_res("config.json")]))
    payload = json.loads(other.read_bytes())["dsseEnvelope"]["payload"]
    result = check(model, edit_bundle(sig, lambda d: d["dsseEnvelope"].update(payload=payload)),
                   key_trust(ec_keys))
    assert Reason.BAD_SIGNATURE in result.reasons


def test_untrusted_key_and_key_hint_mismatch(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = tmp_path / "other.sig"
    sign_model(model, private_key=ec_keys["other"][0], signature_path=sig)
    result = check(model, sig, key_trust(ec_keys))
    assert result.reasons == (Reason.UNTRUSTED_KEY,)  # one problem, not a second one for the hint


def test_spoofed_hint_still_fails_the_signature_check(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = tmp_path / "other.sig"
    sign_model(model, private_key=ec_keys["other"][0], signature_path=sig)
    from aisec.signing.dsse import key_hint

    trusted_hint = key_hint(load_public_key(ec_keys["p256"][1]))
    edit_bundle(sig, lambda d: d["verificationMaterial"]["publicKey"].update(hint=trusted_hint))
    assert check(model, sig, key_trust(ec_keys)).reasons == (Reason.BAD_SIGNATURE,)


def test_key_hint_mismatch_alone(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = edit_bundle(signed(model, tmp_path, ec_keys),
                      lambda d: d["verificationMaterial"]["publicKey"].update(hint="00" * 32))
    result = check(model, sig, key_trust(ec_keys))
    assert result.reasons == (Reason.KEY_HINT_MISMATCH,)


def test_empty_hint_is_a_warning_only(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = edit_bundle(signed(model, tmp_path, ec_keys), lambda d: d["verificationMaterial"].update(
        publicKey={}, tlogEntries=[]))
    result = check(model, sig, key_trust(ec_keys))
    assert result.valid and any("hint" in w for w in result.warnings)


def test_method_mismatch(model: Path, tmp_path: Path, ec_keys: Keys, pki: PKI) -> None:
    sig = signed(model, tmp_path, ec_keys)
    assert check(model, sig, pki_trust(pki)).reasons == (Reason.METHOD_MISMATCH,)


def test_unsupported_key(model: Path, tmp_path: Path, ec_keys: Keys, ed25519_key: Path, pki: PKI) -> None:
    from aisec.errors import VerificationError
    from aisec.signing import SigningError

    with pytest.raises(SigningError, match="Ed25519"):
        sign_model(model, private_key=ed25519_key, signature_path=tmp_path / "x.sig")
    with pytest.raises(SigningError, match="secp256k1"):
        sign_model(model, private_key=ec_keys["k256"][0], signature_path=tmp_path / "x.sig")
    with pytest.raises(VerificationError, match="secp256k1"):
        load_public_key(ec_keys["k256"][1])
    # A certificate bundle whose leaf holds a key OMS cannot use.
    from .conftest import make_cert

    k256 = ec.generate_private_key(ec.SECP256K1())
    leaf = make_cert(subject="k256", key=k256, issuer=load_certificates(pki.root)[0],
                     issuer_key=ec.generate_private_key(ec.SECP256R1()), ca=False, email=LEAF_EMAIL)
    sig = forge(tmp_path / "k.sig", ec_keys["p256"][0], statement([_res("config.json")]),
                chain=(leaf.public_bytes(serialization.Encoding.DER),))
    assert Reason.UNSUPPORTED_KEY in check(model, sig, pki_trust(pki)).reasons


# --- certificates ---------------------------------------------------------------------------------


def cert_signed(model: Path, tmp_path: Path, leaf: Leaf, **kw: Any) -> Path:
    sig = tmp_path / "cert.sig"
    sign_model(model, private_key=leaf.key, certificate=leaf.cert, certificate_chain=[leaf.chain],
               signature_path=sig, **kw)
    return sig


def test_certificate_valid_with_identity_and_issuer(model: Path, tmp_path: Path, pki: PKI) -> None:
    sig = cert_signed(model, tmp_path, pki.good)
    assert check(model, sig, pki_trust(pki, issuer="aisec test intermediate")).valid
    assert check(model, sig, pki_trust(pki, identity="CN=good signer")).valid
    assert check(model, sig, pki_trust(pki, identity="good signer")).valid


@pytest.mark.parametrize(("leaf_name", "reason"), [
    ("untrusted", Reason.CHAIN_NOT_ROOTED),
    ("expired", Reason.CERTIFICATE_EXPIRED),
    ("expired_intermediate", Reason.CERTIFICATE_EXPIRED),
    ("not_yet_valid", Reason.CERTIFICATE_NOT_YET_VALID),
    ("no_code_signing", Reason.NO_CODE_SIGNING_USAGE),
    ("server_only", Reason.NO_CODE_SIGNING_USAGE),
])
def test_certificate_rejections(model: Path, tmp_path: Path, pki: PKI, leaf_name: str, reason: Reason) -> None:
    sig = cert_signed(model, tmp_path, getattr(pki, leaf_name))
    result = check(model, sig, pki_trust(pki))
    assert result.reasons == (reason,), result.discrepancies
    assert not result.signature_authenticated


def test_expired_intermediate_is_named(model: Path, tmp_path: Path, pki: PKI) -> None:
    result = check(model, cert_signed(model, tmp_path, pki.expired_intermediate), pki_trust(pki))
    assert "intermediate certificate 'CN=aisec expired intermediate' expired" in result.discrepancies[0].detail


def test_chain_without_intermediate_is_not_rooted(model: Path, tmp_path: Path, pki: PKI) -> None:
    sig = tmp_path / "bare.sig"
    sign_model(model, private_key=pki.good.key, certificate=pki.good.cert, signature_path=sig)
    assert check(model, sig, pki_trust(pki)).reasons == (Reason.CHAIN_NOT_ROOTED,)
    # ... unless the verifier trusts the intermediate itself.
    trust = CertificateTrust(roots=tuple(load_certificates(pki.good.chain)), identity=LEAF_EMAIL, issuer=None,
                             source="intermediate")
    assert check(model, sig, trust).valid


def test_identity_and_issuer_mismatch(model: Path, tmp_path: Path, pki: PKI) -> None:
    sig = cert_signed(model, tmp_path, pki.good)
    result = check(model, sig, pki_trust(pki, identity="mallory@example.com", issuer="someone else"))
    assert set(result.reasons) == {Reason.IDENTITY_MISMATCH, Reason.ISSUER_MISMATCH}


def test_all_discrepancies_are_collected(model: Path, tmp_path: Path, pki: PKI) -> None:
    sig = cert_signed(model, tmp_path, pki.expired)
    (model / "config.json").write_text("{}")
    (model / "added").write_text("x")
    (model / "empty").unlink()
    result = check(model, sig, pki_trust(pki, identity="mallory@example.com"))
    assert set(result.reasons) == {Reason.CERTIFICATE_EXPIRED, Reason.IDENTITY_MISMATCH, Reason.FILE_MODIFIED,
                                   Reason.FILE_ADDED, Reason.FILE_MISSING}


# --- Sigstore (the real bundle, trust roots altered) ----------------------------------------------


def _sigstore(tmp_path: Path, *, bundle: Any = None, root: Any = None) -> VerificationResult:
    folder = copy_sample("v1.1.0-sigstore", tmp_path)
    if bundle is not None:
        doc = json.loads((folder / "model.sig").read_bytes())
        bundle(doc)
        (folder / "model.sig").write_text(json.dumps(doc))
    root_path = None
    if root is not None:
        doc = json.loads(embedded_sigstore_root())
        root(doc)
        root_path = tmp_path / "root.json"
        root_path.write_text(json.dumps(doc))
    trusted, source = load_sigstore_root(root_path)
    trust = SigstoreTrust(trusted_root=trusted, identity=SIGSTORE_IDENTITY, issuer=SIGSTORE_ISSUER, source=source)
    return verify_model(folder, signature_path=folder / "model.sig", trust=trust)


def _other_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return base64.b64encode(key.public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def test_sigstore_transparency_log_invalid(tmp_path: Path) -> None:
    def bump(doc: dict[str, Any]) -> None:
        doc["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = "1760062341"
    assert _sigstore(tmp_path, bundle=bump).reasons == (Reason.TRANSPARENCY_LOG_INVALID,)


def test_sigstore_sct_invalid(tmp_path: Path) -> None:
    def swap(doc: dict[str, Any]) -> None:
        for log in doc["ctlogs"]:
            log["publicKey"]["rawBytes"] = _other_key()
    assert _sigstore(tmp_path, root=swap).reasons == (Reason.SCT_INVALID,)


def test_sigstore_chain_not_rooted(tmp_path: Path) -> None:
    def only_old_fulcio(doc: dict[str, Any]) -> None:
        doc["certificateAuthorities"] = doc["certificateAuthorities"][:1]
    assert _sigstore(tmp_path, root=only_old_fulcio).reasons == (Reason.CHAIN_NOT_ROOTED,)


def test_sigstore_unclassified_rejection_keeps_sigstores_message() -> None:
    assert _sigstore_reason("Unsupported DSSE log entry type: x/y") is Reason.TRANSPARENCY_LOG_INVALID
    assert _sigstore_reason("not enough sources of verified time") is Reason.SIGSTORE_REJECTED


def test_sigstore_bundle_with_extra_tlog_entries_is_malformed(tmp_path: Path) -> None:
    def dup(doc: dict[str, Any]) -> None:
        entries = doc["verificationMaterial"]["tlogEntries"]
        entries.append(copy.deepcopy(entries[0]))
    assert _sigstore(tmp_path, bundle=dup).reasons == (Reason.MALFORMED_BUNDLE,)


def test_every_reason_has_a_test() -> None:
    source = Path(__file__).read_text()
    tested = set(re.findall(r"Reason\.([A-Z_]+)", source))
    assert {r.name for r in Reason} <= tested, {r.name for r in Reason} - tested


def test_not_authenticated_without_trust_still_compares_files(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = signed(model, tmp_path, ec_keys)
    result = verify_model(model, signature_path=sig, trust=None)
    assert result.reasons == (Reason.NOT_AUTHENTICATED,)
    assert not result.valid and not result.signature_authenticated
    (model / "config.json").write_text("{}")
    result = verify_model(model, signature_path=sig, trust=None)
    assert set(result.reasons) == {Reason.NOT_AUTHENTICATED, Reason.FILE_MODIFIED}
    assert Reason.NOT_AUTHENTICATED.category == "unverified"
    assert Reason.FILE_MODIFIED.category == "integrity" and Reason.UNTRUSTED_KEY.category == "trust"


def test_sigstore_without_identity_is_not_authenticated(tmp_path: Path) -> None:
    folder = copy_sample("v1.1.0-sigstore", tmp_path)
    trusted, source = load_sigstore_root(None)
    result = verify_model(folder, signature_path=folder / "model.sig",
                          trust=SigstoreTrust(trusted_root=trusted, identity=None, issuer=None, source=source))
    assert result.reasons == (Reason.NOT_AUTHENTICATED,)
    assert SIGSTORE_IDENTITY in (result.signer or "")


def test_non_utf8_file_name(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    from aisec.signing import SigningError

    sig = signed(model, tmp_path, ec_keys)
    bad = os.path.join(os.fsencode(model), b"caf\xe9.bin")
    with open(bad, "wb") as handle:
        handle.write(b"x")
    result = check(model, sig, key_trust(ec_keys))
    assert result.reasons == (Reason.UNSAFE_RESOURCE_NAME,)
    assert "UTF-8" in result.discrepancies[0].detail
    with pytest.raises(SigningError, match="UTF-8"):
        signed(model, tmp_path, ec_keys)
