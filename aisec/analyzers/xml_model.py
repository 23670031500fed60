"""XML model formats (PMML, OpenVINO IR ``.xml``): DTD tricks, code in PMML extensions, OpenVINO custom layers.

Parsed with the standard library's expat, hardened as defusedxml does: a DOCTYPE or an entity declaration is
recorded and parsing stops before anything is expanded (no external entity is fetched, no billion-laughs
expansion happens), and parameter entities are never parsed. Only documents whose root is ``PMML`` or an
OpenVINO ``net`` are read; other XML is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from xml.parsers import expat

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.model import ArtifactKind, Fact
from aisec.source import Source

MAX_XML_BYTES = 256 * 1024 * 1024
"""Largest XML model parsed (OpenVINO keeps weights in the .bin beside it; PMML forests reach tens of MB)."""
_CODE = re.compile(r"__import__|\bimport\s+\w|\bexec\s*\(|\beval\s*\(|os\.system|subprocess|<script|"
                   r"Runtime\.getRuntime|ProcessBuilder|java\.lang\.|javascript:|\bjython\b", re.I)
"""Text in a PMML Extension that is code (Python, Java, script), not the data PMML producers annotate with."""
_LIBRARY = re.compile(r"\.(?:so(?:\.\d+)*|dll|dylib)$", re.I)
_OPSET = re.compile(r"opset\d+")


class _Stop(Exception):
    """Parsing stops at the first DTD declaration (nothing after it is expanded)."""


@dataclass
class _State:
    context: AnalysisContext
    facts: list[Fact] = field(default_factory=list)
    root: str | None = None
    extension_depth: int = 0
    extension_text: list[str] = field(default_factory=list)
    extension_name: str = ""
    line: int = 0


class XmlModelAnalyzer:
    """Reports DTDs and entities, code-bearing PMML extensions and OpenVINO custom layers and libraries."""

    name = "xml_model"
    kinds = frozenset({ArtifactKind.TEXT})
    provides: Mapping[str, str] = {
        "xml.dtd": "a DOCTYPE or ENTITY declaration in an XML model (value doctype, external_dtd, entity or "
                   "external_entity; "
                   "detail name, system_id): XXE and entity-expansion bombs",
        "pmml.extension_code": "a PMML Extension element whose attributes or text hold code (detail name)",
        "openvino.custom_layer": "an OpenVINO IR layer outside the standard opsets (value the layer type; "
                                 "detail version): it needs an extension library to load",
        "openvino.library": "an attribute of an OpenVINO IR naming a native library (.so/.dll/.dylib)",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Only XML whose first element is ``PMML`` or ``net`` (OpenVINO IR) is parsed."""
        head = source.head(4096)
        if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") or not re.search(rb"<(?:\w+:)?(?:PMML|net)\b",
                                                                                         head):
            return
        if source.size > MAX_XML_BYTES:
            context.error("limit", f"XML model larger than {MAX_XML_BYTES} bytes was not parsed",
                          limit="max_read_bytes")
            return
        state = _State(context=context)
        parser = expat.ParserCreate()
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = lambda name, sysid, pubid, internal: _dtd(state, parser, "doctype", name,
                                                                                  sysid)
        parser.EntityDeclHandler = lambda name, param, value, base, sysid, pubid, notation: _dtd(
            state, parser, "external_entity" if sysid else "entity", name, sysid)
        parser.ExternalEntityRefHandler = lambda ctx, base, sysid, pubid: _dtd(state, parser, "external_entity",
                                                                               ctx or "", sysid)
        parser.StartElementHandler = lambda tag, attrs: _start(state, parser, tag, attrs)
        parser.EndElementHandler = lambda tag: _end(state, tag)
        parser.CharacterDataHandler = lambda text: _text(state, text)
        try:
            parser.Parse(source.read_at(0, source.size), True)
        except _Stop:
            pass
        except (expat.ExpatError, LookupError, ValueError) as exc:  # LookupError: an unknown declared encoding
            raise AnalyzerError(f"XML model does not parse: {exc}") from None
        finally:
            yield from state.facts


def _local(tag: str) -> str:
    return tag.rsplit(":", 1)[-1].rsplit("}", 1)[-1]


def _dtd(state: _State, parser: expat.XMLParserType, kind: str, name: str | None, sysid: str | None) -> int:
    if kind == "doctype" and sysid:
        kind = "external_dtd"  # a permissive parser fetches it
    state.facts.append(state.context.fact("xml.dtd", kind, location=state.context.at(line=parser.CurrentLineNumber),
                                          name=(name or "")[:200], system_id=(sysid or "")[:300]))
    if kind in ("doctype", "external_dtd"):
        return 1  # the DOCTYPE line itself expands nothing; its entity declarations stop the parse
    raise _Stop


def _start(state: _State, parser: expat.XMLParserType, tag: str, attrs: dict[str, str]) -> None:
    name = _local(tag)
    if state.root is None:
        state.root = name
        if name not in ("PMML", "net"):
            raise _Stop
    where = state.context.at(line=parser.CurrentLineNumber)
    if state.root == "PMML" and (name == "Extension" or state.extension_depth):
        if name == "Extension" and not state.extension_depth:
            state.extension_name = attrs.get("name", "") or attrs.get("extender", "")
            state.line = parser.CurrentLineNumber
        state.extension_depth += 1
        state.extension_text.extend(attrs.values())
    if state.root == "net":
        for key, value in attrs.items():
            if _LIBRARY.search(value.strip()):
                state.facts.append(state.context.fact("openvino.library", value[:300], location=where,
                                                      attribute=key))
        if name == "layer":
            version = attrs.get("version", "")
            if version and not _OPSET.fullmatch(version):
                state.facts.append(state.context.fact("openvino.custom_layer", attrs.get("type", "?")[:100],
                                                      location=where, version=version[:100]))


def _end(state: _State, tag: str) -> None:
    if not state.extension_depth:
        return
    state.extension_depth -= 1
    if state.extension_depth == 0:
        text = " ".join(state.extension_text)
        match = _CODE.search(text)
        if match:
            state.facts.append(state.context.fact("pmml.extension_code", match.group(0)[:80],
                                                  location=state.context.at(line=state.line),
                                                  name=state.extension_name[:200], excerpt=text[:200]))
        state.extension_text.clear()


def _text(state: _State, text: str) -> None:
    if state.extension_depth and sum(len(t) for t in state.extension_text) < 1 << 20:
        state.extension_text.append(text)
