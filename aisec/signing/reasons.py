"""Named reasons why a model signature does not verify."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Reason(str, enum.Enum):
    """One machine-readable cause of a failed verification (the value is the public code)."""

    # Files of the model against the signed manifest.
    FILE_MODIFIED = "file-modified"
    FILE_ADDED = "file-added"
    FILE_MISSING = "file-missing"
    FILE_RENAMED = "file-renamed"
    FILE_UNREADABLE = "file-unreadable"
    SPECIAL_FILE = "special-file"
    SYMLINK_NOT_ALLOWED = "symlink-not-allowed"
    SYMLINK_ESCAPES = "symlink-escapes"
    # The signed manifest itself.
    DUPLICATE_RESOURCE = "duplicate-resource"
    UNSAFE_RESOURCE_NAME = "unsafe-resource-name"
    UNSAFE_IGNORE_PATH = "unsafe-ignore-path"
    UNKNOWN_PREDICATE_TYPE = "unknown-predicate-type"
    UNKNOWN_STATEMENT_TYPE = "unknown-statement-type"
    UNKNOWN_PAYLOAD_TYPE = "unknown-payload-type"
    UNKNOWN_HASH_ALGORITHM = "unknown-hash-algorithm"
    UNKNOWN_SERIALIZATION = "unknown-serialization"
    ROOT_DIGEST_MISMATCH = "root-digest-mismatch"
    MALFORMED_STATEMENT = "malformed-statement"
    # The bundle and its signature.
    MALFORMED_BUNDLE = "malformed-bundle"
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
    METHOD_MISMATCH = "method-mismatch"
    BAD_SIGNATURE = "bad-signature"
    UNTRUSTED_KEY = "untrusted-key"
    KEY_HINT_MISMATCH = "key-hint-mismatch"
    UNSUPPORTED_KEY = "unsupported-key"
    # Certificates and identities.
    CHAIN_NOT_ROOTED = "chain-not-rooted"
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_NOT_YET_VALID = "certificate-not-yet-valid"
    NO_CODE_SIGNING_USAGE = "no-code-signing-usage"
    IDENTITY_MISMATCH = "identity-mismatch"
    ISSUER_MISMATCH = "issuer-mismatch"
    # Sigstore-specific checks (transparency log, SCT, timestamps).
    TRANSPARENCY_LOG_INVALID = "transparency-log-invalid"
    SCT_INVALID = "sct-invalid"
    SIGSTORE_REJECTED = "sigstore-rejected"
    # No trust material was given for this signature (library and scanner only; the CLI requires some).
    NOT_AUTHENTICATED = "not-authenticated"

    def __str__(self) -> str:
        return self.value

    @property
    def category(self) -> str:
        """``integrity`` (model or manifest does not match), ``trust`` (signer not trusted) or ``unverified``."""
        if self is Reason.NOT_AUTHENTICATED:
            return "unverified"
        return "trust" if self in TRUST_REASONS else "integrity"


TRUST_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.METHOD_MISMATCH,
        Reason.UNTRUSTED_KEY,
        Reason.KEY_HINT_MISMATCH,
        Reason.UNSUPPORTED_KEY,
        Reason.CHAIN_NOT_ROOTED,
        Reason.CERTIFICATE_EXPIRED,
        Reason.CERTIFICATE_NOT_YET_VALID,
        Reason.NO_CODE_SIGNING_USAGE,
        Reason.IDENTITY_MISMATCH,
        Reason.ISSUER_MISMATCH,
        Reason.TRANSPARENCY_LOG_INVALID,
        Reason.SCT_INVALID,
        Reason.SIGSTORE_REJECTED,
    }
)


@dataclass(frozen=True, kw_only=True)
class Discrepancy:
    """One reason verification failed, with a human-readable detail and the file concerned, if any."""

    reason: Reason
    detail: str
    path: str | None = None

    def __str__(self) -> str:
        where = f" [{self.path}]" if self.path else ""
        return f"{self.reason.value}{where}: {self.detail}"
