"""The scanner's signature options, read from the policy's ``settings.signature`` block and validated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aisec.errors import PolicyError
from aisec.suggest import unknown_key

DEFAULT_FILE_NAMES = ("model.sig",)


@dataclass(frozen=True, kw_only=True)
class SignatureSettings:
    """How ``aisec scan`` looks for and verifies OMS signatures of model folders.

    Example policy block::

        settings:
          signature:
            public_keys: [keys/release.pub]                  # key method
            certificate_roots: [pki/root-ca.pem]             # certificate method ...
            certificate_identity: CN=release signing         # ... and its required signer (SAN, DN or CN)
            sigstore_identity: release-bot@example.com       # Sigstore keyless: required SAN ...
            sigstore_issuer: https://accounts.google.com     # ... and OIDC issuer
    """

    file_names: tuple[str, ...] = DEFAULT_FILE_NAMES
    """Signature file names looked for in each model folder (and its parent folders)."""
    public_keys: tuple[str, ...] = ()
    """Trusted EC public keys (PEM) for key-method signatures."""
    certificate_roots: tuple[str, ...] = ()
    """Trusted root certificates (PEM) for certificate-method signatures."""
    certificate_identity: str | None = None
    """Required PKI signer: a SAN value, the subject DN (RFC 4514) or CN. Unset: any certificate under the roots."""
    certificate_issuer: str | None = None
    """Required issuer DN or CN of the PKI signing certificate."""
    sigstore_identity: str | None = None
    """Required Sigstore signer (SAN: e-mail, URI). Unset: a genuine Sigstore signature by anyone is reported
    as not authenticated."""
    sigstore_issuer: str | None = None
    """Required Sigstore OIDC issuer."""
    sigstore_trust_root: str | None = None
    """Sigstore trusted root file; default: the production root shipped inside sigstore-python."""
    ignore_unsigned_files: bool = False
    """Tolerate files present in the folder but not in the signature."""
    allow_symlinks: bool = False
    """Hash the targets of symbolic links that stay inside the model."""


_TUPLES = ("file_names", "public_keys", "certificate_roots")
_STRINGS = (
    "certificate_identity",
    "certificate_issuer",
    "sigstore_identity",
    "sigstore_issuer",
    "sigstore_trust_root",
)
_BOOLS = ("ignore_unsigned_files", "allow_symlinks")


def load_signature_settings(settings: Mapping[str, Any]) -> SignatureSettings:
    """Parse ``settings["signature"]``; unknown keys and wrong types are policy errors."""
    raw = settings.get("signature") or {}
    if not isinstance(raw, Mapping):
        raise PolicyError("settings.signature must be a mapping", field="settings.signature")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"settings.signature.{key}"
        if key in _TUPLES:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
                raise PolicyError(f"{where} must be a list of non-empty strings", field=where)
            values[key] = tuple(value)
        elif key in _STRINGS:
            if value is not None and (not isinstance(value, str) or not value):
                raise PolicyError(f"{where} must be a non-empty string", field=where)
            values[key] = value
        elif key in _BOOLS:
            if not isinstance(value, bool):
                raise PolicyError(f"{where} must be true or false", field=where)
            values[key] = value
        else:
            raise PolicyError(unknown_key("signature setting", str(key), (*_TUPLES, *_STRINGS, *_BOOLS)), field=where)
    if "file_names" in values:
        for name in values["file_names"]:
            if "/" in name or "\\" in name or name in (".", ".."):
                raise PolicyError(
                    f"settings.signature.file_names: {name!r} is not a plain file name",
                    field="settings.signature.file_names",
                )
    return SignatureSettings(**values)
