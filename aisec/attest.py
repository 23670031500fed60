"""Signed in-toto attestations of a scan (DSSE, EC keys as in signing) and their verification."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aisec import strictjson
from aisec.discovery import Discovered, discover, display_root
from aisec.errors import AisecError, SourceReadError, VerificationError
from aisec.limits import Limits
from aisec.model import ArtifactKind, Report, Severity
from aisec.signing import dsse
from aisec.signing.manifest import PAYLOAD_TYPE
from aisec.signing.trust import load_public_key

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://aisec.dev/scan-result/v1"
SARIF_MEDIA_TYPE = "application/sarif+json"
MAX_ATTESTATION_BYTES = 16 * 1024 * 1024
HASH_CHUNK = 4 * 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class AttestationError(AisecError):
    """An attestation could not be written (no SARIF report, unusable key, unreadable artifact)."""


def sha256_file(path: Path) -> str:
    """Streaming SHA-256 of a file (the one place aisec reads every byte of an artifact)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verdict(report: Report) -> dict[str, Any]:
    """``pass``, ``fail`` (gate findings) or ``incomplete`` (not everything scanned), with the counts."""
    counts = {s.value: 0 for s in Severity}
    for finding in report.findings:
        counts[finding.severity.value] += 1
    result = "incomplete" if not report.trustworthy else ("fail" if report.gate_findings else "pass")
    return {"result": result, "fail_on": report.fail_on.value, "gate_findings": len(report.gate_findings),
            "findings": len(report.findings), "by_severity": counts, "errors": len(report.errors),
            "suppressed": len(report.suppressed), "artifacts": len(report.artifacts)}


def subjects(report: Report, targets: Sequence[str | Path], *, outputs: Sequence[Path] = ()
             ) -> tuple[list[dict[str, Any]], list[str]]:
    """Every scanned file by report path and SHA-256, and the names of scanned files this run overwrites.

    Files the report has no digest for are hashed here. A scanned file that is one of ``outputs`` (a report
    or attestation this run writes, e.g. last run's ``aisec.sarif`` under ``aisec scan .``) is not a subject:
    its digest would be stale the moment the run ends.
    """
    out: list[dict[str, Any]] = []
    excluded: list[str] = []
    roots = [display_root(targets)]
    written = {p.resolve() for p in outputs}
    for artifact in report.artifacts:
        if artifact.kind is ArtifactKind.DIRECTORY:
            continue  # a folder is covered by its files
        located = next((r / artifact.path for r in roots if (r / artifact.path).is_file()), None)
        if located is not None and located.resolve() in written:
            excluded.append(artifact.path)
            continue
        digest = artifact.sha256
        if not digest:
            if located is None:
                raise AttestationError(f"{artifact.path}: scanned file not found again to hash it")
            try:
                digest = sha256_file(located)
            except OSError as exc:
                raise AttestationError(f"{artifact.path}: cannot hash: {exc.strerror or exc}") from None
        out.append({"name": artifact.path, "digest": {"sha256": digest}})
    return sorted(out, key=lambda s: s["name"]), sorted(excluded)


def statement(report: Report, *, subject_list: list[dict[str, Any]], sarif: bytes, sarif_name: str,
              excluded: Sequence[str] = ()) -> dict[str, Any]:
    """The in-toto Statement v1 of a scan."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": subject_list,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "scanner": {"name": "aisec", "version": report.tool_version},
            "policy": {"name": report.policy_name, "digest": {"sha256": report.policy_digest}},
            "report": {"name": sarif_name, "mediaType": SARIF_MEDIA_TYPE,
                       "digest": {"sha256": hashlib.sha256(sarif).hexdigest()}},
            "verdict": verdict(report),
            "gate_all": report.gate_all,
            "not_attested": list(excluded),
            "started_utc": report.started_utc,
            "finished_utc": report.finished_utc,
        },
    }


def load_private_key(path: str | Path, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """A PEM EC private key on P-256, P-384 or P-521 (the curves the signing code supports)."""
    try:
        data = Path(path).read_bytes()
        key = serialization.load_pem_private_key(data, password=password)
    except OSError as exc:
        raise AttestationError(f"cannot read private key {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise AttestationError(f"{path}: cannot load private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise AttestationError(f"{path}: attestations are signed with EC keys (P-256, P-384 or P-521)")
    try:
        dsse.check_public_key(key.public_key())
    except dsse.UnsupportedKey as exc:
        raise AttestationError(f"{path}: {exc}") from None
    return key


def envelope(payload: bytes, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """A DSSE envelope over ``payload`` (ECDSA over the pre-authentication encoding)."""
    return {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": dsse.key_fingerprint(key.public_key()),
                            "sig": base64.b64encode(dsse.sign(key, payload)).decode()}]}


def write_attestation(report: Report, *, targets: Sequence[str | Path], sarif_path: Path, key_path: str | Path,
                      out_path: Path, password: bytes | None = None, outputs: Sequence[Path] = ()) -> dict[str, Any]:
    """Sign the scan's statement and write it as one line of ``out_path`` (``.intoto.jsonl``).

    ``outputs``: the other files this run writes (reports, baseline); with the SARIF report and the attestation
    they are left out of the subjects and named in the predicate's ``not_attested``.
    """
    import json

    key = load_private_key(key_path, password)
    try:
        sarif = sarif_path.read_bytes()
    except OSError as exc:
        raise AttestationError(f"cannot read the SARIF report {sarif_path}: {exc.strerror or exc}") from None
    listed, excluded = subjects(report, targets, outputs=[sarif_path, out_path, *outputs])
    doc = statement(report, subject_list=listed, sarif=sarif, sarif_name=sarif_path.name, excluded=excluded)
    payload = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    line = json.dumps(envelope(payload, key), separators=(",", ":")) + "\n"
    try:
        out_path.write_text(line, encoding="utf-8")
    except OSError as exc:
        raise AttestationError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    return doc


@dataclass(frozen=True, kw_only=True)
class AttestationCheck:
    """The outcome of verifying an attestation: ``problems`` empty means it holds."""

    statement: dict[str, Any]
    problems: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems


def read_statement(path: str | Path, public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The statement of the first envelope in ``path`` whose signature verifies under ``public_key``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_ATTESTATION_BYTES + 1)
    except OSError as exc:
        raise VerificationError(f"cannot read attestation {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_ATTESTATION_BYTES:
        raise VerificationError(f"{path}: larger than {MAX_ATTESTATION_BYTES} bytes")
    seen = 0
    for raw in data.splitlines():
        if not raw.strip():
            continue
        seen += 1
        payload = _verified_payload(raw, public_key)
        if payload is None:
            continue
        try:
            doc = strictjson.loads(payload)
        except strictjson.StrictJSONError:
            continue
        if isinstance(doc, dict):
            return doc
    what = "no envelope" if not seen else f"none of its {seen} envelope(s) is"
    raise _Invalid(f"{path}: {what} signed by this key")


class _Invalid(Exception):
    """The attestation is invalid (as opposed to unreadable)."""


def _verified_payload(raw: bytes, public_key: ec.EllipticCurvePublicKey) -> bytes | None:
    try:
        env = strictjson.loads(raw)
    except strictjson.StrictJSONError:
        return None
    if not isinstance(env, dict) or env.get("payloadType") != PAYLOAD_TYPE:
        return None
    signatures = env.get("signatures")
    if not isinstance(env.get("payload"), str) or not isinstance(signatures, list):
        return None
    try:
        payload = base64.b64decode(env["payload"], validate=True)
    except (binascii.Error, ValueError):
        return None
    for sig in signatures[:16]:
        if not isinstance(sig, dict) or not isinstance(sig.get("sig"), str):
            continue
        try:
            signature = base64.b64decode(sig["sig"], validate=True)
        except (binascii.Error, ValueError):
            continue
        if dsse.verify(public_key, signature, payload, payload_type=PAYLOAD_TYPE):
            return payload
    return None


def verify_attestation(path: str | Path, *, public_key: str | Path, paths: Sequence[str | Path],
                       report: str | Path | None = None, expected_policy: str | None = None,
                       require_pass: bool = True) -> AttestationCheck:
    """Check signature, subjects against the files under ``paths``, and optionally report, policy and verdict.

    Every file under ``paths`` must be a subject with the same digest (a file the scan never saw is not covered);
    subjects not found under ``paths`` are notes. Unreadable inputs raise :class:`VerificationError`.
    """
    key = load_public_key(public_key)
    try:
        doc = read_statement(path, key)
    except _Invalid as exc:
        return AttestationCheck(statement={}, problems=(str(exc),))
    problems: list[str] = []
    notes: list[str] = []
    if doc.get("_type") != STATEMENT_TYPE or doc.get("predicateType") != PREDICATE_TYPE:
        problems.append(f"not an aisec scan attestation (predicateType {doc.get('predicateType')!r})")
        return AttestationCheck(statement=doc, problems=tuple(problems))
    predicate = doc.get("predicate") if isinstance(doc.get("predicate"), dict) else {}
    assert isinstance(predicate, dict)
    expected = _subject_digests(doc.get("subject"), problems)
    raw_skipped = predicate.get("not_attested")
    skipped = {n for n in raw_skipped if isinstance(n, str)} if isinstance(raw_skipped, list) else set()
    _check_files(paths, expected, skipped, problems, notes)
    if report is not None:
        try:
            actual = sha256_file(Path(report))
        except OSError as exc:
            raise VerificationError(f"cannot read report {report}: {exc.strerror or exc}") from None
        if actual != _digest_of(predicate.get("report")):
            problems.append(f"report {report}: its SHA-256 is not the one attested (the report was changed)")
    if expected_policy is not None and expected_policy != _digest_of(predicate.get("policy")):
        problems.append("policy: the scan ran under a different policy (or rule set) than the one given")
    result = predicate.get("verdict", {}).get("result") if isinstance(predicate.get("verdict"), dict) else None
    if require_pass and result != "pass":
        problems.append(f"verdict: the scan's verdict was {result!r}, not 'pass'")
    return AttestationCheck(statement=doc, problems=tuple(problems), notes=tuple(notes))


def policy_digest(policy: str | Path, rules_dir: str | Path | None = None) -> str:
    """The digest a scan under ``policy`` (and ``rules_dir``) records: the policy's plus the enabled rule ids."""
    from aisec.scan import load_configuration

    loaded, _rules, bound = load_configuration(policy, rules_dir)
    # Mirrors aisec.scan.scan; tests/workflow/test_attest.py checks the two agree.
    return hashlib.sha256(f"{loaded.digest}\n{','.join(r.rule.id for r in bound)}".encode()).hexdigest()


def _digest_of(entry: Any) -> str | None:
    digest = entry.get("digest") if isinstance(entry, dict) else None
    value = digest.get("sha256") if isinstance(digest, dict) else None
    return value if isinstance(value, str) else None


def _subject_digests(raw: Any, problems: list[str]) -> dict[str, str]:
    expected: dict[str, str] = {}
    if not isinstance(raw, list):
        problems.append("the statement has no subject list")
        return expected
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else None
        digest = _digest_of(item)
        if not isinstance(name, str) or digest is None or not _HEX64.match(digest):
            problems.append(f"malformed subject {str(item)[:120]}")
            continue
        expected[name] = digest
    return expected


def _digest(item: Discovered) -> str:
    if item.remote is not None:  # an object in remote storage, read whole in ranged chunks
        from aisec.remote.source import remote_sha256

        return remote_sha256(item.remote, item.remote.size)
    return sha256_file(item.fs_path)


def _check_files(paths: Sequence[str | Path], expected: dict[str, str], skipped: set[str], problems: list[str],
                 notes: list[str]) -> None:
    found = discover(paths, Limits())
    for error in found.errors:
        problems.append(f"{error.path}: {error.message}")
    seen: set[str] = set()
    for item in found.items:
        artifact = item.artifact
        if artifact.kind is ArtifactKind.DIRECTORY:
            continue
        seen.add(artifact.path)
        try:
            digest = artifact.sha256 or _digest(item)
        except OSError as exc:
            raise VerificationError(f"cannot hash {artifact.path}: {exc.strerror or exc}") from None
        except SourceReadError as exc:
            raise VerificationError(f"cannot hash {artifact.path}: {exc}") from None
        want = expected.get(artifact.path)
        if want is None and artifact.path in skipped:
            notes.append(f"{artifact.path}: written by the scan itself (a report), not attested and not checked")
        elif want is None:
            problems.append(f"{artifact.path}: not covered by the attestation (not scanned)")
        elif want != digest:
            problems.append(f"{artifact.path}: changed since the scan (SHA-256 differs)")
    notes.extend(f"{name}: attested but not found under the given paths" for name in sorted(set(expected) - seen))


__all__ = ["PREDICATE_TYPE", "STATEMENT_TYPE", "AttestationCheck", "AttestationError", "policy_digest", "sha256_file",
           "statement", "subjects", "verdict", "verify_attestation", "write_attestation"]
