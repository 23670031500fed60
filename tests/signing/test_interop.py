"""Interoperability both ways with the real model_signing 1.1.1 package (key and certificate methods)."""

from __future__ import annotations

from pathlib import Path

import pytest
from model_signing import hashing as ms_hashing
from model_signing import signing as ms_signing
from model_signing import verifying as ms_verifying

from aisec.signing import (
    CertificateTrust,
    KeyTrust,
    Reason,
    load_certificates,
    load_public_key,
    sign_model,
    verify_model,
)

from .conftest import LEAF_EMAIL, PKI
from .helpers import payload_of


def _ms_sign_key(model: Path, key: Path, sig: Path, hashing_config: ms_hashing.Config | None = None) -> None:
    config = ms_signing.Config().use_elliptic_key_signer(private_key=key)
    config.set_hashing_config((hashing_config or ms_hashing.Config()).set_ignored_paths(paths=[sig]))
    config.sign(model, sig)


def _ms_verify_key(model: Path, pub: Path, sig: Path, **kw: bool) -> None:
    config = ms_verifying.Config().use_elliptic_key_verifier(public_key=pub)
    if kw.get("ignore_unsigned"):
        config.set_ignore_unsigned_files(True)
    config.verify(model, sig)


@pytest.mark.parametrize("curve", ["p256", "p384", "p521"])
def test_model_signing_key_signature_verifies_with_aisec(model: Path, tmp_path: Path,
                                                         ec_keys: dict[str, tuple[Path, Path]], curve: str) -> None:
    priv, pub = ec_keys[curve]
    sig = tmp_path / "model.sig"
    _ms_sign_key(model, priv, sig)
    result = verify_model(model, signature_path=sig, trust=KeyTrust(public_key=load_public_key(pub), source="t"))
    assert result.valid, result.discrepancies
    assert result.signature_authenticated
    assert set(result.checked_files) == {"config.json", "weights.bin", "nested/adapter/x", "nested-notes.txt",
                                         "empty"}
    assert {n.path for n in result.not_checked} == {".git", ".gitattributes"}


def test_model_signing_shard_and_blake2_signatures_verify_with_aisec(model: Path, tmp_path: Path,
                                                                     ec_keys: dict[str, tuple[Path, Path]]) -> None:
    priv, pub = ec_keys["p256"]
    trust = KeyTrust(public_key=load_public_key(pub), source="t")
    sig = tmp_path / "shards.sig"
    _ms_sign_key(model, priv, sig, ms_hashing.Config().use_shard_serialization(shard_size=100_000))
    assert payload_of(sig)["predicate"]["resources"][0]["algorithm"] == "sha256-sharded-100000"
    assert verify_model(model, signature_path=sig, trust=trust).valid
    (model / "weights.bin").write_bytes((model / "weights.bin").read_bytes()[:-1] + b"X")
    result = verify_model(model, signature_path=sig, trust=trust)
    assert [d.reason for d in result.discrepancies] == [Reason.FILE_MODIFIED]
    assert "1 of 6 signed shard(s)" in result.discrepancies[0].detail
    sig2 = tmp_path / "blake.sig"
    _ms_sign_key(model, priv, sig2, ms_hashing.Config().use_file_serialization(hashing_algorithm="blake2"))
    assert verify_model(model, signature_path=sig2, trust=trust).valid


def test_aisec_key_signature_verifies_with_model_signing(model: Path, tmp_path: Path,
                                                         ec_keys: dict[str, tuple[Path, Path]]) -> None:
    for curve in ("p256", "p384", "p521"):
        priv, pub = ec_keys[curve]
        sig = tmp_path / f"{curve}.sig"
        sign_model(model, private_key=priv, signature_path=sig)
        _ms_verify_key(model, pub, sig)
    # Sharded, with an ignore path, a Mercurial folder and the signature inside the model.
    (model / ".hg").mkdir()
    (model / ".hg" / "store").write_bytes(b"hg data")
    inner = model / "model.sig"
    sign_model(model, private_key=ec_keys["p256"][0], method="shards", shard_size=65536,
               ignore_paths=["nested"], signature_path=inner)
    _ms_verify_key(model, ec_keys["p256"][1], inner)
    assert {"nested", "model.sig", ".git", ".hg"} <= set(
        payload_of(inner)["predicate"]["serialization"]["ignore_paths"])
    # model_signing also rejects what aisec rejects.
    (model / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="Signature mismatch"):
        _ms_verify_key(model, ec_keys["p256"][1], inner)


def test_aisec_and_model_signing_produce_the_same_manifest(model: Path, tmp_path: Path,
                                                           ec_keys: dict[str, tuple[Path, Path]]) -> None:
    """Same resources, same order (path components, not code points), hence the same root digest."""
    priv, _ = ec_keys["p256"]
    ours, theirs = tmp_path / "ours.sig", tmp_path / "theirs.sig"
    for kwargs, cfg in (({}, ms_hashing.Config()),
                        ({"method": "shards", "shard_size": 4096},
                         ms_hashing.Config().use_shard_serialization(shard_size=4096))):
        sign_model(model, private_key=priv, signature_path=ours, **kwargs)  # type: ignore[arg-type]
        _ms_sign_key(model, priv, theirs, cfg)
        a, b = payload_of(ours), payload_of(theirs)
        assert a["subject"] == [{**b["subject"][0], "name": "model"}]
        assert [(r["name"], r["digest"], r["algorithm"]) for r in a["predicate"]["resources"]] == \
            [(r["name"], r["digest"], r["algorithm"]) for r in b["predicate"]["resources"]]
    names = [r["name"] for r in payload_of(ours)["predicate"]["resources"]]
    assert names.index("nested/adapter/x:0:7") < names.index("nested-notes.txt:0:6")


def test_single_file_model_both_ways(tmp_path: Path, ec_keys: dict[str, tuple[Path, Path]]) -> None:
    priv, pub = ec_keys["p384"]
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x08" * 5000)
    trust = KeyTrust(public_key=load_public_key(pub), source="t")
    theirs = tmp_path / "theirs.sig"
    _ms_sign_key(weights, priv, theirs)
    assert verify_model(weights, signature_path=theirs, trust=trust).valid
    ours = sign_model(weights, private_key=priv).signature_path
    assert ours == str(tmp_path / "model.sig")
    _ms_verify_key(weights, pub, Path(ours))
    weights.write_bytes(b"\x09" * 5000)
    assert verify_model(weights, signature_path=ours, trust=trust).reasons == (Reason.FILE_MODIFIED,)


def test_model_signing_certificate_signature_verifies_with_aisec(model: Path, tmp_path: Path, pki: PKI) -> None:
    sig = tmp_path / "cert.sig"
    config = ms_signing.Config().use_certificate_signer(private_key=pki.good.key, signing_certificate=pki.good.cert,
                                                       certificate_chain=[pki.good.chain])
    config.set_hashing_config(ms_hashing.Config())
    config.sign(model, sig)
    trust = CertificateTrust(roots=tuple(load_certificates(pki.root)), identity=LEAF_EMAIL, issuer=None,
                             source="t")
    result = verify_model(model, signature_path=sig, trust=trust)
    assert result.valid, result.discrepancies
    assert "CN=good signer" in (result.signer or "")


def test_aisec_certificate_signature_verifies_with_model_signing(model: Path, tmp_path: Path, pki: PKI) -> None:
    for leaf in (pki.good, pki.p384):
        sig = tmp_path / "cert.sig"
        sign_model(model, private_key=leaf.key, certificate=leaf.cert, certificate_chain=[leaf.chain],
                   signature_path=sig)
        ms_verifying.Config().use_certificate_verifier(certificate_chain=[pki.root]).verify(model, sig)


def test_aisec_signature_with_unsigned_extra_file_and_ignore_unsigned(model: Path, tmp_path: Path,
                                                                      ec_keys: dict[str, tuple[Path, Path]]) -> None:
    priv, pub = ec_keys["p256"]
    sig = tmp_path / "model.sig"
    sign_model(model, private_key=priv, signature_path=sig)
    (model / "extra.txt").write_text("new")
    _ms_verify_key(model, pub, sig, ignore_unsigned=True)
    with pytest.raises(ValueError, match="Extra files"):
        _ms_verify_key(model, pub, sig)


@pytest.mark.parametrize("hash_type", ["blake2b", "blake3"])
def test_aisec_blake_signatures_verify_with_model_signing(model: Path, tmp_path: Path,
                                                          ec_keys: dict[str, tuple[Path, Path]],
                                                          hash_type: str) -> None:
    priv, pub = ec_keys["p256"]
    sig = tmp_path / f"{hash_type}.sig"
    sign_model(model, private_key=priv, signature_path=sig, hash_type=hash_type)
    assert payload_of(sig)["predicate"]["serialization"]["hash_type"] == hash_type
    if hash_type == "blake3":
        _ms_verify_key(model, pub, sig)
    else:
        # model_signing 1.1.1 records BLAKE2 as "blake2b" but only accepts "blake2" when guessing the
        # hashing config back, so it cannot verify its own BLAKE2 signatures without an explicit config.
        with pytest.raises(ValueError, match="Unsupported hashing method blake2b"):
            _ms_verify_key(model, pub, sig)
        hashing_config = ms_hashing.Config().set_ignored_paths(paths=[sig]).use_file_serialization(
            hashing_algorithm="blake2")
        ms_verifying.Config().use_elliptic_key_verifier(public_key=pub).set_hashing_config(
            hashing_config).verify(model, sig)
    assert verify_model(model, signature_path=sig, trust=KeyTrust(public_key=load_public_key(pub),
                                                                  source="t")).valid
    from aisec.signing import SigningError

    with pytest.raises(SigningError, match="BLAKE3"):
        sign_model(model, private_key=priv, signature_path=sig, hash_type="blake3", method="shards")
