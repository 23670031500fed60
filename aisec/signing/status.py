"""One signature status per scanned model folder, summarised from the signature analyzer's facts."""

from __future__ import annotations

from collections.abc import Iterable

from aisec.model import Fact, SignatureStatus

_WORST_FIRST = (("integrity", "invalid"), ("trust", "untrusted"), ("unverified", "signer-not-verified"))
"""A failure category and the status it gives, worst first: a tampered file outranks an unknown signer."""


def signature_status(folder: str, facts: Iterable[Fact]) -> SignatureStatus | None:
    """The status of ``folder`` from its facts; None when the signature analyzer did not run on it."""
    present: Fact | None = None
    verified: bool | None = None
    signer: str | None = None
    categories: set[str] = set()
    reasons: set[str] = set()
    for fact in facts:
        if fact.key == "signature.present":
            present = fact
        elif fact.key == "signature.verified":
            verified = bool(fact.value)
        elif fact.key == "signature.signer":
            signer = str(fact.value)
        elif fact.key == "signature.failure":
            categories.add(str(fact.detail.get("category", "")))
            reasons.add(str(fact.value))
    if present is None:
        return None
    if present.value is not True:
        return SignatureStatus(path=folder, status="unsigned")
    where = present.detail.get("file")
    if "covered_by" in present.detail:
        return SignatureStatus(path=folder, status="covered-by-parent", signature=str(where))
    signature = present.location.path or (f"{folder}/{where}" if where else None)
    status = next((s for category, s in _WORST_FIRST if category in categories), None)
    if status is None:
        # No failure: verified only when the verifier said so; a verifier that never answered (unreadable
        # signature, reported as a scan error) leaves the folder not checked, never "verified".
        status = "verified" if verified else "not-checked"
    return SignatureStatus(path=folder, status=status, signature=signature, signer=signer,
                           reasons=tuple(sorted(reasons)))


def signature_statuses(results: Iterable[tuple[str, Iterable[Fact]]]) -> tuple[SignatureStatus, ...]:
    """Every folder's status, sorted by path (``results`` pairs an artifact path with its facts)."""
    found = (signature_status(path, facts) for path, facts in results)
    return tuple(sorted((s for s in found if s is not None), key=lambda s: s.path))
