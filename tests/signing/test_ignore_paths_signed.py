"""``--ignore-paths`` cannot drop a signed file from the check (issue 12, verdict integrity 3).

The OMS spec requires every signed resource to exist and match, and model_signing 1.1.1 calls a verification
that leaves a signed file out invalid; aisec checks signed files whatever the ignore patterns say.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from model_signing import hashing as ms_hashing
from model_signing import verifying as ms_verifying

from aisec.signing import KeyTrust, Reason, load_public_key, sign_model, verify_model

Keys = dict[str, tuple[Path, Path]]


def _signed(model: Path, keys: Keys) -> tuple[Path, KeyTrust]:
    priv, pub = keys["p256"]
    sig = model.parent / "model.sig"
    sign_model(model, private_key=priv, signature_path=sig)
    return sig, KeyTrust(public_key=load_public_key(pub), source="test key")


def test_ignoring_two_tampered_signed_files_does_not_make_the_signature_valid(model: Path, ec_keys: Keys) -> None:
    sig, trust = _signed(model, ec_keys)
    (model / "config.json").write_text('{"hidden": 9}\n')
    (model / "nested" / "adapter" / "x").write_bytes(b"tampered")
    result = verify_model(model, signature_path=sig, trust=trust,
                          ignore_paths=[model / "config.json", model / "nested"])
    assert not result.valid
    modified = {d.path for d in result.discrepancies if d.reason is Reason.FILE_MODIFIED}
    assert modified == {"config.json", "nested/adapter/x"}
    assert {"config.json", "nested/adapter/x"} <= set(result.checked_files)
    assert any("covers 2 signed file(s)" in w for w in result.warnings)
    assert not {"config.json", "nested/adapter/x"} & {n.path for n in result.not_checked}
    # The reference implementation agrees that this verification fails.
    config = ms_verifying.Config().use_elliptic_key_verifier(public_key=ec_keys["p256"][1])
    config.set_hashing_config(ms_hashing.Config().set_ignored_paths(
        paths=[model / "config.json", model / "nested"]))
    with pytest.raises(ValueError):
        config.verify(model, sig)


def test_an_ignored_signed_file_that_is_gone_is_missing(model: Path, ec_keys: Keys) -> None:
    sig, trust = _signed(model, ec_keys)
    (model / "weights.bin").unlink()
    result = verify_model(model, signature_path=sig, trust=trust, ignore_paths=[model / "weights.bin"])
    assert [(d.reason, d.path) for d in result.discrepancies] == [(Reason.FILE_MISSING, "weights.bin")]


def test_ignore_paths_still_cover_unsigned_files(model: Path, ec_keys: Keys) -> None:
    sig, trust = _signed(model, ec_keys)
    (model / "scratch").mkdir()
    (model / "scratch" / "tmp.txt").write_text("local notes\n")
    result = verify_model(model, signature_path=sig, trust=trust, ignore_paths=[model / "scratch"])
    assert result.valid, result.discrepancies
    assert not result.warnings
    unignored = verify_model(model, signature_path=sig, trust=trust)
    assert [d.reason for d in unignored.discrepancies] == [Reason.FILE_ADDED]
