"""v0.2-era signatures (the reference project's real ``v0.2.0-certificate`` sample) verify as model_signing
verifies them, with a notice naming the legacy encoding (issue 12, verdict integrity 4)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from model_signing import hashing as ms_hashing
from model_signing import verifying as ms_verifying

from aisec.signing import CertificateTrust, Reason, load_certificates, verify_model
from aisec.signing.verify import LEGACY_ENCODING_NOTICE

from .conftest import DATA, copy_sample

ROOTS = DATA / "keys" / "ca-cert.pem"


def _trust() -> CertificateTrust:
    return CertificateTrust(roots=tuple(load_certificates(ROOTS)), identity=None, issuer=None, source="test roots")


def test_real_v0_2_certificate_signature_verifies_with_a_legacy_notice(tmp_path: Path) -> None:
    model = copy_sample("v0.2.0-certificate", tmp_path)
    result = verify_model(model, signature_path=model / "model.sig", trust=_trust())
    assert result.valid, result.discrepancies
    assert result.signature_authenticated
    assert LEGACY_ENCODING_NOTICE in result.warnings
    assert set(result.checked_files) == {"signme-1", "signme-2"}
    # The reference implementation accepts the same sample (through its compatibility path).
    config = ms_verifying.Config().use_certificate_verifier(certificate_chain=[ROOTS])
    config.set_hashing_config(ms_hashing.Config().set_ignored_paths(paths=[model / "model.sig"]))
    config.verify(model, model / "model.sig")


def test_tampering_with_a_v0_2_signed_model_or_signature_is_still_caught(tmp_path: Path) -> None:
    model = copy_sample("v0.2.0-certificate", tmp_path)
    with open(model / "signme-1", "ab") as handle:
        handle.write(b"!")
    result = verify_model(model, signature_path=model / "model.sig", trust=_trust())
    assert [(d.reason, d.path) for d in result.discrepancies] == [(Reason.FILE_MODIFIED, "signme-1")]

    fresh = copy_sample("v0.2.0-certificate", tmp_path / "again")
    bundle = json.loads((fresh / "model.sig").read_text())
    signature = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    signature[-1] ^= 1
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    (fresh / "model.sig").write_text(json.dumps(bundle))
    forged = verify_model(fresh, signature_path=fresh / "model.sig", trust=_trust())
    assert Reason.BAD_SIGNATURE in forged.reasons
    assert LEGACY_ENCODING_NOTICE not in forged.warnings


def test_current_signatures_carry_no_legacy_notice(tmp_path: Path) -> None:
    model = copy_sample("v1.1.0-certificate", tmp_path)
    result = verify_model(model, signature_path=model / "model.sig", trust=_trust(),
                          ignore_unsigned_files=False)
    assert result.valid, result.discrepancies
    assert LEGACY_ENCODING_NOTICE not in result.warnings
