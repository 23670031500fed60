"""The OMS in-toto statement: build it from digests, and parse a signed one strictly."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aisec import strictjson
from aisec.signing.hashing import HASH_TYPES
from aisec.signing.names import (
    SINGLE_FILE_NAME,
    file_sort_key,
    name_problem,
    parse_shard_name,
    shard_sort_key,
)
from aisec.signing.reasons import Discrepancy, Reason

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
LEGACY_PREDICATE_TYPE = "https://model_signing/Digests/v0.1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"

_DIGEST_BYTES = {"sha256": 32, "blake2b": 64, "blake3": 32}
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, kw_only=True)
class Resource:
    """One signed item: a whole file, or a shard ``path:start:end``."""

    name: str
    algorithm: str
    digest: bytes
    path: str
    """The file the item belongs to (``name`` without the shard offsets)."""
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, kw_only=True)
class Serialization:
    """How the model was turned into resources (``predicate.serialization``)."""

    method: str
    hash_type: str
    allow_symlinks: bool = False
    shard_size: int | None = None
    ignore_paths: tuple[str, ...] = ()

    def resource_algorithm(self) -> str:
        """The per-resource ``algorithm`` model_signing emits for this serialization."""
        if self.method == "shards":
            return f"{self.hash_type}-sharded-{self.shard_size}"
        return self.hash_type

    def to_json(self) -> dict[str, Any]:
        """The ``serialization`` object, in model_signing's key order."""
        out: dict[str, Any] = {"method": self.method, "hash_type": self.hash_type}
        if self.method == "shards":
            out["shard_size"] = self.shard_size
        out["allow_symlinks"] = self.allow_symlinks
        if self.ignore_paths:
            out["ignore_paths"] = list(self.ignore_paths)
        return out


@dataclass(frozen=True, kw_only=True)
class Statement:
    """A parsed, checked OMS statement."""

    predicate_type: str
    subject_name: str
    root_digest: str
    serialization: Serialization
    resources: tuple[Resource, ...]

    @property
    def legacy(self) -> bool:
        """True for the v0.2-era ``Digests/v0.1`` predicate (no serialization recorded)."""
        return self.predicate_type == LEGACY_PREDICATE_TYPE


def root_digest(resources: Sequence[Resource]) -> str:
    """SHA-256 over the raw digests in the listed order (always SHA-256, whatever the file hash)."""
    hasher = hashlib.sha256()
    for resource in resources:
        hasher.update(resource.digest)
    return hasher.hexdigest()


def sort_resources(resources: Sequence[Resource]) -> list[Resource]:
    """model_signing's order: path components, then shard offsets."""
    return sorted(
        resources,
        key=lambda r: (
            shard_sort_key(r.path, r.start or 0, r.end or 0) if r.start is not None else (file_sort_key(r.path), 0, 0)
        ),
    )


def encode_statement(*, model_name: str, resources: Sequence[Resource], serialization: Serialization) -> bytes:
    """The UTF-8 JSON bytes of the statement, resources in model_signing's order."""
    ordered = sort_resources(resources)
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": root_digest(ordered)}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": serialization.to_json(),
            "resources": [{"name": r.name, "algorithm": r.algorithm, "digest": r.digest.hex()} for r in ordered],
        },
    }
    # Compact JSON: the C encoder is only used without indentation (10x faster for big manifests).
    return json.dumps(statement, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Malformed(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _field(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict):
        raise _Malformed(Reason.MALFORMED_STATEMENT, f"{where} is not a JSON object")
    if key not in obj:
        raise _Malformed(Reason.MALFORMED_STATEMENT, f"{where} has no '{key}'")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Malformed(Reason.MALFORMED_STATEMENT, f"{where}.{key} has the wrong type")
    return value


def _digest(text: Any, hash_type: str, where: str) -> bytes:
    if not isinstance(text, str) or not _HEX.fullmatch(text) or len(text) != 2 * _DIGEST_BYTES[hash_type]:
        raise _Malformed(Reason.MALFORMED_STATEMENT, f"{where} is not a lowercase hex {hash_type} digest")
    return bytes.fromhex(text)


def parse_statement(payload: bytes) -> tuple[Statement | None, list[Discrepancy]]:
    """Decode and check a signed statement; return it with every problem found in it.

    Returns ``(None, problems)`` when the statement cannot be used at all (wrong type, unknown predicate or
    serialization, malformed structure); otherwise the statement and the (possibly empty) list of
    manifest-level problems: duplicate or unsafe names, unknown algorithms, a root-digest mismatch.
    """
    try:
        try:
            doc = strictjson.loads(payload)
        except strictjson.StrictJSONError as exc:
            raise _Malformed(Reason.MALFORMED_STATEMENT, str(exc)) from None
        statement_type = _field(doc, "_type", str, "statement")
        if statement_type != STATEMENT_TYPE:
            raise _Malformed(Reason.UNKNOWN_STATEMENT_TYPE, f"statement _type is {statement_type!r}")
        predicate_type = _field(doc, "predicateType", str, "statement")
        if predicate_type == LEGACY_PREDICATE_TYPE:
            return _parse_legacy(doc)
        if predicate_type != PREDICATE_TYPE:
            raise _Malformed(
                Reason.UNKNOWN_PREDICATE_TYPE,
                f"predicateType is {predicate_type!r}, expected {PREDICATE_TYPE!r}",
            )
        subjects = _field(doc, "subject", list, "statement")
        if len(subjects) != 1:
            raise _Malformed(Reason.MALFORMED_STATEMENT, f"expected exactly one subject, got {len(subjects)}")
        subject_name = _field(subjects[0], "name", str, "subject[0]")
        subject_digest = _field(_field(subjects[0], "digest", dict, "subject[0]"), "sha256", str, "subject[0].digest")
        _digest(subject_digest, "sha256", "subject[0].digest.sha256")
        predicate = _field(doc, "predicate", dict, "statement")
        serialization = _parse_serialization(_field(predicate, "serialization", dict, "predicate"))
        raw_resources = _field(predicate, "resources", list, "predicate")
        return _parse_resources(raw_resources, serialization, predicate_type, subject_name, subject_digest)
    except _Malformed as exc:
        return None, [Discrepancy(reason=exc.reason, detail=exc.detail)]


def _parse_serialization(raw: dict[str, Any]) -> Serialization:
    method = _field(raw, "method", str, "serialization")
    if method not in ("files", "shards"):
        raise _Malformed(Reason.UNKNOWN_SERIALIZATION, f"serialization method {method!r} is unknown")
    hash_type = _field(raw, "hash_type", str, "serialization")
    if hash_type not in HASH_TYPES:
        raise _Malformed(
            Reason.UNKNOWN_HASH_ALGORITHM,
            f"hash_type {hash_type!r} is unknown (known: {', '.join(HASH_TYPES)})",
        )
    allow_symlinks = _field(raw, "allow_symlinks", bool, "serialization")
    shard_size: int | None = None
    if method == "shards":
        size = _field(raw, "shard_size", (int, float), "serialization")
        if isinstance(size, float):
            if not math.isfinite(size) or not size.is_integer():
                raise _Malformed(Reason.MALFORMED_STATEMENT, f"shard_size {size!r} is not an integer")
            size = int(size)
        if size <= 0:
            raise _Malformed(Reason.MALFORMED_STATEMENT, f"shard_size {size!r} is not positive")
        shard_size = size
    ignore: list[str] = []
    if "ignore_paths" in raw:
        for item in _field(raw, "ignore_paths", list, "serialization"):
            if not isinstance(item, str):
                raise _Malformed(Reason.MALFORMED_STATEMENT, "serialization.ignore_paths holds a non-string")
            problem = name_problem(item)
            if problem is not None:
                raise _Malformed(Reason.UNSAFE_IGNORE_PATH, f"signed ignore path {item!r}: {problem}")
            ignore.append(item)
    return Serialization(
        method=method,
        hash_type=hash_type,
        allow_symlinks=allow_symlinks,
        shard_size=shard_size,
        ignore_paths=tuple(ignore),
    )


def _parse_resources(
    raw: list[Any], serialization: Serialization, predicate_type: str, subject_name: str, subject_digest: str
) -> tuple[Statement | None, list[Discrepancy]]:
    problems: list[Discrepancy] = []
    resources: list[Resource] = []
    seen: set[str] = set()
    root_hasher = hashlib.sha256()
    accepted = {serialization.hash_type}
    if serialization.method == "shards":
        accepted.add(serialization.resource_algorithm())
    for index, item in enumerate(raw):
        where = f"resources[{index}]"
        name = _field(item, "name", str, where)
        algorithm = _field(item, "algorithm", str, where)
        digest = _digest(_field(item, "digest", str, where), serialization.hash_type, f"{where}.digest")
        root_hasher.update(digest)  # over every listed digest, in the listed order
        _note_duplicate(name, seen, problems)
        if algorithm not in accepted:
            problems.append(
                Discrepancy(
                    reason=Reason.UNKNOWN_HASH_ALGORITHM,
                    path=name,
                    detail=f"resource algorithm {algorithm!r} does not match hash_type {serialization.hash_type!r}",
                )
            )
        start: int | None = None
        end: int | None = None
        path = name
        if serialization.method == "shards":
            parsed = parse_shard_name(name)
            if parsed is None:
                problems.append(
                    Discrepancy(
                        reason=Reason.UNSAFE_RESOURCE_NAME,
                        path=name,
                        detail="shard name is not 'path:start:end' with start < end",
                    )
                )
                continue
            path, start, end = parsed
            if serialization.shard_size is not None and end - start > serialization.shard_size:
                problems.append(
                    Discrepancy(
                        reason=Reason.UNSAFE_RESOURCE_NAME,
                        path=name,
                        detail="shard is larger than shard_size",
                    )
                )
        problem = None if path == SINGLE_FILE_NAME else name_problem(path)
        if problem is not None:
            problems.append(Discrepancy(reason=Reason.UNSAFE_RESOURCE_NAME, path=name, detail=problem))
            continue
        resources.append(Resource(name=name, algorithm=algorithm, digest=digest, path=path, start=start, end=end))
    if any(r.path == SINGLE_FILE_NAME for r in resources) and len({r.path for r in resources}) > 1:
        problems.append(
            Discrepancy(
                reason=Reason.UNSAFE_RESOURCE_NAME,
                path=SINGLE_FILE_NAME,
                detail="'.' names a single-file model but the manifest lists other files",
            )
        )
    computed = root_hasher.hexdigest()
    if computed != subject_digest:
        problems.append(
            Discrepancy(
                reason=Reason.ROOT_DIGEST_MISMATCH,
                detail=f"subject digest {subject_digest} but the resources hash to {computed}",
            )
        )
    statement = Statement(
        predicate_type=predicate_type,
        subject_name=subject_name,
        root_digest=subject_digest,
        serialization=serialization,
        resources=tuple(resources),
    )
    return statement, problems


def _parse_legacy(doc: Any) -> tuple[Statement | None, list[Discrepancy]]:
    """v0.2-era statements: one subject per file, SHA-256, no serialization and no root digest."""
    problems: list[Discrepancy] = []
    resources: list[Resource] = []
    seen: set[str] = set()
    for index, subject in enumerate(_field(doc, "subject", list, "statement")):
        name = _field(subject, "name", str, f"subject[{index}]")
        digest = _digest(
            _field(
                _field(subject, "digest", dict, f"subject[{index}]"),
                "sha256",
                str,
                f"subject[{index}].digest",
            ),
            "sha256",
            f"subject[{index}].digest.sha256",
        )
        _note_duplicate(name, seen, problems)
        problem = name_problem(name)
        if problem is not None:
            problems.append(Discrepancy(reason=Reason.UNSAFE_RESOURCE_NAME, path=name, detail=problem))
            continue
        resources.append(Resource(name=name, algorithm="sha256", digest=digest, path=name))
    serialization = Serialization(method="files", hash_type="sha256")
    return Statement(
        predicate_type=LEGACY_PREDICATE_TYPE,
        subject_name="",
        root_digest="",
        serialization=serialization,
        resources=tuple(resources),
    ), problems


def _note_duplicate(name: str, seen: set[str], problems: list[Discrepancy]) -> None:
    """Record ``name`` as listed; a second listing is a problem (model_signing lets the last one win)."""
    if name in seen:
        problems.append(
            Discrepancy(reason=Reason.DUPLICATE_RESOURCE, path=name,
                        detail="the manifest lists this resource more than once")
        )
    seen.add(name)
