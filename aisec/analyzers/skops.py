"""skops ``.skops`` files: every type ``skops.io.load`` would construct or call, checked as skops itself checks it.

A ``.skops`` file is a zip whose ``schema.json`` describes the object tree; each node names a ``__loader__`` (the
node class skops builds it with) and a ``__module__``/``__class__`` that the loader imports and constructs or
calls. skops trusts, per loader, a fixed default list (``skops_trusted.py``, mirrored from skops' own source) and
refuses the rest unless the caller passes ``trusted=``; users often pass ``trusted=get_untrusted_types(...)``
unread. Every node dict in the schema is checked (a superset of the nodes skops visits), plus the names skops adds
for bound methods and ``numpy.random`` bit generators. Arrays are ``.npy`` members the zip analyzer analyses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.analyzers.skops_trusted import BIT_GENERATORS, DEFAULT_TRUSTED
from aisec.analyzers.zipread import MemberUnreadable, ZipMember, find_eocd, read_listing, read_member
from aisec.model import ArtifactKind, Fact
from aisec.source import Source
from aisec.strictjson import strict_json

SCHEMA = "schema.json"
MAX_SCHEMA_BYTES = 64 * 1024 * 1024
"""Largest schema.json read (a fitted forest's schema is a few MB; arrays live in .npy members)."""
MAX_NODES = 2_000_000
"""JSON values walked per schema."""


class SkopsAnalyzer:
    """Reports the types in a skops schema that skops' default trust would refuse to load."""

    name = "skops"
    kinds = frozenset({ArtifactKind.ZIP})
    provides: Mapping[str, str] = {
        "skops.untrusted_type": "a type skops.io.load would construct or call that its node loader does not trust "
                                "by default (detail loader; pointer into schema.json)",
        "skops.protocol": "the skops schema protocol of a .skops file (detail skops_version)",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Only zips with a top-level ``schema.json`` whose root is a skops node are skops files."""
        if source.head(4) != b"PK\x03\x04" and find_eocd(source) is None:
            return
        members = {m.name: m for m in read_listing(source, context.limits).members if not m.is_dir}
        if SCHEMA not in members:
            return
        data = _read(source, members[SCHEMA], context)
        try:
            schema = strict_json(data.decode("utf-8"), context.limits.max_json_depth)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            if b'"__loader__"' in data[:4096]:
                raise AnalyzerError(f"skops {SCHEMA} is not valid JSON: {exc}") from None
            return  # another zip that happens to carry a schema.json
        if not isinstance(schema, dict) or "__loader__" not in schema:
            return
        yield context.fact("skops.protocol", str(schema.get("protocol", "?"))[:20],
                           skops_version=str(schema.get("_skops_version", "?"))[:40])
        yield from _walk(schema, context)


def _read(source: Source, member: ZipMember, context: AnalysisContext) -> bytes:
    try:
        return read_member(source, member, limits=context.limits, cap=MAX_SCHEMA_BYTES)
    except MemberUnreadable as exc:
        raise AnalyzerError(f"skops {exc}") from None


def _walk(schema: dict[str, Any], context: AnalysisContext) -> Iterator[Fact]:
    stack: list[tuple[str, Any]] = [("", schema)]
    seen: set[tuple[str, str]] = set()
    visited = 0
    while stack:
        pointer, value = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise AnalyzerError(f"skops {SCHEMA} has more than {MAX_NODES} values")
        if isinstance(value, list):
            stack.extend((f"{pointer}/{i}", item) for i, item in reversed(list(enumerate(value))))
            continue
        if not isinstance(value, dict):
            continue
        if "__loader__" in value:
            for name, loader in _names(value, pointer, context):
                if (name, pointer) not in seen:
                    seen.add((name, pointer))
                    yield context.fact("skops.untrusted_type", name, location=context.at(
                        pointer=f"{SCHEMA}#{pointer or '/'}"), loader=loader)
        stack.extend((f"{pointer}/{_escape(str(k))}", v) for k, v in reversed(list(value.items())))


def _names(node: dict[str, Any], pointer: str, context: AnalysisContext) -> Iterator[tuple[str, str]]:
    """The untrusted names one node makes skops import: its own type, and what its loader adds."""
    loader = node["__loader__"]
    module, cls = node.get("__module__"), node.get("__class__")
    if not isinstance(loader, str) or not isinstance(module, str) or not isinstance(cls, str):
        raise AnalyzerError(f"skops node at {SCHEMA}#{pointer or '/'} has no string __loader__/__module__/__class__")
    trusted = DEFAULT_TRUSTED.get(loader)
    if trusted is None:
        # skops raises for a loader it does not know; a newer skops may know it and construct anything.
        context.error("unsupported", f"skops loader {loader[:80]!r} at {SCHEMA}#{pointer or '/'} is unknown to "
                      "this skops table: its type could not be judged", location=context.at(pointer=SCHEMA))
        yield f"{module}.{cls}", loader
        return
    if f"{module}.{cls}" not in trusted:
        yield f"{module}.{cls}", loader
    content = node.get("content")
    if loader == "MethodNode":
        owner = content.get("obj") if isinstance(content, dict) else None
        func = content.get("func") if isinstance(content, dict) else None
        if not isinstance(owner, dict) or not isinstance(func, str):
            raise AnalyzerError(f"skops MethodNode at {SCHEMA}#{pointer or '/'} has no obj/func")
        yield f"{owner.get('__module__')}.{owner.get('__class__')}.{func}", loader
    elif loader == "RandomGeneratorNode":
        name = _bit_generator(content)
        if name is None:
            raise AnalyzerError(f"skops RandomGeneratorNode at {SCHEMA}#{pointer or '/'} names no bit generator")
        if f"numpy.random.{name}" not in BIT_GENERATORS:
            yield f"numpy.random.{name}", loader


def _bit_generator(content: Any) -> str | None:
    """skops' ``_get_bit_generator_name``: ``content.bit_generator.content.bit_generator.content`` as JSON."""
    try:
        raw = content["bit_generator"]["content"]["bit_generator"]["content"]
        name = json.loads(raw)
    except (KeyError, TypeError, ValueError, RecursionError):
        return None
    return name if isinstance(name, str) else None


def _escape(key: str) -> str:
    """JSON-pointer escaping of one key."""
    return key.replace("~", "~0").replace("/", "~1")
