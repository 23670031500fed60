"""Strict reading and writing of the Sigstore bundle (v0.3, DSSE) that carries an OMS signature."""

from __future__ import annotations

import base64
import binascii
import enum
import json
from dataclasses import dataclass
from typing import Any

from aisec import strictjson
from aisec.signing.manifest import PAYLOAD_TYPE
from aisec.signing.reasons import Reason

MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
MEDIA_TYPE_ALIAS = "application/vnd.dev.sigstore.bundle+json;version=0.3"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
"""Refuse signature files larger than this before parsing (a manifest of ~300k files fits)."""

_TOP_KEYS = {"mediaType", "verificationMaterial", "dsseEnvelope"}
_MATERIAL_KEYS = {
    "publicKey",
    "x509CertificateChain",
    "certificate",
    "tlogEntries",
    "timestampVerificationData",
}
_ENVELOPE_KEYS = {"payload", "payloadType", "signatures"}


class Method(str, enum.Enum):
    """How the bundle says it was signed, from its verification material."""

    KEY = "key"
    CERTIFICATE = "certificate"
    SIGSTORE = "sigstore"

    def __str__(self) -> str:
        return self.value


class BundleError(ValueError):
    """The bundle is malformed, truncated or of an unsupported kind."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, kw_only=True)
class ParsedBundle:
    """The parts of a bundle aisec uses; ``payload`` holds the exact signed bytes (never re-serialized)."""

    raw: bytes
    media_type: str
    method: Method
    key_hint: str | None
    certificates: tuple[bytes, ...]
    """DER certificates: the leaf first (Fulcio leaf for Sigstore), then intermediates."""
    payload_type: str
    payload: bytes
    signature: bytes
    tlog_entries: int


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise BundleError(Reason.MALFORMED_BUNDLE, f"{where} is not a base64 string")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise BundleError(Reason.MALFORMED_BUNDLE, f"{where} is not valid base64") from None


def _obj(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BundleError(Reason.MALFORMED_BUNDLE, f"{where} is not a JSON object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise BundleError(Reason.MALFORMED_BUNDLE, f"{where} has unknown field(s): {', '.join(unknown)}")
    return value


def parse_bundle(raw: bytes) -> ParsedBundle:
    """Parse and structurally check a signature file; raise :class:`BundleError` on any defect."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleError(Reason.MALFORMED_BUNDLE, f"signature file is larger than {MAX_BUNDLE_BYTES} bytes")
    if not raw.strip():
        raise BundleError(Reason.MALFORMED_BUNDLE, "signature file is empty")
    try:
        doc = strictjson.loads(raw)
    except strictjson.StrictJSONError as exc:
        raise BundleError(Reason.MALFORMED_BUNDLE, str(exc)) from None
    top = _obj(doc, "bundle", _TOP_KEYS | {"messageSignature"})
    if "messageSignature" in top:
        raise BundleError(Reason.MALFORMED_BUNDLE, "bundle has a messageSignature; OMS signatures use a DSSE envelope")
    for key in ("mediaType", "verificationMaterial", "dsseEnvelope"):
        if key not in top:
            raise BundleError(Reason.MALFORMED_BUNDLE, f"bundle has no '{key}' (truncated?)")
    media_type = top["mediaType"]
    if not isinstance(media_type, str):
        raise BundleError(Reason.MALFORMED_BUNDLE, "mediaType is not a string")
    material = _obj(top["verificationMaterial"], "verificationMaterial", _MATERIAL_KEYS)
    kinds = [k for k in ("publicKey", "x509CertificateChain", "certificate") if k in material]
    if len(kinds) != 1:
        raise BundleError(
            Reason.MALFORMED_BUNDLE,
            "verificationMaterial must hold exactly one of publicKey, x509CertificateChain or certificate",
        )
    tlog = material.get("tlogEntries", [])
    if not isinstance(tlog, list):
        raise BundleError(Reason.MALFORMED_BUNDLE, "verificationMaterial.tlogEntries is not a list")
    key_hint: str | None = None
    certificates: tuple[bytes, ...] = ()
    if kinds[0] == "publicKey":
        method = Method.KEY
        public_key = _obj(material["publicKey"], "publicKey", {"hint", "rawBytes", "keyDetails"})
        hint = public_key.get("hint")
        if hint is not None and not isinstance(hint, str):
            raise BundleError(Reason.MALFORMED_BUNDLE, "publicKey.hint is not a string")
        key_hint = hint or None
    elif kinds[0] == "x509CertificateChain":
        method = Method.CERTIFICATE
        chain = _obj(material["x509CertificateChain"], "x509CertificateChain", {"certificates"})
        certs = chain.get("certificates")
        if not isinstance(certs, list) or not certs:
            raise BundleError(Reason.MALFORMED_BUNDLE, "x509CertificateChain.certificates is empty")
        certificates = tuple(
            _b64(_obj(c, f"certificates[{i}]", {"rawBytes"}).get("rawBytes"), f"certificates[{i}].rawBytes")
            for i, c in enumerate(certs)
        )
    else:
        method = Method.SIGSTORE
        cert = _obj(material["certificate"], "certificate", {"rawBytes"})
        certificates = (_b64(cert.get("rawBytes"), "certificate.rawBytes"),)
    if method is Method.SIGSTORE:
        if media_type not in (MEDIA_TYPE, MEDIA_TYPE_ALIAS):
            raise BundleError(Reason.UNSUPPORTED_MEDIA_TYPE, f"mediaType {media_type!r} is not a Sigstore v0.3 bundle")
        if len(tlog) != 1:
            raise BundleError(
                Reason.MALFORMED_BUNDLE,
                f"a Sigstore bundle needs exactly one transparency log entry, got {len(tlog)}",
            )
    else:
        if media_type != MEDIA_TYPE:
            raise BundleError(
                Reason.UNSUPPORTED_MEDIA_TYPE,
                f"mediaType {media_type!r}; model_signing key and certificate bundles use {MEDIA_TYPE!r}",
            )
        if tlog or "timestampVerificationData" in material:
            raise BundleError(
                Reason.MALFORMED_BUNDLE,
                f"a {method.value} bundle with transparency log entries or timestamps is not supported",
            )
    envelope = _obj(top["dsseEnvelope"], "dsseEnvelope", _ENVELOPE_KEYS)
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise BundleError(Reason.MALFORMED_BUNDLE, "dsseEnvelope.payloadType is missing")
    payload = _b64(envelope.get("payload"), "dsseEnvelope.payload")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise BundleError(Reason.MALFORMED_BUNDLE, "dsseEnvelope must hold exactly one signature")
    entry = _obj(signatures[0], "signatures[0]", {"sig", "keyid"})
    keyid = entry.get("keyid")
    if keyid is not None and not isinstance(keyid, str):
        raise BundleError(Reason.MALFORMED_BUNDLE, "signatures[0].keyid is not a string")
    signature = _b64(entry.get("sig"), "signatures[0].sig")
    if not signature:
        raise BundleError(Reason.MALFORMED_BUNDLE, "signatures[0].sig is empty")
    return ParsedBundle(
        raw=raw,
        media_type=media_type,
        method=method,
        key_hint=key_hint,
        certificates=certificates,
        payload_type=payload_type,
        payload=payload,
        signature=signature,
        tlog_entries=len(tlog),
    )


def encode_bundle(
    *, payload: bytes, signature: bytes, key_hint: str | None = None, chain_der: tuple[bytes, ...] = ()
) -> bytes:
    """A v0.3 bundle: key method (``key_hint``) or certificate method (``chain_der``, leaf first)."""
    material: dict[str, Any]
    if chain_der:
        material = {
            "x509CertificateChain": {
                "certificates": [{"rawBytes": base64.b64encode(der).decode("ascii")} for der in chain_der]
            },
            "tlogEntries": [],
        }
    else:
        material = {"publicKey": {"hint": key_hint or ""}, "tlogEntries": []}
    bundle = {
        "mediaType": MEDIA_TYPE,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode("ascii"),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode("ascii"), "keyid": ""}],
        },
    }
    return (json.dumps(bundle, indent=2) + "\n").encode("utf-8")
