"""Sign and verify models in the OpenSSF Model Signing (OMS) format, offline and without model_signing."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "Method": "bundle", "Discrepancy": "reasons", "Reason": "reasons", "SigningError": "sign", "SignResult": "sign",
    "default_signature_path": "sign", "sign_model": "sign", "CertificateTrust": "trust", "KeyTrust": "trust",
    "SigstoreTrust": "trust", "TrustConfig": "trust", "load_certificates": "trust", "load_public_key": "trust",
    "load_sigstore_root": "trust", "NotChecked": "verify", "VerificationResult": "verify", "verify_model": "verify",
}


def __getattr__(name: str) -> Any:
    # Imported on first use: a submodule such as ``aisec.signing.settings`` (read by every policy load) or
    # ``hashing`` must not pull in cryptography through this package's own import.
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"aisec.signing.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'aisec.signing' has no attribute {name!r}")


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
