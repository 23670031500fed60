"""The core data model: artifacts, facts, findings, scan errors and the report."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

Scalar = str | int | float | bool
"""A value a fact or a piece of evidence can hold."""


class Severity(enum.Enum):
    """How bad a finding is, from the rule (and the policy's overrides)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: info=0 … critical=4."""
        return _SEVERITY_RANK[self]

    @property
    def sarif_level(self) -> str:
        """The SARIF ``level`` for this severity."""
        return _SARIF_LEVEL[self]

    @property
    def security_severity(self) -> str:
        """GitHub's numeric ``security-severity`` (a string, as GitHub requires)."""
        return _SECURITY_SEVERITY[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a severity name, case-insensitively; ``ValueError`` if unknown."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {names})") from None


_SEVERITY_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}
_SARIF_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
                Severity.LOW: "note", Severity.INFO: "note"}
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                      Severity.LOW: "3.0", Severity.INFO: "0.5"}


class Confidence(enum.Enum):
    """How sure a rule is that a match is a true positive (SARIF ``precision``)."""

    VERY_HIGH = "very-high"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ArtifactKind(enum.Enum):
    """What a file is, decided from its content (magic bytes and structure), never its name."""

    PICKLE = "pickle"
    PYTORCH_ZIP = "pytorch_zip"
    TORCHSCRIPT_ZIP = "torchscript_zip"
    KERAS_ZIP = "keras_zip"
    NPZ = "npz"
    ZIP = "zip"
    TAR = "tar"
    SEVEN_ZIP = "7z"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"
    ZLIB = "zlib"
    LZ4 = "lz4"
    HDF5 = "hdf5"
    GGUF = "gguf"
    SAFETENSORS = "safetensors"
    ONNX = "onnx"
    TF_SAVEDMODEL = "tf_savedmodel"
    PROTOBUF = "protobuf"
    NPY = "npy"
    JSON = "json"
    JSONL = "jsonl"
    JSON_RECORDS = "json_records"
    """A JSON document holding an array of records (``[{...}, ...]`` or ``{"data": [...]}``): a dataset."""
    CSV = "csv"
    PARQUET = "parquet"
    SIGNATURE = "signature"
    PYTHON = "python"
    JINJA = "jinja"
    TEXT = "text"
    BINARY = "binary"
    EMPTY = "empty"
    DIRECTORY = "directory"


@dataclass(frozen=True, kw_only=True)
class Location:
    """Where inside an artifact something was seen. Every field is optional."""

    path: str | None = None
    """Repo-relative path when it differs from the artifact's (e.g. a folder analyzer naming a file)."""
    member: str | None = None
    """Archive member chain, outermost first, joined by ``!/`` (``data.zip!/archive/data.pkl``)."""
    offset: int | None = None
    """Byte offset in the member (or file when there is no member)."""
    line: int | None = None
    """1-based physical line in a text artifact."""
    column: int | None = None
    """1-based start column in UTF-16 code units (as SARIF counts)."""
    end_column: int | None = None
    """1-based exclusive end column in UTF-16 code units."""
    pointer: str | None = None
    """JSON pointer, column name or config path inside the artifact."""

    def key(self) -> str:
        """A stable text form used in fingerprints and sorting (no line numbers of binaries)."""
        parts = [self.path or "", self.member or "", self.pointer or ""]
        return "|".join(parts)

    def sort_key(self) -> tuple[str, str, int, int, int, str]:
        """Deterministic ordering."""
        return (self.path or "", self.member or "", self.line or 0, self.column or 0, self.offset or 0,
                self.pointer or "")


NO_LOCATION = Location()


@dataclass(frozen=True, kw_only=True)
class RelatedLocation:
    """Another place a fact concerns (e.g. every row carrying a confirmed trigger), with a short label."""

    location: Location
    message: str = ""
    """What this place is, e.g. ``row 123``; shown in SARIF ``relatedLocations[].message``."""

    def sort_key(self) -> tuple[tuple[str, str, int, int, int, str], str]:
        """Deterministic ordering."""
        return (self.location.sort_key(), self.message)


@dataclass(frozen=True, kw_only=True)
class Fact:
    """One observation an analyzer made about an artifact, e.g. ``pickle.call = "os.system"``."""

    key: str
    """Dotted fact name, declared in the fact catalog (``family.name``)."""
    value: Scalar
    """The observed value."""
    location: Location = NO_LOCATION
    """Where it was observed."""
    detail: Mapping[str, Scalar] = field(default_factory=dict)
    """Extra evidence (counts, scores, opcode names) carried into the finding."""
    related: tuple[RelatedLocation, ...] = ()
    """Every other place the observation concerns (affected rows), in the producer's deterministic order.
    Producers bound it (and record the true total in ``detail``); it never enters the fingerprint."""

    def sort_key(self) -> tuple[str, tuple[str, str, int, int, int, str], str]:
        """Deterministic ordering."""
        return (self.key, self.location.sort_key(), repr(self.value))


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """A scanned file (or folder), identified by content."""

    path: str
    """Repo-relative POSIX path as shown in reports."""
    kind: ArtifactKind
    """Kind sniffed from the content."""
    size: int
    """Size in bytes (0 for folders)."""
    sha256: str
    """Lowercase hex SHA-256 of the content (of the sorted listing for folders)."""
    declared_kind: str | None = None
    """What the file name suggests (extension), when it suggests anything."""


@dataclass(frozen=True, kw_only=True)
class ScanError:
    """An artifact, or part of one, that could not be fully analyzed."""

    path: str
    """Repo-relative path of the artifact."""
    reason: str
    """Machine-readable reason: ``io``, ``malformed``, ``limit``, ``timeout``, ``internal``, ``unsupported``,
    ``encrypted``."""
    message: str
    """Human explanation."""
    location: Location = NO_LOCATION
    """Where in the artifact, when known."""
    limit: str | None = None
    """The limit name, when ``reason == "limit"``."""


@dataclass(frozen=True, kw_only=True)
class RuleDescriptor:
    """What reporters need to know about a rule (the engine's rule, stripped of logic)."""

    id: str
    name: str
    short_description: str
    full_description: str
    severity: Severity
    confidence: Confidence
    help_text: str
    help_markdown: str
    help_uri: str
    cwe: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Suppression:
    """Why a finding was suppressed by the policy."""

    justification: str
    expires: str | None = None


@dataclass(frozen=True, kw_only=True)
class Finding:
    """A rule's verdict about one artifact (and one place in it)."""

    rule_id: str
    severity: Severity
    confidence: Confidence
    message: str
    path: str
    """Repo-relative path of the artifact (or of ``location.path`` when given)."""
    location: Location = NO_LOCATION
    evidence: Mapping[str, Scalar] = field(default_factory=dict)
    fingerprint: str = ""
    """Stable hex digest over rule id, path, member and evidence key."""
    related_locations: tuple[RelatedLocation, ...] = ()
    """The fact's related places (SARIF ``relatedLocations``); not part of the fingerprint."""
    suppression: Suppression | None = None
    baseline_state: str | None = None
    """Against a baseline: ``new``, ``unchanged``, ``updated`` or ``absent`` (SARIF ``baselineState``)."""

    def sort_key(self) -> tuple[str, tuple[str, str, int, int, int, str], str, str]:
        """Deterministic ordering: by file, place, rule, fingerprint."""
        return (self.path, self.location.sort_key(), self.rule_id, self.fingerprint)


@dataclass(frozen=True, kw_only=True)
class SignatureStatus:
    """What the OMS signature check found for one scanned model folder (from its ``signature.*`` facts)."""

    path: str
    """Repo-relative path of the model folder."""
    status: str
    """``verified``, ``signer-not-verified``, ``untrusted``, ``invalid``, ``unsigned``, ``covered-by-parent`` or
    ``not-checked`` (the signature could not be read or verified)."""
    signature: str | None = None
    """The signature file (repo-relative when inside the scan, else as found), when there is one."""
    signer: str | None = None
    """Who signed, as far as the signature tells (key, certificate subject or Sigstore identity)."""
    reasons: tuple[str, ...] = ()
    """Why it did not verify (reason codes such as ``file-modified``), sorted."""


@dataclass(frozen=True, kw_only=True)
class Report:
    """Everything one scan produced; the only input reporters get."""

    tool_version: str
    policy_name: str
    policy_digest: str
    """SHA-256 over the effective policy and the rule set it enabled."""
    fail_on: Severity
    rules: tuple[RuleDescriptor, ...]
    """Every enabled rule, sorted by id."""
    artifacts: tuple[Artifact, ...]
    findings: tuple[Finding, ...]
    """Unsuppressed findings, sorted."""
    suppressed: tuple[Finding, ...] = ()
    errors: tuple[ScanError, ...] = ()
    unused_suppressions: tuple[str, ...] = ()
    started_utc: str | None = None
    finished_utc: str | None = None
    absent: tuple[Finding, ...] = ()
    """Baseline findings no longer found (reported, never gated)."""
    gate_all: bool = True
    """False: a baseline was given and only its new and updated findings fail the gate."""
    notices: tuple[str, ...] = ()
    """Configuration notices (e.g. a project file inside a scanned folder that was not read)."""
    unreported: tuple[Finding, ...] = ()
    """Unsuppressed findings at or above ``fail_on`` but below the report floor (``min_severity``): left out of
    the report, still counted by the gate (the floor decides what is printed, never the exit code)."""
    signatures: tuple[SignatureStatus, ...] = ()
    """The signature status of every scanned model folder, sorted by path (the CycloneDX BOM carries it)."""

    @property
    def gate_findings(self) -> tuple[Finding, ...]:
        """Findings at or above the fail-on severity, reported or not (without ``gate_all``, unchanged ones do
        not count)."""
        return tuple(f for f in (*self.findings, *self.unreported) if self._gates(f))

    @property
    def gated_unreported(self) -> tuple[Finding, ...]:
        """The gate findings the report floor left out of the report (the summary says how many)."""
        return tuple(f for f in self.unreported if self._gates(f))

    def _gates(self, finding: Finding) -> bool:
        return finding.severity.rank >= self.fail_on.rank and (self.gate_all or finding.baseline_state != "unchanged")

    @property
    def trustworthy(self) -> bool:
        """False when anything could not be scanned or nothing was scanned at all."""
        return not self.errors and bool(self.artifacts)
