"""DSSE pre-authentication encoding and the ECDSA signatures OMS uses over it."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aisec.signing.manifest import PAYLOAD_TYPE

SUPPORTED_CURVES: tuple[str, ...] = ("secp256r1", "secp384r1", "secp521r1")
"""EC curves model_signing 1.1.1 signs and verifies with (it refuses Ed25519 and RSA keys)."""


class UnsupportedKey(ValueError):
    """A key type OMS (as model_signing implements it) cannot use."""


def pae(payload: bytes, payload_type: str = PAYLOAD_TYPE) -> bytes:
    """DSSE v1 pre-authentication encoding of ``payload``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def legacy_pae(payload: bytes) -> bytes:
    """The buggy v0.2-era encoding (``DSSEV1`` and the Python ``repr`` of the payload bytes)."""
    return f"DSSEV1 {len(PAYLOAD_TYPE)} {PAYLOAD_TYPE} {len(payload)} {payload!r}".encode()


def _hash_for(curve: ec.EllipticCurve) -> hashes.HashAlgorithm:
    if curve.name == "secp256r1":
        return hashes.SHA256()
    if curve.name == "secp384r1":
        return hashes.SHA384()
    if curve.name == "secp521r1":
        return hashes.SHA512()
    raise UnsupportedKey(f"elliptic curve {curve.name} is not supported (use P-256, P-384 or P-521)")


def check_public_key(key: object) -> ec.EllipticCurvePublicKey:
    """Return ``key`` as an EC public key on a supported curve, or raise :class:`UnsupportedKey`."""
    if not isinstance(key, ec.EllipticCurvePublicKey):
        kind = type(key).__name__.lstrip("_")
        raise UnsupportedKey(
            f"{kind} keys are not supported: OMS signatures as model_signing 1.1.1 "
            "verifies them use ECDSA on P-256, P-384 or P-521 (no Ed25519, no RSA)"
        )
    _hash_for(key.curve)
    return key


def sign(private_key: ec.EllipticCurvePrivateKey, payload: bytes) -> bytes:
    """DER ECDSA signature over the PAE of ``payload``, with the hash matching the curve."""
    return private_key.sign(pae(payload), ec.ECDSA(_hash_for(private_key.curve)))


def verify(
    public_key: ec.EllipticCurvePublicKey,
    signature: bytes,
    payload: bytes,
    *,
    payload_type: str = PAYLOAD_TYPE,
    allow_legacy: bool = False,
) -> bool:
    """True when ``signature`` is valid over the PAE of the envelope's type and payload.

    With ``allow_legacy`` the v0.2-era encoding is tried too (model_signing does; aisec does not by default).
    """
    try:
        public_key.verify(signature, pae(payload, payload_type), ec.ECDSA(_hash_for(public_key.curve)))
        return True
    except InvalidSignature:
        pass
    if not allow_legacy:
        return False
    for algorithm in (_hash_for(public_key.curve), hashes.SHA256()):
        try:
            public_key.verify(signature, legacy_pae(payload), ec.ECDSA(algorithm))
            return True
        except InvalidSignature:
            continue
    return False


def key_hint(public_key: ec.EllipticCurvePublicKey) -> str:
    """model_signing's ``publicKey.hint``: hex SHA-256 of the PEM SubjectPublicKeyInfo text."""
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def key_fingerprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """``sha256:<hex>`` of the DER SubjectPublicKeyInfo, to name a key in reports."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()
