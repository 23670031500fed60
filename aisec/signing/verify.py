"""Verify a model against an OMS signature, collecting every discrepancy."""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from aisec import strictjson
from aisec.errors import VerificationError
from aisec.signing import dsse
from aisec.signing.bundle import MAX_BUNDLE_BYTES, BundleError, Method, ParsedBundle, parse_bundle
from aisec.signing.digest import digest_files, normalize_ignore_paths, relative_inside
from aisec.signing.layout import LocalFile, lookup, scan_layout
from aisec.signing.manifest import PAYLOAD_TYPE, Resource, Serialization, Statement, parse_statement
from aisec.signing.names import DEFAULT_GIT_PATHS, SINGLE_FILE_NAME, is_covered
from aisec.signing.reasons import TRUST_REASONS, Discrepancy, Reason
from aisec.signing.trust import (
    CertificateTrust,
    KeyTrust,
    SigstoreTrust,
    TrustConfig,
    check_chain,
    check_code_signing,
    check_identity,
    describe_certificate,
    leaf_public_key,
    oidc_issuer,
)


@dataclass(frozen=True, kw_only=True)
class NotChecked:
    """A path present in the model that verification deliberately did not compare, and why."""

    path: str
    why: str


@dataclass(frozen=True, kw_only=True)
class VerificationResult:
    """The verdict: valid exactly when ``discrepancies`` is empty."""

    model_path: str
    signature_path: str
    method: str | None
    """``key``, ``certificate`` or ``sigstore`` as the bundle says; None when it could not be read."""
    trust_root: str
    signer: str | None = None
    signing_time: str | None = None
    time_source: str | None = None
    checked_files: tuple[str, ...] = ()
    not_checked: tuple[NotChecked, ...] = ()
    signed_ignore_paths: tuple[str, ...] = ()
    serialization: Serialization | None = None
    root_digest: str | None = None
    signature_authenticated: bool = False
    """True when the signature, chain and identity checks all passed (the manifest is authentic)."""
    discrepancies: tuple[Discrepancy, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """True only when nothing at all was wrong."""
        return not self.discrepancies

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """The distinct reason codes, in first-seen order."""
        return tuple(dict.fromkeys(d.reason for d in self.discrepancies))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for ``--format json``)."""
        ser = self.serialization
        return {
            "valid": self.valid,
            "model": self.model_path,
            "signature": self.signature_path,
            "method": self.method,
            "signer": self.signer,
            "trust_root": self.trust_root,
            "signing_time": self.signing_time,
            "time_source": self.time_source,
            "signature_authenticated": self.signature_authenticated,
            "serialization": ser.to_json() if ser else None,
            "root_digest": self.root_digest,
            "checked_files": list(self.checked_files),
            "not_checked": [{"path": n.path, "why": n.why} for n in self.not_checked],
            "discrepancies": [
                {"reason": d.reason.value, "path": d.path, "detail": d.detail} for d in self.discrepancies
            ],
            "warnings": list(self.warnings),
        }


@dataclass(kw_only=True)
class _State:
    problems: list[Discrepancy] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    signer: str | None = None
    signing_time: str | None = None
    time_source: str | None = None
    authenticated: bool = False


_EXPECTED_METHOD = {
    KeyTrust: Method.KEY,
    CertificateTrust: Method.CERTIFICATE,
    SigstoreTrust: Method.SIGSTORE,
}


def verify_model(
    model_path: str | Path,
    *,
    signature_path: str | Path,
    trust: TrustConfig | None,
    ignore_paths: Sequence[str | Path] = (),
    ignore_unsigned_files: bool = False,
    allow_symlinks: bool = False,
    workers: int | None = None,
    now: datetime.datetime | None = None,
    known_digests: Mapping[str, str] | None = None,
) -> VerificationResult:
    """Check the signature and every file of ``model_path``; never raises for an invalid signature.

    With ``trust=None`` only the manifest is compared with the files (nothing is authenticated) and the result
    carries a ``not-authenticated`` discrepancy, so it is never valid.

    ``known_digests`` (real path → SHA-256 hex) are digests this run already computed of the model's files; they
    are used instead of reading those files again (see :func:`~aisec.signing.digest.digest_files`).

    Raises :class:`VerificationError` only when verification cannot be attempted: the model or the signature
    file is missing or unreadable, or an ignore path is unusable.
    """
    model = Path(model_path)
    if not os.path.lexists(model):
        raise VerificationError(f"model path {model} does not exist")
    try:
        with open(signature_path, "rb") as handle:  # bounded: parse_bundle refuses anything larger anyway
            raw = handle.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise VerificationError(f"cannot read signature {signature_path}: {exc.strerror or exc}") from None
    try:
        user_ignored = normalize_ignore_paths(model, list(ignore_paths), tolerate_outside=False)
    except ValueError as exc:
        raise VerificationError(str(exc)) from None
    try:
        bundle = parse_bundle(raw)
    except BundleError as exc:
        return VerificationResult(
            model_path=str(model),
            signature_path=str(signature_path),
            trust_root=trust.source if trust else "none",
            method=None,
            discrepancies=(Discrepancy(reason=exc.reason, detail=exc.detail),),
        )
    state = _State()
    at = now or datetime.datetime.now(datetime.timezone.utc)
    if trust is None:
        state.problems.append(
            Discrepancy(
                reason=Reason.NOT_AUTHENTICATED,
                detail=f"no trust material for this {bundle.method.value} signature: only the manifest was "
                "compared with the files",
            )
        )
    elif bundle.method is not (expected := _EXPECTED_METHOD[type(trust)]):
        state.problems.append(
            Discrepancy(
                reason=Reason.METHOD_MISMATCH,
                detail=f"the bundle was made with the {bundle.method.value} method but "
                f"{expected.value} trust material was given",
            )
        )
    elif isinstance(trust, KeyTrust):
        _authenticate_key(bundle, trust, state)
    elif isinstance(trust, CertificateTrust):
        _authenticate_certificate(bundle, trust, at, state)
    else:
        _authenticate_sigstore(bundle, trust, state)

    statement: Statement | None = None
    if bundle.payload_type != PAYLOAD_TYPE:
        state.problems.append(
            Discrepancy(reason=Reason.UNKNOWN_PAYLOAD_TYPE, detail=f"DSSE payloadType is {bundle.payload_type!r}")
        )
    else:
        statement, manifest_problems = parse_statement(bundle.payload)
        state.problems += manifest_problems
    checked: tuple[str, ...] = ()
    not_checked: tuple[NotChecked, ...] = ()
    if statement is not None:
        if statement.legacy:
            state.warnings.append(
                "legacy predicate https://model_signing/Digests/v0.1 (no serialization or root digest recorded)"
            )
        if statement.serialization.allow_symlinks and not allow_symlinks:
            state.warnings.append("the signer allowed symlinks; links are refused unless --allow-symlinks is given")
        checked, not_checked = _compare(
            model,
            Path(signature_path),
            statement,
            user_ignored,
            ignore_unsigned_files,
            allow_symlinks,
            workers,
            state,
            known_digests,
        )
    return VerificationResult(
        model_path=str(model),
        signature_path=str(signature_path),
        trust_root=trust.source if trust else "none",
        method=bundle.method.value,
        signer=state.signer,
        signing_time=state.signing_time,
        time_source=state.time_source,
        checked_files=checked,
        not_checked=not_checked,
        signed_ignore_paths=statement.serialization.ignore_paths if statement else (),
        serialization=statement.serialization if statement else None,
        root_digest=statement.root_digest if statement else None,
        signature_authenticated=state.authenticated and not any(d.reason in _AUTH_REASONS for d in state.problems),
        discrepancies=tuple(state.problems),
        warnings=tuple(state.warnings),
    )


_AUTH_REASONS = TRUST_REASONS | {Reason.BAD_SIGNATURE, Reason.MALFORMED_BUNDLE}
"""Problems that mean the signature itself is not authenticated (as opposed to files that changed)."""


def _authenticate_key(bundle: ParsedBundle, trust: KeyTrust, state: _State) -> None:
    # Keys are named one way everywhere (sign, verify, scan): sha256 of the DER SubjectPublicKeyInfo. The bundle
    # carries only model_signing's hint (sha256 of the PEM text), shown as such, and one problem says it all.
    trusted = dsse.key_fingerprint(trust.public_key)
    state.time_source = "none (key signatures carry no trusted time)"
    hint_ok = bundle.key_hint is None or bundle.key_hint == dsse.key_hint(trust.public_key)
    if bundle.key_hint is None:
        state.warnings.append("the bundle has no public-key hint (older format); checked the signature only")
    if _signature_holds(trust.public_key, bundle, state):
        state.authenticated = True
        state.signer = f"public key {trusted}"
        if not hint_ok:
            state.problems.append(
                Discrepancy(
                    reason=Reason.KEY_HINT_MISMATCH,
                    detail=f"the signature verifies with the trusted public key {trusted}, but the bundle's key "
                    f"hint {bundle.key_hint} names another key",
                )
            )
    elif not hint_ok:
        state.signer = f"another key than the trusted one (bundle key hint {bundle.key_hint})"
        state.problems.append(
            Discrepancy(
                reason=Reason.UNTRUSTED_KEY,
                detail=f"the signature was made by another key than the trusted public key {trusted} (the bundle "
                f"names key hint {bundle.key_hint}: model_signing's sha256 of that key's PEM text)",
            )
        )
    else:
        state.signer = f"public key {trusted}"
        state.problems.append(
            Discrepancy(reason=Reason.BAD_SIGNATURE, detail="the DSSE signature does not verify with the trusted key")
        )


LEGACY_ENCODING_NOTICE = (
    "the signature uses the legacy v0.2-era DSSE encoding of model_signing before 1.0 ('DSSEV1' and the "
    "Python repr of the payload, hashed with SHA-256 whatever the curve); accepted, as model_signing 1.1.1 "
    "accepts it through its compatibility path. Re-sign with a current signer to drop it"
)


def _signature_holds(key: ec.EllipticCurvePublicKey, bundle: ParsedBundle, state: _State) -> bool:
    """The DSSE signature verifies: in the standard encoding, else (with a notice) in the v0.2-era one."""
    if dsse.verify(key, bundle.signature, bundle.payload, payload_type=bundle.payload_type):
        return True
    if bundle.payload_type == PAYLOAD_TYPE and dsse.verify(key, bundle.signature, bundle.payload,
                                                          payload_type=bundle.payload_type, allow_legacy=True):
        state.warnings.append(LEGACY_ENCODING_NOTICE)
        return True
    return False


def _load_der(der: bytes, what: str, state: _State) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        state.problems.append(
            Discrepancy(reason=Reason.MALFORMED_BUNDLE, detail=f"{what} is not a valid certificate: {exc}")
        )
        return None


def _authenticate_certificate(
    bundle: ParsedBundle, trust: CertificateTrust, at: datetime.datetime, state: _State
) -> None:
    certs = [_load_der(der, f"certificate {i}", state) for i, der in enumerate(bundle.certificates)]
    if any(c is None for c in certs):
        return
    leaf, *intermediates = [c for c in certs if c is not None]
    state.signer = describe_certificate(leaf)
    state.signing_time = at.isoformat()
    state.time_source = "verification time (certificate bundles carry no trusted timestamp)"
    try:
        if leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            state.warnings.append("the signing certificate is marked as a CA (basicConstraints CA:TRUE)")
    except x509.ExtensionNotFound:
        pass
    before = len(state.problems)
    state.problems += check_chain(leaf, intermediates, trust.roots, at)
    usage = check_code_signing(leaf)
    if usage is not None:
        state.problems.append(usage)
    if trust.identity is None and trust.issuer is None:
        state.warnings.append("no identity constraint: any certificate chaining to the roots is accepted")
    state.problems += check_identity(leaf, identity=trust.identity, issuer=trust.issuer, sigstore=False)
    key = leaf_public_key(leaf)
    if isinstance(key, Discrepancy):
        state.problems.append(key)
        return
    if not _signature_holds(key, bundle, state):
        state.problems.append(
            Discrepancy(
                reason=Reason.BAD_SIGNATURE,
                detail="the DSSE signature does not verify with the signing certificate's key",
            )
        )
        return
    state.authenticated = len(state.problems) == before


def _sigstore_reason(message: str) -> Reason:
    text = message.lower()
    table = (
        ("expired", Reason.CERTIFICATE_EXPIRED),
        ("sct", Reason.SCT_INVALID),
        ("log entry", Reason.TRANSPARENCY_LOG_INVALID),
        ("inclusion", Reason.TRANSPARENCY_LOG_INVALID),
        ("checkpoint", Reason.TRANSPARENCY_LOG_INVALID),
        ("certificate chain", Reason.CHAIN_NOT_ROOTED),
        ("signature", Reason.BAD_SIGNATURE),
        ("sans do not match", Reason.IDENTITY_MISMATCH),
        ("issuer", Reason.ISSUER_MISMATCH),
    )
    for needle, reason in table:
        if needle in text:
            return reason
    return Reason.SIGSTORE_REJECTED


def _integrated_time(raw: bytes) -> str | None:
    try:
        doc = strictjson.loads(raw)
        value = doc["verificationMaterial"]["tlogEntries"][0]["integratedTime"]
        stamp = datetime.datetime.fromtimestamp(int(value), tz=datetime.timezone.utc)
    except (strictjson.StrictJSONError, KeyError, IndexError, TypeError, ValueError, OverflowError, OSError):
        return None
    return stamp.isoformat()


def _authenticate_sigstore(bundle: ParsedBundle, trust: SigstoreTrust, state: _State) -> None:
    from sigstore.models import Bundle
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity, UnsafeNoOp

    leaf = _load_der(bundle.certificates[0], "Fulcio certificate", state)
    if leaf is None:
        return
    identity = ", ".join(v for v in describe_certificate(leaf).split(" SAN=")[1:]) or "(no SAN)"
    state.signer = f"{identity} (OIDC issuer {oidc_issuer(leaf) or 'unknown'})"
    state.signing_time = _integrated_time(bundle.raw)
    state.time_source = "Rekor integrated time (signed entry timestamp), or RFC 3161 timestamp"
    identity_problems = check_identity(leaf, identity=trust.identity, issuer=trust.issuer, sigstore=True)
    state.problems += identity_problems
    try:
        sigstore_bundle = Bundle.from_json(bundle.raw)
    except Exception as exc:  # sigstore raises InvalidBundle, pydantic and JSON errors
        state.problems.append(Discrepancy(reason=Reason.MALFORMED_BUNDLE, detail=f"sigstore rejects the bundle: {exc}"))
        return
    # With a known identity mismatch (already reported), still check everything else; sigstore's
    # warning about the no-op policy is silenced because the mismatch is in the verdict.
    pinned = trust.identity is not None
    if not pinned:
        state.problems.append(
            Discrepancy(
                reason=Reason.NOT_AUTHENTICATED,
                detail="no signer identity was required: the Sigstore signature is genuine but anyone may have made it",
            )
        )
    policy = (
        Identity(identity=trust.identity, issuer=trust.issuer)
        if pinned and trust.identity and not identity_problems
        else UnsafeNoOp()
    )
    policy_logger = logging.getLogger("sigstore.verify.policy")
    level = policy_logger.level
    policy_logger.setLevel(logging.ERROR)
    try:
        verifier = Verifier(trusted_root=trust.trusted_root)
        payload_type, payload = verifier.verify_dsse(sigstore_bundle, policy)
    except Exception as exc:  # sigstore.errors.VerificationError and friends
        message = str(exc)
        shown = message if len(message) <= 300 else message[:300] + "…"
        state.problems.append(Discrepancy(reason=_sigstore_reason(message), detail=f"sigstore: {shown}"))
        return
    finally:
        policy_logger.setLevel(level)
    if payload_type != bundle.payload_type or payload != bundle.payload:
        state.problems.append(
            Discrepancy(
                reason=Reason.MALFORMED_BUNDLE,
                detail="sigstore verified a different payload than the one read",
            )
        )
        return
    state.authenticated = pinned and not identity_problems


def _fingerprint(resources: Sequence[Resource]) -> tuple[tuple[int, int, bytes], ...]:
    return tuple(sorted((r.start or 0, r.end or 0, r.digest) for r in resources))


def _compare(
    model: Path,
    signature: Path,
    statement: Statement,
    user_ignored: list[str],
    ignore_unsigned: bool,
    allow_symlinks: bool,
    workers: int | None,
    state: _State,
    known_digests: Mapping[str, str] | None = None,
) -> tuple[tuple[str, ...], tuple[NotChecked, ...]]:
    serialization = statement.serialization
    signed: dict[str, list[Resource]] = {}
    for resource in statement.resources:
        signed.setdefault(resource.path, []).append(resource)
    is_dir = model.is_dir()
    excluded: dict[str, str] = {}
    if is_dir:
        for path in DEFAULT_GIT_PATHS:
            excluded[path] = "default git path (never signed)"
        for path in serialization.ignore_paths:
            excluded.setdefault(path, "ignored by the signer (recorded in the signature)")
        for path in user_ignored:
            excluded[path] = "ignored by --ignore-paths"
        sig_rel = relative_inside(model, signature)
        if sig_rel is not None:
            excluded[sig_rel] = "the signature file"
    layout = scan_layout(str(model), excluded=excluded, allow_symlinks=allow_symlinks)
    not_checked = [NotChecked(path=s.name, why=s.why) for s in layout.skipped if s.name not in signed]
    files: dict[str, LocalFile] = {f.name: f for f in layout.files}
    problem_paths: set[str] = set()
    for problem in layout.problems:
        if ignore_unsigned and problem.path is not None and problem.path not in signed:
            not_checked.append(
                NotChecked(
                    path=problem.path,
                    why=f"not signed, tolerated by --ignore-unsigned-files ({problem.reason})",
                )
            )
            continue
        state.problems.append(problem)
        if problem.path is not None:
            problem_paths.add(problem.path)
    if layout.single_file and len(signed) == 1:
        only = next(iter(signed))
        if only == os.path.basename(layout.root) and SINGLE_FILE_NAME in files:
            files = {only: LocalFile(name=only, path=files[SINGLE_FILE_NAME].path, size=files[SINGLE_FILE_NAME].size)}
    # Signed files under a path the walk skipped (git paths, signed ignores, --ignore-paths) are still checked:
    # the OMS spec requires every signed resource to exist and match, so an ignore pattern may only cover files
    # the signature does not list (model_signing, too, calls a signed file left out of the hash invalid).
    overridden = sorted(p for p in signed if is_dir and is_covered(p, user_ignored) is not None)
    if overridden:
        shown = ", ".join(overridden[:5]) + (f" and {len(overridden) - 5} more" if len(overridden) > 5 else "")
        state.warnings.append(f"--ignore-paths covers {len(overridden)} signed file(s) ({shown}); they are "
                              "checked anyway: ignore patterns only apply to files the signature does not list")
    for path in signed:
        if path in files or path in problem_paths or not is_dir:
            continue
        if is_covered(path, list(excluded)) is not None:
            found = lookup(str(model), path, allow_symlinks=allow_symlinks)
            if isinstance(found, LocalFile):
                files[path] = found
            elif isinstance(found, Discrepancy):
                state.problems.append(found)
                problem_paths.add(path)
    wanted = [f for name, f in files.items() if name in signed or not ignore_unsigned]
    digested = digest_files(wanted, serialization, workers=workers, known=known_digests)
    unreadable = dict(digested.errors)
    local: dict[str, list[Resource]] = {}
    for resource in digested.resources:
        local.setdefault(resource.path, []).append(resource)
    missing = sorted(p for p in signed if p not in files and p not in problem_paths)
    added: list[str] = []
    for name in sorted(files):
        if name in signed:
            continue
        if ignore_unsigned:
            not_checked.append(NotChecked(path=name, why="not signed, tolerated by --ignore-unsigned-files"))
        elif serialization.method == "shards" and files[name].size == 0:
            not_checked.append(NotChecked(path=name, why="empty file: shard serialization cannot sign it"))
        elif name in unreadable:
            state.problems.append(Discrepancy(reason=Reason.FILE_UNREADABLE, path=name, detail=unreadable[name]))
        else:
            added.append(name)
    # A missing file whose exact content reappears under a new name was renamed.
    by_content: dict[tuple[tuple[int, int, bytes], ...], list[str]] = {}
    for name in added:
        by_content.setdefault(_fingerprint(local.get(name, [])), []).append(name)
    for name in list(missing):
        candidates = by_content.get(_fingerprint(signed[name]))
        if candidates:
            new = candidates.pop(0)
            missing.remove(name)
            added.remove(new)
            state.problems.append(
                Discrepancy(reason=Reason.FILE_RENAMED, path=name, detail=f"signed file is now named {new!r}")
            )
    for name in missing:
        state.problems.append(
            Discrepancy(reason=Reason.FILE_MISSING, path=name, detail="signed file is missing from the model")
        )
    for name in added:
        state.problems.append(Discrepancy(reason=Reason.FILE_ADDED, path=name, detail="file is not in the signature"))
    checked: list[str] = []
    for name in sorted(signed):
        if name not in files:
            continue
        checked.append(name)
        if name in unreadable:
            state.problems.append(Discrepancy(reason=Reason.FILE_UNREADABLE, path=name, detail=unreadable[name]))
            continue
        expected = {r.name: r.digest for r in signed[name]}
        actual = {r.name: r.digest for r in local.get(name, [])}
        if expected != actual:
            state.problems.append(
                Discrepancy(reason=Reason.FILE_MODIFIED, path=name, detail=_modified_detail(expected, actual))
            )
    return tuple(checked), tuple(sorted(not_checked, key=lambda n: n.path))


def _modified_detail(expected: dict[str, bytes], actual: dict[str, bytes]) -> str:
    if len(expected) == 1 and len(actual) == 1 and set(expected) == set(actual):
        (want,), (got,) = expected.values(), actual.values()
        return f"digest {got.hex()} differs from the signed {want.hex()}"
    differing = sum(1 for k, v in expected.items() if actual.get(k) != v)
    extra = len(set(actual) - set(expected))
    return f"{differing} of {len(expected)} signed shard(s) differ or are missing, {extra} unsigned shard(s)"
