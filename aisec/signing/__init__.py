"""Sign and verify models in the OpenSSF Model Signing (OMS) format, offline and without model_signing."""

from __future__ import annotations

from aisec.signing.bundle import Method
from aisec.signing.reasons import Discrepancy, Reason
from aisec.signing.sign import SigningError, SignResult, default_signature_path, sign_model
from aisec.signing.trust import (
    CertificateTrust,
    KeyTrust,
    SigstoreTrust,
    TrustConfig,
    load_certificates,
    load_public_key,
    load_sigstore_root,
)
from aisec.signing.verify import NotChecked, VerificationResult, verify_model

__all__ = [
    "CertificateTrust",
    "Discrepancy",
    "KeyTrust",
    "Method",
    "NotChecked",
    "Reason",
    "SignResult",
    "SigningError",
    "SigstoreTrust",
    "TrustConfig",
    "VerificationResult",
    "default_signature_path",
    "load_certificates",
    "load_public_key",
    "load_sigstore_root",
    "sign_model",
    "verify_model",
]
