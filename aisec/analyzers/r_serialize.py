"""R serialized data (``.rds``, ``.rda``/``.RData``): the objects that run code on or after ``readRDS``/``load``.

R's ``unserialize`` (src/main/serialize.c, ``ReadItem``) rebuilds a tree of SEXPs. Promises (PROMSXP) are
evaluated the first time the value is used (CVE-2024-27322), active bindings call a function whenever a variable
is read, closures and bytecode are functions the object carries, and language objects name what they call. The
stream is walked with a bounded reader (depth, item count, lengths checked against the bytes left); nothing is
evaluated. gzip/bzip2/xz wrappers are opened by the compressed analyzer, which hands the inner stream here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.model import ArtifactKind, Fact
from aisec.source import Source

MAX_ITEMS = 5_000_000
"""SEXPs read per stream (each costs at least four bytes)."""
MAX_DEPTH = 400
"""Nesting of non-pairlist items (pairlist tails are followed in a loop, not by recursion)."""
_RDA_PREFIXES = (b"RDX2\n", b"RDX3\n", b"RDB2\n", b"RDB3\n")
_ASCII_PREFIXES = (b"A\n", b"RDA2\nA\n", b"RDA3\nA\n")
# SEXP types (Rinternals.h) and serialize.c's special codes.
NILSXP, SYMSXP, LISTSXP, CLOSXP, ENVSXP, PROMSXP, LANGSXP, SPECIALSXP, BUILTINSXP, CHARSXP = range(10)
LGLSXP, INTSXP, REALSXP, CPLXSXP, STRSXP, DOTSXP = 10, 13, 14, 15, 16, 17
VECSXP, EXPRSXP, BCODESXP, EXTPTRSXP, WEAKREFSXP, RAWSXP, S4SXP = 19, 20, 21, 22, 23, 24, 25
REFSXP, NILVALUE_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP, MISSINGARG_SXP, BASENAMESPACE_SXP = 255, 254, 253, 252, 251, 250
NAMESPACESXP, PACKAGESXP, PERSISTSXP, CLASSREFSXP, GENERICREFSXP, BCREPDEF = 249, 248, 247, 246, 245, 244
EMPTYENV_SXP, BASEENV_SXP, ATTRLANGSXP, ATTRLISTSXP, ALTREP_SXP = 242, 241, 240, 239, 238
_PAIRLISTS = frozenset({LISTSXP, LANGSXP, CLOSXP, PROMSXP, DOTSXP, ATTRLANGSXP, ATTRLISTSXP})
_CONSTANTS = frozenset({NILVALUE_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP, MISSINGARG_SXP, BASENAMESPACE_SXP,
                        EMPTYENV_SXP, BASEENV_SXP, CLASSREFSXP, GENERICREFSXP})
_WIDTH = {LGLSXP: 4, INTSXP: 4, REALSXP: 8, CPLXSXP: 16, RAWSXP: 1}
_ACTIVE_BINDING = 1 << 15
"""``ACTIVE_BINDING_MASK`` in a frame cell's levels (serialize.c packs levels above bit 12 of the flags)."""
_KIND = {PROMSXP: "promise", CLOSXP: "closure", BCODESXP: "bytecode"}


@dataclass
class _Reader:
    data: bytes
    pos: int
    big: bool
    context: AnalysisContext
    facts: list[Fact] = field(default_factory=list)
    refs: int = 0
    items: int = 0
    path: list[str] = field(default_factory=list)

    def i32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise AnalyzerError(f"R stream ends inside an integer at byte {self.pos}")
        (value,) = struct.unpack_from(">i" if self.big else "<i", self.data, self.pos)
        self.pos += 4
        return int(value)

    def skip(self, count: int, width: int) -> bytes:
        size = count * width
        if count < 0 or self.pos + size > len(self.data):
            raise AnalyzerError(f"R vector of {count} items at byte {self.pos} runs past the end of the stream")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def length(self) -> int:
        value = self.i32()
        if value == -1:  # a long vector: two more ints
            upper, lower = self.i32(), self.i32()
            value = (upper << 32) + (lower & 0xFFFFFFFF)
        if value < 0:
            raise AnalyzerError(f"negative R length {value} at byte {self.pos}")
        return value

    def report(self, key: str, value: str, **detail: str | int) -> None:
        self.facts.append(self.context.fact(key, value, location=self.context.at(
            offset=self.pos, pointer="/" + "/".join(self.path[-8:])), **detail))

    def item(self, depth: int) -> str | None:
        """Read one SEXP; return a symbol's or CHARSXP's text (for tags and call names), else None."""
        if depth > MAX_DEPTH:
            raise AnalyzerError(f"R object nested deeper than {MAX_DEPTH}")
        self.items += 1
        if self.items > MAX_ITEMS:
            raise AnalyzerError(f"R stream has more than {MAX_ITEMS} objects")
        start = self.pos
        flags = self.i32()
        kind = flags & 0xFF
        if kind in _CONSTANTS:
            return None
        if kind == REFSXP:
            index = flags >> 8 or self.i32()
            if not 0 < index <= self.refs:
                raise AnalyzerError(f"R reference {index} at byte {start} names no earlier object")
            return None
        if kind in (PERSISTSXP, NAMESPACESXP, PACKAGESXP):
            if self.i32() != 0:
                raise AnalyzerError(f"R persistent name at byte {start} is not a string vector")
            names = [self.item(depth + 1) for _ in range(self.length())]
            self.refs += 1
            return ":".join(n or "" for n in names)
        if kind == SYMSXP:
            name = self.item(depth + 1)
            self.refs += 1
            return name
        if kind in _PAIRLISTS:
            self.pairlist(flags, depth)
            return None
        if kind == ENVSXP:
            self.refs += 1
            self.i32()  # locked
            for part in ("enclos", "frame", "hashtab", "attrib"):
                self.path.append(part)
                self.item(depth + 1)
                self.path.pop()
            return None
        if kind in (SPECIALSXP, BUILTINSXP):
            return self.skip(self.i32(), 1).decode("latin-1")
        if kind == CHARSXP:
            size = self.i32()
            return None if size == -1 else self.skip(size, 1).decode("utf-8", "replace")
        if kind in _WIDTH:
            self.skip(self.length(), _WIDTH[kind])
        elif kind in (STRSXP, VECSXP, EXPRSXP):
            for index in range(self.length()):
                self.path.append(str(index))
                self.item(depth + 1)
                self.path.pop()
        elif kind == BCODESXP:
            self.report("r.executable", "bytecode")
            raise _Unwalkable("compiled bytecode: the rest of the stream was not walked")
        elif kind == EXTPTRSXP:
            self.refs += 1
            self.report("r.external_pointer", "external pointer")
            self.item(depth + 1)
            self.item(depth + 1)
        elif kind == WEAKREFSXP:
            self.refs += 1
        elif kind == ALTREP_SXP:
            for _ in range(3):
                self.item(depth + 1)
            return None
        elif kind == S4SXP:
            pass
        else:
            raise AnalyzerError(f"unknown R object type {kind} at byte {start}")
        if flags & (1 << 9):
            self.path.append("attributes")
            self.item(depth + 1)
            self.path.pop()
        return None

    def pairlist(self, flags: int, depth: int) -> None:
        """A pairlist, language object, closure or promise and the cells of its tail, followed in a loop."""
        while True:
            kind, levels = flags & 0xFF, flags >> 12
            if kind in (ATTRLANGSXP, ATTRLISTSXP):
                kind, flags = (LANGSXP if kind == ATTRLANGSXP else LISTSXP), flags | (1 << 9)
            if flags & (1 << 9):
                self.path.append("attributes")
                self.item(depth + 1)
                self.path.pop()
            tag = self.item(depth + 1) if flags & (1 << 10) else None
            if kind in _KIND:
                self.report("r.executable", _KIND[kind], binding=tag or "")
            if kind == LISTSXP and levels & _ACTIVE_BINDING:
                self.report("r.executable", "active_binding", binding=tag or "")
            self.path.append(tag or kind_name(kind))
            head = self.item(depth + 1)
            if kind == LANGSXP and head:
                self.report("r.call", head)
            # The CDR: loop on a pairlist cell instead of recursing (long pairlists are common).
            mark = self.pos
            next_flags = self.i32()
            self.path.pop()
            if next_flags & 0xFF in (LISTSXP, LANGSXP, DOTSXP, ATTRLISTSXP, ATTRLANGSXP):
                self.items += 1
                flags = next_flags
                continue
            self.pos = mark
            self.item(depth + 1)
            return


class _Unwalkable(Exception):
    """The walk cannot continue past this point (bytecode needs serialize.c's ReadBC to skip)."""


def kind_name(kind: int) -> str:
    """A path element for an untagged cell."""
    return {LANGSXP: "call", CLOSXP: "closure", PROMSXP: "promise"}.get(kind, "cell")


class RSerializeAnalyzer:
    """Walks R's serialization format and reports promises, closures, bytecode, active bindings and calls."""

    name = "r_serialize"
    kinds = frozenset({ArtifactKind.BINARY, ArtifactKind.TEXT})
    provides: Mapping[str, str] = {
        "r.format": "an R serialization stream (xdr, binary, ascii; detail version and whether it is a save() "
                    "workspace)",
        "r.executable": "an R object that runs code: promise (evaluated on first use), active_binding (a "
                        "function called when a variable is read), closure, bytecode; detail binding",
        "r.call": "the function a language object (call) names, e.g. system in quote(system('id'))",
        "r.external_pointer": "an external pointer (a native address; NULL after loading)",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """R streams start with ``X\\n``/``B\\n``/``A\\n``, optionally after ``RDX2``/``RDX3`` (save() files)."""
        head = source.head(16)
        workspace = head.startswith((*_RDA_PREFIXES, b"RDA2\n", b"RDA3\n"))
        body = head[5:] if workspace else head
        if not body.startswith((b"X\n", b"B\n", b"A\n")) or len(body) < 6:
            return
        if head.startswith(_ASCII_PREFIXES):
            if body[2:3] in (b"2", b"3"):
                yield context.fact("r.format", "ascii", workspace=workspace)
                context.error("unsupported", "R ASCII serialization is not walked: promises and closures in it "
                              "were not checked", location=context.at(offset=0))
            return
        data = source.read_at(0, source.size)
        start = (5 if workspace else 0) + 2
        big = body.startswith(b"X\n")
        reader = _Reader(data=data, pos=start, big=big, context=context)
        version = reader.i32()
        if version not in (2, 3):
            return  # two bytes that merely look like a header
        reader.i32()  # writer R version
        reader.i32()  # minimal reader version
        if version == 3:
            reader.skip(reader.i32(), 1)  # native encoding name
        yield context.fact("r.format", "xdr" if big else "binary", version=version, workspace=workspace)
        walked = True
        try:
            reader.item(0)
        except _Unwalkable as exc:
            context.error("unsupported", f"R stream: {exc}", location=context.at(offset=reader.pos))
            walked = False
        except RecursionError:
            raise AnalyzerError("R object nested too deeply to walk") from None
        finally:
            yield from reader.facts
            reader.facts.clear()
        if walked and reader.pos < len(data):
            context.error("malformed", f"{len(data) - reader.pos} bytes follow the R object and were not walked",
                          location=context.at(offset=reader.pos))
