"""Render a ``Report`` as a CycloneDX 1.6 ML-BOM (JSON): artifacts as components, findings as vulnerabilities.

Models and model folders are ``machine-learning-model`` components, datasets and signature files ``data``
components, every other scanned file a ``file`` component. A model folder and its signature file carry the
signature status and signer; each finding (and each suppressed one, with its justification) is a vulnerability
whose ``affects`` names the component it concerns.

Deterministic output: ``metadata.timestamp`` is ``SOURCE_DATE_EPOCH`` when that variable is set (the
reproducible-builds convention), else the scan's start time; ``serialNumber`` is a UUIDv5 over the rest of the
document, so the same scan of the same files with the same timestamp renders byte-identical BOMs, and any change
in content gives a new serial number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from aisec.errors import AisecError
from aisec.model import (
    Artifact,
    ArtifactKind,
    Finding,
    Location,
    Report,
    RuleDescriptor,
    ScanError,
    Severity,
    SignatureStatus,
)
from aisec.report import escape

if TYPE_CHECKING:
    from cyclonedx.model import ExternalReference, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.vulnerability import Vulnerability, VulnerabilitySeverity

SBOM_EXTRA = "aisec[sbom]"
"""The extra that installs cyclonedx-python-lib."""
SPEC_VERSION = "1.6"
SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"
"""Seconds since 1970-01-01 UTC: when set, the BOM's timestamp (reproducible builds' convention)."""
SERIAL_NAMESPACE = uuid.UUID("5b0c8a52-5d1e-4c59-9d1a-6f0d6c1e2a11")
"""Namespace of the UUIDv5 serial numbers (fixed: changing it changes every BOM's serial)."""
PLACEHOLDER_SERIAL = uuid.UUID(int=0)
"""Serial number of the draft whose text the real serial number is derived from."""
PREFIX = "aisec:"
"""Namespace of aisec's CycloneDX property names."""
TOOL_URL = "https://github.com/aisec-dev/aisec"
_FIRST_KEYS = ("$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata", "components",
               "dependencies", "vulnerabilities")

MODEL_KINDS = frozenset({
    ArtifactKind.PICKLE, ArtifactKind.PYTORCH_ZIP, ArtifactKind.TORCHSCRIPT_ZIP, ArtifactKind.KERAS_ZIP,
    ArtifactKind.NPZ, ArtifactKind.NPY, ArtifactKind.HDF5, ArtifactKind.GGUF, ArtifactKind.SAFETENSORS,
    ArtifactKind.ONNX, ArtifactKind.TF_SAVEDMODEL, ArtifactKind.DIRECTORY,
})
"""Kinds that are models (a scanned folder is a model folder: aisec scans folders as models)."""
DATA_KINDS = frozenset({
    ArtifactKind.JSONL, ArtifactKind.CSV, ArtifactKind.PARQUET, ArtifactKind.JSON_RECORDS, ArtifactKind.SIGNATURE,
})
"""Kinds that are data: datasets, and signature files (the crypto material a model folder is checked against)."""
DATASET_KINDS = DATA_KINDS - {ArtifactKind.SIGNATURE}


def missing_library() -> str | None:
    """Why CycloneDX output cannot be written here (cyclonedx-python-lib missing), or None when it can."""
    try:
        import cyclonedx.output.json  # noqa: F401 - the renderer needs it; importing is the honest check
    except ImportError:
        return f"CycloneDX output needs cyclonedx-python-lib: pip install '{SBOM_EXTRA}'"
    return None


def render_cyclonedx(report: Report, *, timestamp: dt.datetime | None = None) -> str:
    """The BOM as indented JSON text with a trailing newline; ``timestamp`` defaults to :func:`bom_timestamp`."""
    try:
        from cyclonedx.output.json import JsonV1Dot6
    except ImportError:
        raise AisecError(missing_library() or f"CycloneDX output needs '{SBOM_EXTRA}'") from None
    when = timestamp if timestamp is not None else bom_timestamp(report)
    bom = build_bom(report, timestamp=when, serial=PLACEHOLDER_SERIAL)
    draft = JsonV1Dot6(bom).output_as_string(indent=2)
    bom.serial_number = uuid.uuid5(SERIAL_NAMESPACE, hashlib.sha256(draft.encode()).hexdigest())
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    # Re-dumped so the text is UTF-8 rather than \u escapes, with the identifying keys first.
    document = json.loads(text)
    ordered = {k: document.pop(k) for k in _FIRST_KEYS if k in document}
    return json.dumps({**ordered, **document}, indent=2, ensure_ascii=False) + "\n"


def bom_timestamp(report: Report, environ: Mapping[str, str] | None = None) -> dt.datetime:
    """``SOURCE_DATE_EPOCH`` when set (a whole number of seconds, else an ``AisecError``), else the scan start."""
    env = os.environ if environ is None else environ
    raw = env.get(SOURCE_DATE_EPOCH, "").strip()
    if raw:
        if not raw.isdigit():
            raise AisecError(f"{SOURCE_DATE_EPOCH}={raw!r}: expected a whole number of seconds since 1970")
        try:
            return dt.datetime.fromtimestamp(int(raw), tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise AisecError(f"{SOURCE_DATE_EPOCH}={raw!r}: out of range") from None
    if report.started_utc:
        return dt.datetime.strptime(report.started_utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def build_bom(report: Report, *, timestamp: dt.datetime, serial: uuid.UUID) -> Bom:
    """The cyclonedx-python-lib ``Bom`` of ``report``."""
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import ToolRepository

    tool = Component(type=ComponentType.APPLICATION, name="aisec", version=report.tool_version,
                     bom_ref="tool:aisec", external_references=_tool_links())
    metadata = BomMetaData(tools=ToolRepository(components=[tool]), timestamp=timestamp,
                           properties=_report_properties(report))
    components = _Components(report)
    rules = {r.id: r for r in report.rules}
    vulnerabilities = list(_vulnerabilities(report, rules, components))
    bom = Bom(serial_number=serial, metadata=metadata, components=components.all(),
              vulnerabilities=vulnerabilities)
    for folder, members in components.folders().items():
        # A model folder depends on the files scanned inside it (their nearest scanned folder).
        bom.register_dependency(folder, members)
    return bom


def _tool_links() -> list[ExternalReference]:
    from cyclonedx.model import ExternalReference, ExternalReferenceType, XsUri

    return [ExternalReference(type=ExternalReferenceType.WEBSITE, url=XsUri(TOOL_URL))]


def _prop(name: str, value: object) -> Property:
    from cyclonedx.model import Property

    text = str(value).lower() if isinstance(value, bool) else str(value)
    return Property(name=PREFIX + name, value=escape.readable(text))


def _report_properties(report: Report) -> list[Property]:
    props = [_prop("policy", report.policy_name), _prop("policy_digest", report.policy_digest),
             _prop("fail_on", report.fail_on.value), _prop("scan:complete", report.trustworthy),
             _prop("gate_findings", len(report.gate_findings)), _prop("findings", len(report.findings)),
             _prop("suppressed", len(report.suppressed)), _prop("errors", len(report.errors))]
    props += [_prop("notice", n) for n in report.notices]
    props += [_prop("unused_suppression", s) for s in report.unused_suppressions]
    return props


class _Components:
    """One component per artifact, plus one per path a finding or error names that is no artifact."""

    def __init__(self, report: Report) -> None:
        self._report = report
        self._errors: dict[str, list[ScanError]] = {}
        for error in report.errors:
            self._errors.setdefault(error.path, []).append(error)
        self._signatures = _signature_index(report.signatures)
        self._findings: dict[str, list[Finding]] = {}
        self._paths = {a.path: a for a in report.artifacts}
        self._extra: dict[str, Artifact] = {}
        self._folders = {a.path for a in report.artifacts if a.kind is ArtifactKind.DIRECTORY}
        self._built: dict[str, Component] = {}
        for path in sorted(self._errors):
            if path not in self._paths:
                self._extra[path] = Artifact(path=path, kind=ArtifactKind.BINARY, size=0, sha256="")

    def ref_for(self, finding: Finding) -> str:
        """The bom-ref of the component ``finding`` concerns: its file, else the nearest scanned folder above it,
        else a component made for that path (a target that could not be read)."""
        path = finding.path
        owner = next((p for p in _self_and_parents(path) if p in self._paths or p in self._extra), None)
        if owner is None:
            owner = path
            self._extra[path] = Artifact(path=path, kind=ArtifactKind.BINARY, size=0, sha256="")
        self._findings.setdefault(owner, []).append(finding)
        return _component_ref(owner)

    def all(self) -> list[Component]:
        """Every component (call after every finding has been placed with :meth:`ref_for`)."""
        self._built = {a.path: self._component(a, scanned=True) for a in self._report.artifacts}
        self._built.update((a.path, self._component(a, scanned=False)) for a in self._extra.values()
                           if a.path not in self._built)
        return list(self._built.values())

    def folders(self) -> dict[Component, list[Component]]:
        """Each scanned folder's component with the components directly inside it (call after :meth:`all`)."""
        built = self._built
        out: dict[Component, list[Component]] = {}
        for path, component in built.items():
            above = [*list(_self_and_parents(path))[1:], "."]  # "." is every relative path's parent
            parent = next((p for p in above if p in self._folders and p != path), None)
            if parent is not None:
                out.setdefault(built[parent], []).append(component)
        return out

    def _component(self, artifact: Artifact, *, scanned: bool) -> Component:
        from cyclonedx.model import HashAlgorithm, HashType
        from cyclonedx.model.component import Component

        props = [_prop("format", artifact.kind.value), _prop("size", artifact.size)]
        if artifact.declared_kind:
            props.append(_prop("declared_format", artifact.declared_kind))
        if artifact.kind is ArtifactKind.DIRECTORY and artifact.sha256:
            props.append(_prop("listing_sha256", artifact.sha256))
        if artifact.kind in DATASET_KINDS:
            props.append(_prop("role", "dataset"))
        props += self._scan_properties(artifact, scanned=scanned)
        status = self._signatures.get(artifact.path)
        if status is not None:
            props += _signature_properties(status, artifact)
        hashes = []
        if artifact.sha256 and artifact.kind is not ArtifactKind.DIRECTORY:
            hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=artifact.sha256))
        return Component(type=_component_type(artifact.kind, scanned=scanned), name=escape.readable(artifact.path),
                         bom_ref=_component_ref(artifact.path), hashes=hashes, properties=props)

    def _scan_properties(self, artifact: Artifact, *, scanned: bool) -> list[Property]:
        errors = self._errors.get(artifact.path, [])
        findings = self._findings.get(artifact.path, [])
        props = [_prop("scan:complete", scanned and not errors)]
        props += [_prop("scan:error", f"{e.reason}: {e.message}") for e in errors]
        if findings:
            worst = max((f.severity for f in findings), key=lambda s: s.rank)
            props += [_prop("findings", len(findings)), _prop("max_severity", worst.value)]
        return props


def _signature_index(statuses: Iterable[SignatureStatus]) -> dict[str, SignatureStatus]:
    """A folder's status under the folder's path and under its signature file's path."""
    index: dict[str, SignatureStatus] = {}
    for status in statuses:
        index[status.path] = status
        if status.signature and status.status != "covered-by-parent":
            index.setdefault(status.signature, status)
    return index


def _signature_properties(status: SignatureStatus, artifact: Artifact) -> list[Property]:
    props = [_prop("signature:status", status.status)]
    if artifact.path == status.path:
        if status.signature:
            props.append(_prop("signature:file", status.signature))
    else:
        props.append(_prop("signature:covers", status.path))
    if status.signer:
        props.append(_prop("signature:signer", status.signer))
    props += [_prop("signature:reason", r) for r in status.reasons]
    return props


def _component_type(kind: ArtifactKind, *, scanned: bool) -> ComponentType:
    from cyclonedx.model.component import ComponentType

    if scanned and kind in MODEL_KINDS:
        return ComponentType.MACHINE_LEARNING_MODEL
    if scanned and kind in DATA_KINDS:
        return ComponentType.DATA
    return ComponentType.FILE


def _component_ref(path: str) -> str:
    return "artifact:" + escape.readable(path)


def _self_and_parents(path: str) -> Iterator[str]:
    yield path
    for parent in PurePosixPath(path).parents:
        if str(parent) in (".", "/"):
            return
        yield str(parent)


def _vulnerabilities(report: Report, rules: Mapping[str, RuleDescriptor],
                     components: _Components) -> Iterator[Vulnerability]:
    seen: dict[str, int] = {}
    gating = {id(f) for f in report.gate_findings}
    for finding in (*report.findings, *report.suppressed):
        ref = f"finding:{finding.fingerprint or finding.rule_id}"
        seen[ref] = seen.get(ref, 0) + 1
        if seen[ref] > 1:  # same fingerprint twice (two places of one fact): refs must stay unique
            ref = f"{ref}:{seen[ref]}"
        gates = id(finding) in gating and finding.suppression is None
        yield _vulnerability(finding, ref, rules.get(finding.rule_id), components.ref_for(finding), gates=gates)


def _vulnerability(finding: Finding, ref: str, rule: RuleDescriptor | None, target: str, *,
                   gates: bool) -> Vulnerability:
    from cyclonedx.model import XsUri
    from cyclonedx.model.impact_analysis import ImpactAnalysisResponse
    from cyclonedx.model.vulnerability import (
        BomTarget,
        Vulnerability,
        VulnerabilityAdvisory,
        VulnerabilityAnalysis,
        VulnerabilityRating,
        VulnerabilityScoreSource,
        VulnerabilitySource,
    )

    url = XsUri(rule.help_uri) if rule is not None and rule.help_uri else None
    source = VulnerabilitySource(name="aisec", url=url)
    rating = VulnerabilityRating(source=source, severity=_severity(finding.severity),
                                 score=Decimal(finding.severity.security_severity),
                                 method=VulnerabilityScoreSource.OTHER)
    analysis = None
    if finding.suppression is not None:
        expires = f" (until {finding.suppression.expires})" if finding.suppression.expires else ""
        analysis = VulnerabilityAnalysis(responses=[ImpactAnalysisResponse.WILL_NOT_FIX],
                                         detail=f"suppressed by the policy{expires}: "
                                                f"{escape.readable(finding.suppression.justification)}")
    props = [_prop("confidence", finding.confidence.value), _prop("fingerprint", finding.fingerprint),
             _prop("location", _location_text(finding)),
             _prop("gate", gates)]
    props += _location_properties(finding.location)
    props += [_prop(f"evidence:{k}", v) for k, v in sorted(finding.evidence.items())]
    if finding.baseline_state:
        props.append(_prop("baseline_state", finding.baseline_state))
    return Vulnerability(
        bom_ref=ref, id=finding.rule_id, source=source, ratings=[rating], cwes=_cwes(rule),
        description=rule.short_description if rule is not None else None,
        detail=escape.readable(finding.message),
        recommendation=rule.help_text if rule is not None and rule.help_text else None,
        advisories=[VulnerabilityAdvisory(url=XsUri(u)) for u in (rule.references if rule is not None else ())],
        analysis=analysis, affects=[BomTarget(ref=target)], properties=props)


def _severity(severity: Severity) -> VulnerabilitySeverity:
    from cyclonedx.model.vulnerability import VulnerabilitySeverity

    return VulnerabilitySeverity(severity.value)


def _cwes(rule: RuleDescriptor | None) -> list[int]:
    if rule is None:
        return []
    return [int(c.split("-", 1)[1]) for c in rule.cwe if c.upper().startswith("CWE-") and c[4:].isdigit()]


def _location_text(finding: Finding) -> str:
    """``path!/member#pointer:line`` (what a person types to find the place)."""
    loc = finding.location
    text = loc.path or finding.path
    if loc.member:
        text += f"!/{loc.member}"
    if loc.pointer:
        text += f"#{loc.pointer}"
    if loc.line is not None:
        text += f":{loc.line}"
    elif loc.offset is not None:
        text += f"@{loc.offset}"
    return text


def _location_properties(loc: Location) -> list[Property]:
    fields = (("member", loc.member), ("offset", loc.offset), ("line", loc.line), ("column", loc.column),
              ("pointer", loc.pointer))
    return [_prop(f"location:{name}", value) for name, value in fields if value is not None]
