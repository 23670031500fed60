"""Sign a model: hash it, build the OMS statement, sign it with a key or certificate, write the bundle."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aisec.errors import AisecError
from aisec.signing import dsse
from aisec.signing.bundle import encode_bundle
from aisec.signing.digest import digest_layout, normalize_ignore_paths, relative_inside
from aisec.signing.hashing import DEFAULT_SHARD_SIZE
from aisec.signing.layout import scan_layout
from aisec.signing.manifest import Serialization, encode_statement, root_digest, sort_resources
from aisec.signing.names import DEFAULT_GIT_PATHS

DEFAULT_SIGNATURE_NAME = "model.sig"
OTHER_VCS_PATHS = (".hg", ".svn", ".bzr", ".jj")
"""Version-control folders (besides git's, which model_signing always skips) left out when present."""


class SigningError(AisecError):
    """The model could not be signed (bad key, unsafe model layout, unreadable file)."""


@dataclass(frozen=True, kw_only=True)
class SignResult:
    """What was signed and where the signature went."""

    signature_path: str
    method: str
    """``key`` or ``certificate``."""
    files: tuple[str, ...]
    """Signed file names (for shards, the files whose shards were signed)."""
    resources: int
    ignored: tuple[str, ...]
    """The ``ignore_paths`` recorded in the signature."""
    root_digest: str
    signer: str


def default_signature_path(model_path: str | Path) -> Path:
    """``model.sig`` inside a model folder (recorded as ignored), or beside a single-file model."""
    path = Path(model_path)
    return path / DEFAULT_SIGNATURE_NAME if path.is_dir() else path.parent / DEFAULT_SIGNATURE_NAME


def _load_private_key(path: str | Path, password: bytes | None) -> ec.EllipticCurvePrivateKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read private key {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: cannot load private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SigningError(
            f"{path}: {type(key).__name__.lstrip('_')} keys cannot make OMS signatures that "
            "model_signing verifies; use an EC key on P-256, P-384 or P-521 (Ed25519 and RSA "
            "are not supported by model_signing 1.1.1)"
        )
    try:
        dsse.check_public_key(key.public_key())
    except dsse.UnsupportedKey as exc:
        raise SigningError(f"{path}: {exc}") from None
    return key


def _load_chain(
    certificate: str | Path, chain: Sequence[str | Path], key: ec.EllipticCurvePrivateKey
) -> tuple[bytes, ...]:
    ders: list[bytes] = []
    for index, path in enumerate([certificate, *chain]):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SigningError(f"cannot read certificate {path}: {exc.strerror or exc}") from None
        try:
            certs = (
                x509.load_pem_x509_certificates(data)
                if b"-----BEGIN" in data
                else [x509.load_der_x509_certificate(data)]
            )
        except ValueError as exc:
            raise SigningError(f"{path}: not a certificate ({exc})") from None
        if index == 0:
            leaf_key = certs[0].public_key()
            if leaf_key != key.public_key():
                raise SigningError(f"{path}: the certificate's public key does not match the private key")
        ders += [c.public_bytes(serialization.Encoding.DER) for c in certs]
    return tuple(ders)


def sign_model(
    model_path: str | Path,
    *,
    private_key: str | Path,
    password: bytes | None = None,
    certificate: str | Path | None = None,
    certificate_chain: Sequence[str | Path] = (),
    signature_path: str | Path | None = None,
    method: str = "files",
    hash_type: str = "sha256",
    shard_size: int = DEFAULT_SHARD_SIZE,
    ignore_paths: Sequence[str | Path] = (),
    allow_symlinks: bool = False,
    workers: int | None = None,
) -> SignResult:
    """Sign ``model_path`` and write an OMS bundle that model_signing 1.1.1 verifies.

    With ``certificate`` the bundle carries the certificate and ``certificate_chain`` (the certificate
    method); otherwise only a hint of the public key (the key method). The signature file, the default git
    paths at the top of the model and ``ignore_paths`` (see :func:`normalize_ignore_paths`) are left out and
    recorded in the signature (model_signing always leaves the git paths out, so signing them would not
    verify there). Raises :class:`SigningError` on any problem; nothing is written then.
    """
    model = Path(model_path)
    if not model.exists():
        raise SigningError(f"model path {model} does not exist")
    if method not in ("files", "shards"):
        raise SigningError(f"unknown serialization method {method!r} (files or shards)")
    if method == "shards" and shard_size <= 0:
        raise SigningError("shard size must be positive")
    if method == "shards" and hash_type == "blake3":
        raise SigningError("model_signing never shards BLAKE3 (it is parallel already); use --serialization files")
    key = _load_private_key(private_key, password)
    chain = _load_chain(certificate, certificate_chain, key) if certificate is not None else ()
    sig_path = Path(signature_path) if signature_path is not None else default_signature_path(model)
    try:
        ignored = set(normalize_ignore_paths(model, list(ignore_paths), tolerate_outside=False))
    except ValueError as exc:
        raise SigningError(str(exc)) from None
    sig_rel = relative_inside(model, sig_path)
    if sig_rel is not None:
        ignored.add(sig_rel)
    # Other version-control folders at the top are left out too, and recorded so model_signing skips them.
    ignored |= {name for name in OTHER_VCS_PATHS if model.is_dir() and os.path.lexists(model / name)}
    recorded = sorted(ignored | set(DEFAULT_GIT_PATHS))
    excluded = {p: "ignored" for p in recorded} if model.is_dir() else {}
    layout = scan_layout(str(model), excluded=excluded, allow_symlinks=allow_symlinks)
    if layout.problems:
        listed = "; ".join(str(p) for p in layout.problems[:20])
        raise SigningError(f"cannot sign {model}: {listed}")
    serialization_spec = Serialization(
        method=method,
        hash_type=hash_type,
        allow_symlinks=allow_symlinks,
        shard_size=shard_size if method == "shards" else None,
        ignore_paths=tuple(recorded),
    )
    try:
        digested = digest_layout(layout, serialization_spec, workers=workers)
    except ValueError as exc:
        raise SigningError(str(exc)) from None
    if digested.errors:
        raise SigningError("cannot read: " + "; ".join(f"{n}: {e}" for n, e in digested.errors[:20]))
    model_name = os.path.basename(os.path.abspath(model)) or "model"
    payload = encode_statement(model_name=model_name, resources=digested.resources, serialization=serialization_spec)
    signature = dsse.sign(key, payload)
    bundle = encode_bundle(
        payload=payload,
        signature=signature,
        chain_der=chain,
        key_hint=None if chain else dsse.key_hint(key.public_key()),
    )
    temporary = sig_path.with_name(f".{sig_path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(bundle)
        os.replace(temporary, sig_path)  # never leave a half-written signature behind
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise SigningError(f"cannot write signature {sig_path}: {exc.strerror or exc}") from None
    signer = (
        x509.load_der_x509_certificate(chain[0]).subject.rfc4514_string()
        if chain
        else dsse.key_fingerprint(key.public_key())
    )
    return SignResult(
        signature_path=str(sig_path),
        method="certificate" if chain else "key",
        files=tuple(f.name for f in layout.files),
        resources=len(digested.resources),
        ignored=tuple(recorded),
        root_digest=root_digest(sort_resources(digested.resources)),
        signer=signer,
    )
