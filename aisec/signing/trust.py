"""Trust material (keys, X.509 roots, Sigstore trusted roots) and the checks made against it."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store

from aisec import strictjson
from aisec.errors import VerificationError
from aisec.signing.dsse import UnsupportedKey, check_public_key
from aisec.signing.reasons import Discrepancy, Reason

if TYPE_CHECKING:  # sigstore is imported only when a Sigstore signature is verified (it is slow to import)
    from sigstore.models import TrustedRoot

SIGSTORE_PRODUCTION_TUF = "https://tuf-repo-cdn.sigstore.dev"
"""The TUF repository whose trusted root sigstore-python ships inside its package."""

_OIDC_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_OIDC_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_MAX_CHAIN = 8


@dataclass(frozen=True, kw_only=True)
class KeyTrust:
    """Trust exactly one public key."""

    public_key: ec.EllipticCurvePublicKey
    source: str


@dataclass(frozen=True, kw_only=True)
class CertificateTrust:
    """Trust certificates that chain to one of ``roots`` and match the identity constraint."""

    roots: tuple[x509.Certificate, ...]
    identity: str | None
    """Required SAN value, subject DN (RFC 4514) or subject CN; None accepts any (the CLI asks loudly)."""
    issuer: str | None
    """Required issuer DN (RFC 4514) or CN of the leaf, or its Sigstore OIDC-issuer extension."""
    source: str


@dataclass(frozen=True, kw_only=True)
class SigstoreTrust:
    """Trust Sigstore keyless signatures for ``identity`` from ``issuer`` under a trusted root.

    ``identity=None`` checks everything except who signed (the CLI never allows it; the scanner uses it to
    report a signature it cannot pin to a signer, with a ``not-authenticated`` discrepancy).
    """

    trusted_root: TrustedRoot
    identity: str | None
    issuer: str | None
    source: str


TrustConfig = KeyTrust | CertificateTrust | SigstoreTrust


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise VerificationError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def load_public_key(path: str | Path) -> ec.EllipticCurvePublicKey:
    """Load a PEM or DER public key (or a PEM certificate's key); VerificationError if unusable."""
    data = _read(path, "public key")
    key: object
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        elif b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except ValueError as exc:
        raise VerificationError(f"{path}: not a public key ({exc})") from None
    try:
        return check_public_key(key)
    except UnsupportedKey as exc:
        raise VerificationError(f"{path}: {exc}") from None


def load_certificates(path: str | Path, what: str = "certificate file") -> list[x509.Certificate]:
    """Load every PEM certificate of a file (or one DER certificate)."""
    data = _read(path, what)
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise VerificationError(f"{path}: no certificate could be read ({exc})") from None


def embedded_sigstore_root() -> bytes:
    """The production ``trusted_root.json`` shipped inside the installed sigstore package (no network)."""
    folder = SIGSTORE_PRODUCTION_TUF.replace(":", "%3A").replace("/", "%2F")
    return resources.files("sigstore._store").joinpath(folder).joinpath("trusted_root.json").read_bytes()


def load_sigstore_root(path: str | Path | None) -> tuple[TrustedRoot, str]:
    """A Sigstore trusted root from ``path`` (trusted root or client trust config), else the embedded one."""
    from sigstore.models import TrustedRoot
    from sigstore_models.trustroot import v1 as trustroot_v1

    if path is None:
        raw = embedded_sigstore_root()
        source = f"Sigstore production trusted root embedded in sigstore-python ({SIGSTORE_PRODUCTION_TUF})"
    else:
        raw = _read(path, "Sigstore trust root")
        source = f"Sigstore trusted root {path}"
    try:
        doc = strictjson.loads(raw)
        if isinstance(doc, dict) and "trustedRoot" in doc:  # a ClientTrustConfig
            inner = trustroot_v1.ClientTrustConfig.from_json(raw).trusted_root
        else:
            inner = trustroot_v1.TrustedRoot.from_json(raw)
        return TrustedRoot(inner), source
    except Exception as exc:  # sigstore raises pydantic and its own errors here
        raise VerificationError(
            f"{path or 'embedded trusted root'}: not a usable Sigstore trusted root ({exc})"
        ) from None


def describe_certificate(cert: x509.Certificate) -> str:
    """Subject plus SAN values, for verdicts."""
    subject = cert.subject.rfc4514_string() or "(empty subject)"
    sans = san_values(cert)
    return f"{subject}" + (f" SAN={','.join(sans)}" if sans else "")


def san_values(cert: x509.Certificate) -> list[str]:
    """Every SAN as text: e-mail, URI, DNS name, IP address, and UTF-8 other-names."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    values: list[str] = []
    values += san.get_values_for_type(x509.RFC822Name)
    values += san.get_values_for_type(x509.UniformResourceIdentifier)
    values += san.get_values_for_type(x509.DNSName)
    values += [
        str(ip)
        for ip in san.get_values_for_type(x509.IPAddress)
        if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address))
    ]
    for other in san.get_values_for_type(x509.OtherName):
        raw = other.value
        # Sigstore other-names are DER UTF8String: tag 0x0c, short length.
        if len(raw) >= 2 and raw[0] == 0x0C and raw[1] == len(raw) - 2:
            raw = raw[2:]
        try:
            values.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    return values


def oidc_issuer(cert: x509.Certificate) -> str | None:
    """The Fulcio OIDC-issuer extension (v2 DER string, else v1 raw), if present."""
    for oid, der in ((_OIDC_ISSUER_V2, True), (_OIDC_ISSUER_V1, False)):
        try:
            value = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
        if der and len(raw) >= 2 and raw[0] == 0x0C:
            raw = raw[2:] if raw[1] < 0x80 else raw[2 + (raw[1] & 0x7F) :]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _common_names(name: x509.Name) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)]


def check_identity(
    cert: x509.Certificate, *, identity: str | None, issuer: str | None, sigstore: bool
) -> list[Discrepancy]:
    """Compare the leaf with the expected identity and issuer; exact, case-sensitive matches only.

    Sigstore: identity is a SAN (e-mail, URI or other-name) and issuer the OIDC-issuer extension.
    PKI: identity may also be the subject DN or CN, and issuer the issuer DN or CN.
    """
    problems: list[Discrepancy] = []
    if identity is not None:
        candidates = san_values(cert)
        if not sigstore:
            candidates += [cert.subject.rfc4514_string(), *_common_names(cert.subject)]
        if identity not in candidates:
            shown = ", ".join(repr(c) for c in candidates) or "none"
            problems.append(
                Discrepancy(
                    reason=Reason.IDENTITY_MISMATCH,
                    detail=f"expected identity {identity!r}; certificate has {shown}",
                )
            )
    if issuer is not None:
        found = oidc_issuer(cert)
        candidates = [found] if found else []
        if not sigstore:
            candidates += [cert.issuer.rfc4514_string(), *_common_names(cert.issuer)]
        if issuer not in candidates:
            shown = ", ".join(repr(c) for c in candidates) or "none"
            problems.append(
                Discrepancy(
                    reason=Reason.ISSUER_MISMATCH,
                    detail=f"expected issuer {issuer!r}; certificate has {shown}",
                )
            )
    return problems


def check_code_signing(cert: x509.Certificate) -> Discrepancy | None:
    """The leaf must be meant for signing.

    Accepted when KeyUsage has digitalSignature or ExtendedKeyUsage has codeSigning (model_signing's rule),
    and, stricter than model_signing, neither extension, when present, excludes it: a KeyUsage without
    digitalSignature or an ExtendedKeyUsage without codeSigning (or anyExtendedKeyUsage) is rejected.
    """
    try:
        ku: x509.KeyUsage | None = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    try:
        eku: x509.ExtendedKeyUsage | None = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    has_ds = ku is not None and ku.digital_signature
    has_cs = eku is not None and (
        ExtendedKeyUsageOID.CODE_SIGNING in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku
    )
    if ku is not None and not ku.digital_signature:
        return Discrepancy(
            reason=Reason.NO_CODE_SIGNING_USAGE,
            detail="signing certificate's KeyUsage does not allow digitalSignature",
        )
    if eku is not None and not has_cs:
        return Discrepancy(
            reason=Reason.NO_CODE_SIGNING_USAGE,
            detail="signing certificate's ExtendedKeyUsage does not include codeSigning",
        )
    if not (has_ds or has_cs):
        return Discrepancy(
            reason=Reason.NO_CODE_SIGNING_USAGE,
            detail="signing certificate has neither digitalSignature KeyUsage nor codeSigning ExtendedKeyUsage",
        )
    return None


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, issuer-name mismatch, unsupported algorithm
        return False
    return True


def check_chain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    roots: tuple[x509.Certificate, ...],
    at: datetime.datetime,
) -> list[Discrepancy]:
    """Path from ``leaf`` through ``intermediates`` to a root, every certificate valid at ``at``.

    The path is first built by hand to name time problems per certificate, then the whole chain is
    validated by cryptography's X.509 verifier (signatures, CA basic constraints, key usage, path length)
    with a permissive end-entity profile, because OMS leaves are not web-PKI client certificates.
    """
    root_ders = {r.public_bytes(serialization.Encoding.DER) for r in roots}
    path = [leaf]
    anchored = leaf.public_bytes(serialization.Encoding.DER) in root_ders
    current = leaf
    while not anchored and len(path) <= _MAX_CHAIN:
        if any(_issued_by(current, root) for root in roots):
            anchored = True
            break
        nxt = next((c for c in intermediates if c not in path and _issued_by(current, c)), None)
        if nxt is None:
            break
        path.append(nxt)
        current = nxt
    if not anchored:
        return [
            Discrepancy(
                reason=Reason.CHAIN_NOT_ROOTED,
                detail=f"no chain from {describe_certificate(leaf)} to a trusted root "
                f"(stopped at issuer {current.issuer.rfc4514_string()!r})",
            )
        ]
    problems: list[Discrepancy] = []
    for index, cert in enumerate(path):
        role = "signing certificate" if index == 0 else "intermediate certificate"
        if at > cert.not_valid_after_utc:
            problems.append(
                Discrepancy(
                    reason=Reason.CERTIFICATE_EXPIRED,
                    detail=f"{role} {cert.subject.rfc4514_string()!r} expired "
                    f"{cert.not_valid_after_utc.isoformat()} (checked at "
                    f"{at.isoformat()})",
                )
            )
        if at < cert.not_valid_before_utc:
            problems.append(
                Discrepancy(
                    reason=Reason.CERTIFICATE_NOT_YET_VALID,
                    detail=f"{role} {cert.subject.rfc4514_string()!r} is valid only from "
                    f"{cert.not_valid_before_utc.isoformat()} (checked at "
                    f"{at.isoformat()})",
                )
            )
    when = at
    if problems:
        start = max(c.not_valid_before_utc for c in path)
        if start > min(c.not_valid_after_utc for c in path):
            return problems
        when = start
    if leaf.public_bytes(serialization.Encoding.DER) in root_ders:
        return problems
    verifier = (
        PolicyBuilder()
        .store(Store(list(roots)))
        .time(when)
        .max_chain_depth(_MAX_CHAIN)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except Exception as exc:  # cryptography's VerificationError and unsupported-name errors
        problems.append(Discrepancy(reason=Reason.CHAIN_NOT_ROOTED, detail=f"certificate chain rejected: {exc}"))
    return problems


def leaf_public_key(cert: x509.Certificate) -> ec.EllipticCurvePublicKey | Discrepancy:
    """The leaf's key when OMS can use it, otherwise an ``unsupported-key`` discrepancy."""
    try:
        return check_public_key(cert.public_key())
    except UnsupportedKey as exc:
        return Discrepancy(reason=Reason.UNSUPPORTED_KEY, detail=f"signing certificate: {exc}")
