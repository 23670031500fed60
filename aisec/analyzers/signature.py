"""OMS model signatures of model folders: is there one, does it verify under the policy's trust settings."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from aisec.analyzers.base import AnalysisContext
from aisec.errors import AisecError
from aisec.model import ArtifactKind, Fact, Location
from aisec.signing.settings import SignatureSettings, load_signature_settings
from aisec.source import Source

if TYPE_CHECKING:
    from aisec.signing.trust import TrustConfig

MAX_PARENT_LEVELS = 16
"""How far up the folder tree a signature covering this folder is looked for."""


class SignatureAnalyzer:
    """Finds ``model.sig`` (or the configured names) and verifies it offline with aisec.signing.

    Trust comes from the policy's ``settings.signature`` block (see :class:`SignatureSettings`). Without trust
    material for the signature's method, the manifest is still compared with the files, and a
    ``not-authenticated`` failure says the signer was not checked.
    """

    name = "signature"
    kinds = frozenset({ArtifactKind.DIRECTORY})
    provides: Mapping[str, str] = {
        "signature.present": "whether the model folder (or a parent folder) holds an OMS signature file; "
                             "detail 'file', and 'covered_by' when the signature is in a parent folder",
        "signature.verified": "true when the folder's OMS signature verified with no discrepancy",
        "signature.failure": "one reason an OMS signature did not verify (a reason code such as file-modified "
                             "or untrusted-key); detail 'category' is integrity, trust or unverified, "
                             "'message' explains, 'file' names the file concerned",
        "signature.signer": "who signed, as far as the signature tells (key fingerprint, certificate subject "
                            "or Sigstore identity)",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Read the folder through ``context.fs_path``; the empty source is ignored."""
        del source
        if context.fs_path is None:
            return
        folder = Path(context.fs_path)
        settings = load_signature_settings(context.settings)
        signature = _find(folder, settings.file_names)
        if signature is None:
            parent = _covering_parent(folder, settings.file_names)
            if parent is not None:
                yield context.fact("signature.present", True, location=self._where(context, ""),
                                   file=str(parent), covered_by=str(parent.parent))
                return
            yield context.fact("signature.present", False, location=self._where(context, ""))
            return
        where = self._where(context, signature.name)
        yield context.fact("signature.present", True, location=where, file=signature.name)
        from aisec.signing.verify import verify_model  # cryptography loads only when a folder holds a signature

        try:
            trust = _trust_for(signature, settings)
            result = verify_model(folder, signature_path=signature, trust=trust,
                                  ignore_unsigned_files=settings.ignore_unsigned_files,
                                  allow_symlinks=settings.allow_symlinks, known_digests=context.digests)
        except AisecError as exc:
            context.error("io", f"signature could not be verified: {exc.diagnostics()}", location=where)
            return
        if result.signer:
            yield context.fact("signature.signer", result.signer, location=where)
        yield context.fact("signature.verified", result.valid, location=where)
        for problem in result.discrepancies:
            location = self._where(context, problem.path) if problem.path else where
            yield context.fact("signature.failure", problem.reason.value, location=location,
                               category=problem.reason.category, message=problem.detail,
                               file=problem.path or signature.name)

    def _where(self, context: AnalysisContext, name: str) -> Location:
        if not name:
            return Location(path=context.path or None)
        return Location(path=f"{context.path}/{name}" if context.path not in ("", ".") else name)


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _find(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if _is_regular(folder / n)), None)


def _covering_parent(folder: Path, names: tuple[str, ...]) -> Path | None:
    current = folder.resolve()
    for _ in range(MAX_PARENT_LEVELS):
        if current.parent == current:
            return None
        current = current.parent
        found = _find(current, names)
        if found is not None:
            return found
    return None


def _trust_for(signature: Path, settings: SignatureSettings) -> TrustConfig | None:
    """Trust material for the bundle's method, or None (manifest-only comparison) when none is configured."""
    # Only a folder that holds a signature reads one: a scan of unsigned folders loads no bundle parser.
    from aisec.signing.bundle import MAX_BUNDLE_BYTES, BundleError, Method, parse_bundle
    from aisec.signing.dsse import key_hint
    from aisec.signing.trust import (
        CertificateTrust,
        KeyTrust,
        SigstoreTrust,
        load_certificates,
        load_public_key,
        load_sigstore_root,
    )

    try:
        with open(signature, "rb") as handle:  # bounded: a huge model.sig must not be read whole
            bundle = parse_bundle(handle.read(MAX_BUNDLE_BYTES + 1))
    except (BundleError, OSError):
        return None  # verify_model reports the defect (or the read error) itself
    if bundle.method is Method.KEY and settings.public_keys:
        keys = [load_public_key(p) for p in settings.public_keys]
        chosen = next((k for k in keys if key_hint(k) == bundle.key_hint), keys[0])
        return KeyTrust(public_key=chosen, source="public keys " + ", ".join(settings.public_keys))
    if bundle.method is Method.CERTIFICATE and settings.certificate_roots:
        roots = tuple(c for p in settings.certificate_roots for c in load_certificates(p, "trusted roots"))
        return CertificateTrust(roots=roots, identity=settings.certificate_identity,
                                issuer=settings.certificate_issuer,
                                source="certificates " + ", ".join(settings.certificate_roots))
    if bundle.method is Method.SIGSTORE:
        root, source = load_sigstore_root(settings.sigstore_trust_root)
        return SigstoreTrust(trusted_root=root, identity=settings.sigstore_identity,
                             issuer=settings.sigstore_issuer, source=source)
    return None
