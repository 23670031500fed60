"""Native executables among model files (ELF, PE, Mach-O, Actually Portable Executables such as llamafile).

An executable is not a model: whoever "loads" it runs it. llamafile ships the weights inside the program, as a
GGUF stored in the zip that an APE binary ends with (the zip analyzer reads those members); other tools append a
GGUF after the program image. The headers are parsed to find where the image ends; a GGUF there (or a GGUF member
of the trailing zip) is reported and analysed like any GGUF file. Nothing is run.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.analyzers.members import SliceSource
from aisec.analyzers.zipread import find_eocd, read_listing
from aisec.model import ArtifactKind, Fact
from aisec.source import Source

APE_MAGIC = b"MZqFpD"
"""Actually Portable Executable (cosmopolitan, llamafile): a PE/DOS header that is also a shell script."""
_MACHO = {b"\xfe\xed\xfa\xce": (">", 28), b"\xce\xfa\xed\xfe": ("<", 28), b"\xfe\xed\xfa\xcf": (">", 32),
          b"\xcf\xfa\xed\xfe": ("<", 32)}
MAX_HEADERS = 4096
"""Program headers, sections or load commands read per executable (real binaries have tens)."""
OVERLAY_WINDOW = 1024 * 1024
"""How far past the end of the program image an appended GGUF is looked for."""
_GGUF_VERSIONS = frozenset({1, 2, 3})


@dataclass(frozen=True, kw_only=True)
class Image:
    """What the headers say: the format and where the program image ends (data after it is an overlay)."""

    format: str
    end: int


class ExecutableAnalyzer:
    """Reports native executables and analyses a GGUF appended to one or stored in its trailing zip."""

    name = "executable"
    kinds = frozenset({ArtifactKind.BINARY})
    provides: Mapping[str, str] = {
        "executable.format": "the artifact is a native executable: elf, pe, macho or ape (Actually Portable "
                             "Executable, as llamafile is); detail image_end is where its program image ends",
        "executable.embedded_model": "model weights carried inside an executable: gguf (appended after the image, "
                                     "detail offset) or a zip member (detail member) such as llamafile's GGUF",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Only files whose headers parse as ELF, PE or Mach-O are read further."""
        head = source.head(64)
        kind = _format(head)
        if kind is None or (kind == "pe" and not _pe_signature(source)):
            return  # a bare "MZ" is not enough: data can start with it
        try:
            image = _image(source, kind)
        except (struct.error, ValueError) as exc:
            # The magic says "program", the headers do not parse: report it, and say the rest was not analysed.
            yield context.fact("executable.format", kind, image_end=-1)
            raise AnalyzerError(f"{kind} headers cannot be parsed ({exc}); embedded weights were not looked "
                                "for") from None
        yield context.fact("executable.format", image.format, image_end=image.end)
        if image.end > source.size:
            context.error("malformed", f"the {image.format} headers place the program image up to byte {image.end}, "
                          f"past the end of the file ({source.size} bytes): truncated or forged headers",
                          location=context.at())
        spans: list[tuple[int, int]] = []
        yield from self._zip_weights(source, context, spans)
        yield from self._appended(source, image, context, spans)

    def _zip_weights(self, source: Source, context: AnalysisContext, spans: list[tuple[int, int]],
                     ) -> Iterator[Fact]:
        """GGUF members of a trailing zip (llamafile); the zip analyzer analyses every member itself.

        ``spans`` receives every member's data range: a GGUF there is a member, not an appended model."""
        if find_eocd(source) is None:
            return
        for member in read_listing(source, context.limits).members:
            if member.data_offset is not None:
                spans.append((member.data_offset, member.data_offset + member.compressed_size))
            stored_gguf = member.method == 0 and member.data_offset is not None and member.size >= 8 and \
                source.read_at(member.data_offset, 4) == b"GGUF"
            if stored_gguf or member.name.lower().endswith(".gguf"):
                yield context.fact("executable.embedded_model", "gguf", location=context.at(pointer=member.name),
                                   member=member.name, where=f"zip member {member.name}")

    def _appended(self, source: Source, image: Image, context: AnalysisContext, spans: list[tuple[int, int]],
                  ) -> Iterator[Fact]:
        if image.end >= source.size:
            return
        window = source.read_at(image.end, min(OVERLAY_WINDOW, source.size - image.end))
        start = 0
        while True:
            found = window.find(b"GGUF", start)
            if found < 0:
                return
            version = window[found + 4:found + 8]
            inside = any(lo <= image.end + found < hi for lo, hi in spans)
            if not inside and len(version) == 4 and (struct.unpack("<I", version)[0] in _GGUF_VERSIONS or
                                      struct.unpack(">I", version)[0] in _GGUF_VERSIONS):
                offset = image.end + found
                yield context.fact("executable.embedded_model", "gguf", location=context.at(offset=offset),
                                   offset=offset, where=f"appended at offset {offset}")
                yield from context.analyze_member(f"@{offset}.gguf", SliceSource(source, offset,
                                                                                 source.size - offset))
                return
            start = found + 1


def _format(head: bytes) -> str | None:
    if head.startswith(b"\x7fELF") and len(head) >= 20 and head[4] in (1, 2) and head[5] in (1, 2):
        return "elf"
    if head.startswith(APE_MAGIC):
        return "ape"
    if head.startswith(b"MZ") and len(head) >= 64:
        return "pe"  # confirmed by the PE signature in _image; a bare "MZ" is not enough
    if head[:4] in _MACHO:
        return "macho"
    return None


def _image(source: Source, kind: str) -> Image:
    if kind == "elf":
        return Image(format="elf", end=_elf_end(source))
    if kind == "macho":
        return Image(format="macho", end=_macho_end(source))
    return Image(format=kind, end=_pe_end(source))


def _elf_end(source: Source) -> int:
    ident = source.read_at(0, 64)
    wide = ident[4] == 2
    e = "<" if ident[5] == 1 else ">"
    if wide:
        phoff, shoff = struct.unpack_from(e + "QQ", ident, 32)
        ehsize, phentsize, phnum, shentsize, shnum = struct.unpack_from(e + "HHHHH", ident, 52)
    else:
        phoff, shoff = struct.unpack_from(e + "II", ident, 28)
        ehsize, phentsize, phnum, shentsize, shnum = struct.unpack_from(e + "HHHHH", ident, 40)
    end = ehsize
    if phnum > MAX_HEADERS or shnum > MAX_HEADERS:
        raise ValueError("more program headers or sections than MAX_HEADERS")
    if phnum:
        if phentsize < (56 if wide else 32):
            raise ValueError("program header entries too small")
        table = _table(source, phoff, phentsize, phnum)
        end = max(end, phoff + phentsize * phnum)
        for i in range(phnum):
            if wide:
                offset, filesz = struct.unpack_from(e + "Q16xQ", table, i * phentsize + 8)
            else:
                offset, filesz = struct.unpack_from(e + "I8xI", table, i * phentsize + 4)
            end = max(end, offset + filesz)
    if shnum:
        if shentsize < (64 if wide else 40):
            raise ValueError("section header entries too small")
        table = _table(source, shoff, shentsize, shnum)
        end = max(end, shoff + shentsize * shnum)
        for i in range(shnum):
            if wide:
                sh_type, offset, size = struct.unpack_from(e + "I16xQQ", table, i * shentsize + 4)
            else:
                sh_type, offset, size = struct.unpack_from(e + "I8xII", table, i * shentsize + 4)
            if sh_type != 8:  # SHT_NOBITS (.bss) occupies no file bytes
                end = max(end, offset + size)
    return int(end)


def _pe_signature(source: Source) -> bool:
    (lfanew,) = struct.unpack_from("<I", source.read_at(0, 64), 0x3C)
    return lfanew < source.size and source.read_at(lfanew, 4) == b"PE\0\0"


def _pe_end(source: Source) -> int:
    dos = source.read_at(0, 64)
    (lfanew,) = struct.unpack_from("<I", dos, 0x3C)
    header = source.read_at(lfanew, 24) if lfanew < source.size else b""
    if len(header) < 24 or header[:4] != b"PE\0\0":
        raise ValueError("no PE signature where e_lfanew points")
    sections, optional = struct.unpack_from("<H12xH", header, 6)
    if sections > MAX_HEADERS:
        raise ValueError("more sections than MAX_HEADERS")
    first = lfanew + 24 + optional
    table = _table(source, first, 40, sections)
    end = first + 40 * sections
    for i in range(sections):
        size, pointer = struct.unpack_from("<II", table, i * 40 + 16)
        end = max(end, pointer + size)
    return int(end)


def _macho_end(source: Source) -> int:
    e, header_size = _MACHO[source.read_at(0, 4)]
    ncmds, sizeofcmds = struct.unpack_from(e + "II", source.read_at(0, header_size), 16)
    if ncmds > MAX_HEADERS or sizeofcmds > MAX_HEADERS * 1024:
        raise ValueError("more load commands than MAX_HEADERS")
    commands = _table(source, header_size, 1, sizeofcmds)
    end = header_size + sizeofcmds
    pos = 0
    for _ in range(ncmds):
        cmd, size = struct.unpack_from(e + "II", commands, pos)
        if size < 8 or pos + size > len(commands):
            raise ValueError("load command runs past sizeofcmds")
        if cmd == 0x19:  # LC_SEGMENT_64
            fileoff, filesize = struct.unpack_from(e + "QQ", commands, pos + 40)
            end = max(end, fileoff + filesize)
        elif cmd == 0x1:  # LC_SEGMENT
            fileoff, filesize = struct.unpack_from(e + "II", commands, pos + 32)
            end = max(end, fileoff + filesize)
        pos += size
    return int(end)


def _table(source: Source, offset: int, entry: int, count: int) -> bytes:
    data = source.read_at(offset, entry * count) if offset < source.size else b""
    if len(data) < entry * count:
        raise ValueError(f"header table at {offset} runs past the end of the file")
    return data
