"""Zip and tar analyzers: hostile member names, links, bombs, structure quirks; members analyzed recursively."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import IO, TYPE_CHECKING, cast

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.members import BombError, SliceSource, inflate
from aisec.analyzers.pickle import PickleAnalyzer
from aisec.analyzers.torchscript import scan_code
from aisec.analyzers.zipread import METHODS, ZipMember, find_eocd, read_listing
from aisec.errors import LimitExceeded
from aisec.model import ArtifactKind, Fact
from aisec.sniff import classify_zip
from aisec.source import BytesSource, Source, buffered

if TYPE_CHECKING:
    import tarfile

_TENSOR_DATA = re.compile(r"^(?:[^/]*/)?data/\d+$")
_TORCHSCRIPT_CODE = re.compile(r"^(?:[^/]*/)?code/.+\.py$")
_LEGACY_TAR_RAW = frozenset({"storages", "tensors"})
_CRC_CHUNK = 4 * 1024 * 1024
MAX_CODE_BYTES = 4 * 1024 * 1024
"""Largest TorchScript source member scanned for dangerous ops."""

ARCHIVE_FACTS: Mapping[str, str] = {
    "archive.members": "number of members an archive lists",
    "archive.unsafe_path": "a member name that is absolute or climbs out of the extraction folder",
    "archive.link": "a symlink or hardlink member; detail 'target' is where it points",
    "archive.bomb": "a member or archive whose decompression passed max_compression_ratio or "
                    "max_decompressed_bytes",
    "archive.anomaly": "a structural quirk loaders tolerate but scanners may not: junk-prefix, name-mismatch, "
                       "bad-local-header, duplicate-name, no-central-directory, encrypted, "
                       "encryption-flag-on-clear-data, special-file",
    "torch.weights_only_hazard": "an opcode pattern behind a PyTorch weights_only unpickler bypass or "
                                 "memory-safety bug",
    "torchscript.archive": "the artifact is a TorchScript archive: loading it runs its code (torch.load with "
                           "weights_only=True ran it too before PyTorch 2.6, CVE-2025-32434)",
    "torchscript.op": "an operator or builtin TorchScript code in the archive calls",
}


def unsafe_name(name: str) -> str | None:
    """Why a member name could write outside the extraction folder, or ``None``."""
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        return "absolute"
    if ".." in PurePosixPath(text).parts:
        return "parent-traversal"
    return None


@dataclass(kw_only=True)
class _Budget:
    """Decompressed bytes spent on one archive (all members together)."""

    spent: int = 0
    storages: dict[str, tuple[int, str]] = field(default_factory=dict)


_ITEMSIZE = {"Double": 8, "Float": 4, "Half": 2, "BFloat16": 2, "Long": 8, "Int": 4, "Short": 2, "Char": 1,
             "Byte": 1, "Bool": 1, "ComplexFloat": 8, "ComplexDouble": 16, "QInt8": 1, "QUInt8": 1, "QInt32": 4,
             "Untyped": 1, "Float8_e4m3fn": 1, "Float8_e5m2": 1}


def _itemsize(dtype: str) -> int | None:
    base = dtype.rsplit(".", 1)[-1]
    return _ITEMSIZE.get(base[:-len("Storage")]) if base.endswith("Storage") else None


class ZipArchiveAnalyzer:
    """Zip containers (plain zip, PyTorch, TorchScript, .npz) read with the relaxed reader."""

    name = "zip"
    # BINARY and PICKLE too: a zip with junk (or a whole pickle) in front is still read by zipfile-based loaders.
    # KERAS_ZIP too: Keras reads only config.json and the weights, but extracts assets and the archive may
    # carry any other member; the Keras analyzer judges the config, this one every member.
    kinds = frozenset({ArtifactKind.ZIP, ArtifactKind.PYTORCH_ZIP, ArtifactKind.TORCHSCRIPT_ZIP, ArtifactKind.NPZ,
                       ArtifactKind.KERAS_ZIP, ArtifactKind.BINARY, ArtifactKind.PICKLE})
    provides = ARCHIVE_FACTS

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """List members, report hostile ones, analyze the rest recursively (never tensor data)."""
        if source.head(4) != b"PK\x03\x04" and find_eocd(source) is None:
            return  # a BINARY artifact that is not a zip with junk in front
        listing = read_listing(source, context.limits)
        if not listing.members:
            if source.head(2) == b"PK":
                context.error("malformed", "zip archive without readable members", location=context.at())
            return
        names = tuple(m.name for m in listing.members)
        layout = classify_zip(names)
        yield context.fact("archive.members", len(listing.members))
        for kind, text in listing.anomalies:
            yield context.fact("archive.anomaly", kind, description=text)
        if listing.truncated:
            context.error("limit", f"more than max_archive_members={context.limits.max_archive_members} members; "
                          "the rest was not analyzed", location=context.at(), limit="max_archive_members")
        torch_layout = layout in (ArtifactKind.PYTORCH_ZIP, ArtifactKind.TORCHSCRIPT_ZIP)
        if layout is ArtifactKind.TORCHSCRIPT_ZIP:
            yield context.fact("torchscript.archive", "torchscript")
        budget = _Budget()
        data_sizes: dict[str, int] = {}
        for member in listing.members:
            if torch_layout and _TENSOR_DATA.match(member.name):
                # Raw tensor bytes: torch never unpickles them, and reading them would cost the whole file.
                data_sizes[member.name.rsplit("/", 1)[-1]] = max(member.size, member.compressed_size) \
                    if member.method == 0 else member.size
                continue
            if layout is ArtifactKind.KERAS_ZIP and member.name == "config.json":
                continue  # the Keras analyzer reads this config from the archive itself
            yield from self._member(source, member, context, budget, torchscript=layout is
                                    ArtifactKind.TORCHSCRIPT_ZIP)
        yield from _storage_checks(budget, data_sizes, context)

    def _member(self, source: Source, member: ZipMember, context: AnalysisContext, budget: _Budget, *,
                torchscript: bool) -> Iterator[Fact]:
        location = context.at(pointer=member.name)
        reason = unsafe_name(member.name)
        if reason is not None:
            yield context.fact("archive.unsafe_path", member.name, location=location, reason=reason)
        if member.is_symlink:
            target = _read_small(source, member, context)
            yield context.fact("archive.link", member.name, location=location, type="symlink",
                               target=target.decode("utf-8", "replace") if target is not None else "")
            return
        if member.is_dir:
            return
        if member.data_offset is None:
            if member.encrypted:
                context.error("encrypted", f"member {member.name!r} is encrypted and has no readable local "
                              "header: it cannot be analyzed", location=location)
            return  # no usable local header: no loader can read this member either
        if member.encrypted:
            yield from self._flagged_encrypted(source, member, context, budget, torchscript=torchscript)
            return
        try:
            data = self._open(source, member, context, budget)
        except BombError as exc:
            yield from self._bomb(member, exc, context, budget)
            return
        if data is None:
            return
        yield from self._analyze_data(member, data, context, budget, torchscript=torchscript)

    def _bomb(self, member: ZipMember, exc: BombError, context: AnalysisContext, budget: _Budget) -> Iterator[Fact]:
        # Charged too: overlapping members that share one bomb kernel must exhaust the archive's budget.
        location = context.at(pointer=member.name)
        budget.spent += exc.produced
        context.error("limit", str(exc), location=location, limit=exc.limit)
        yield context.fact("archive.bomb", member.name, location=location, limit=exc.limit,
                           compressed=member.compressed_size, declared_size=member.size)

    def _flagged_encrypted(self, source: Source, member: ZipMember, context: AnalysisContext, budget: _Budget, *,
                           torchscript: bool) -> Iterator[Fact]:
        """The encryption flag is only a claim: loaders that ignore it (PyTorch's zip reader) read clear data.

        Data that decodes and matches the recorded CRC-32 is in clear and analyzed like any member; anything
        else really is encrypted, and a member that cannot be read cannot be vouched for (an incomplete scan).
        """
        location = context.at(pointer=member.name)
        trial = replace(context, errors=[])
        try:
            data = self._open(source, member, trial, budget)
        except BombError as exc:
            yield from self._bomb(member, exc, context, budget)
            return
        if data is not None and member.crc is not None and _crc32(data) == member.crc:
            context.errors.extend(trial.errors)
            yield context.fact("archive.anomaly", "encryption-flag-on-clear-data", location=location,
                               description=f"member {member.name!r} is flagged encrypted but stored in clear; "
                                           "loaders that ignore the flag read it, so it was analyzed")
            yield from self._analyze_data(member, data, context, budget, torchscript=torchscript)
            return
        yield context.fact("archive.anomaly", "encrypted", location=location,
                           description=f"member {member.name!r} is encrypted and could not be analyzed")
        context.error("encrypted", f"member {member.name!r} is encrypted: its content cannot be analyzed, so the "
                      "archive cannot be vouched for", location=location)

    def _analyze_data(self, member: ZipMember, data: Source, context: AnalysisContext, budget: _Budget, *,
                      torchscript: bool) -> Iterator[Fact]:
        if torchscript and _TORCHSCRIPT_CODE.match(member.name):
            yield from scan_code(data.read_at(0, MAX_CODE_BYTES), context.child(member.name))
            return
        for fact in context.analyze_member(member.name, data):
            if fact.key == "pickle.storage":
                budget.storages[str(fact.value)] = (int(fact.detail.get("numel", -1)),
                                                    str(fact.detail.get("dtype", "")))
            yield fact

    def _open(self, source: Source, member: ZipMember, context: AnalysisContext, budget: _Budget) -> Source | None:
        assert member.data_offset is not None
        method = METHODS.get(member.method)
        if method == "stored":
            return SliceSource(source, member.data_offset, member.compressed_size)
        if method is None:
            context.error("unsupported", f"member {member.name!r} uses compression method {member.method}",
                          location=context.at(pointer=member.name))
            return None
        cap = min(context.limits.max_read_bytes, context.limits.max_decompressed_bytes - budget.spent)
        try:
            result = inflate(source, member.data_offset, member.compressed_size, method, limits=context.limits,
                             cap=max(cap, 0), what=f"member {member.name!r}")
        except ValueError as exc:
            context.error("malformed", f"member {member.name!r}: {exc}", location=context.at(pointer=member.name))
            return None
        budget.spent += len(result.data)
        if len(result.data) >= cap and not result.complete:
            context.error("limit", f"member {member.name!r} decompresses past the remaining budget "
                          f"({cap} bytes)", location=context.at(pointer=member.name), limit="max_decompressed_bytes")
        return BytesSource(result.data, budget=context.limits.max_read_bytes)


def _crc32(data: Source) -> int:
    crc = 0
    for start in range(0, data.size, _CRC_CHUNK):
        crc = zlib.crc32(data.read_at(start, min(_CRC_CHUNK, data.size - start)), crc)
    return crc


def _read_small(source: Source, member: ZipMember, context: AnalysisContext) -> bytes | None:
    if member.data_offset is None or member.compressed_size > 4096:
        return None
    if member.method == 0:
        return source.read_at(member.data_offset, member.compressed_size)
    try:
        return inflate(source, member.data_offset, member.compressed_size, METHODS.get(member.method, "deflate"),
                       limits=context.limits, cap=4096, what=member.name).data
    except (ValueError, LimitExceeded):
        return None


def _storage_checks(budget: _Budget, data_sizes: dict[str, int], context: AnalysisContext) -> Iterator[Fact]:
    """A storage whose declared element count disagrees with its data member (pytorch/pytorch#170085)."""
    for key, (numel, dtype) in sorted(budget.storages.items()):
        size = data_sizes.get(key)
        itemsize = _itemsize(dtype)
        if size is None or itemsize is None or numel < 0:
            continue
        if numel * itemsize > size:
            yield context.fact("torch.weights_only_hazard", "storage-size-mismatch",
                               location=context.at(pointer=f"data/{key}"), storage=key, numel=numel,
                               member_bytes=size)


class TarArchiveAnalyzer:
    """Tar archives (plain, legacy torch.save tar checkpoints); never extracts anything."""

    name = "tar"
    kinds = frozenset({ArtifactKind.TAR})
    provides = ARCHIVE_FACTS

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Read headers with ``tarfile`` (headers only: member data stays on disk until analyzed)."""
        import tarfile  # with shutil, bz2, lzma behind it: a zip or pickle scan (this module) does not need it

        stream = buffered(source)
        try:
            archive = tarfile.TarFile(fileobj=cast(IO[bytes], stream), mode="r")
        except tarfile.TarError as exc:
            context.error("malformed", f"tar archive cannot be read: {exc}", location=context.at())
            return
        count = 0
        infos: list[tarfile.TarInfo] = []
        try:
            while True:
                info = archive.next()
                if info is None:
                    break
                count += 1
                if count > context.limits.max_archive_members:
                    context.error("limit", f"more than max_archive_members={context.limits.max_archive_members} "
                                  "members; the rest was not analyzed", location=context.at(),
                                  limit="max_archive_members")
                    break
                infos.append(info)
                archive.members.clear()  # type: ignore[attr-defined]  # tarfile keeps every header otherwise
        except tarfile.TarError as exc:
            context.error("malformed", f"tar archive is malformed after {count} members: {exc}",
                          location=context.at())
        yield context.fact("archive.members", len(infos))
        legacy_torch = {i.name for i in infos} >= {"sys_info", "pickle", "storages", "tensors"}
        for info in infos:
            yield from self._member(source, info, context, legacy_torch)

    def _member(self, source: Source, info: tarfile.TarInfo, context: AnalysisContext,
                legacy_torch: bool) -> Iterator[Fact]:
        location = context.at(pointer=info.name)
        reason = unsafe_name(info.name)
        if reason is not None:
            yield context.fact("archive.unsafe_path", info.name, location=location, reason=reason)
        if info.issym() or info.islnk():
            yield context.fact("archive.link", info.name, location=location,
                               type="symlink" if info.issym() else "hardlink", target=info.linkname)
            target_reason = unsafe_name(info.linkname)
            if target_reason is not None:
                yield context.fact("archive.unsafe_path", info.linkname, location=location,
                                   reason=f"link-{target_reason}")
            return
        if info.ischr() or info.isblk() or info.isfifo():
            yield context.fact("archive.anomaly", "special-file", location=location,
                               description=f"member {info.name!r} is a device or FIFO")
            return
        if not info.isfile():
            return
        data = SliceSource(source, info.offset_data, info.size)
        if legacy_torch and info.name in _LEGACY_TAR_RAW:
            # torch reads one pickle (a count) and then raw storage/tensor records it parses itself.
            yield from PickleAnalyzer().analyze_streams(data, context.child(info.name), max_streams=1)
            return
        yield from context.analyze_member(info.name, data)

