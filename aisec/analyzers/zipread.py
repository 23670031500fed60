"""A relaxed zip reader: lists members from the central directory or, failing that, from local headers.

It reads what a lenient loader would read: a bad CRC, unusual flag bits, a local/central name mismatch or
junk before the archive are recorded as anomalies, not errors. Only the directory and the members asked
for are read; member data is never touched while listing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from aisec.analyzers.members import BombError, CorruptData, inflate
from aisec.errors import LimitExceeded
from aisec.limits import Limits
from aisec.source import Source

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_DESCRIPTOR = b"PK\x07\x08"
_TAIL_WINDOW = 65_535 + 22 + 20
_LOCAL_SCAN_WINDOW = 1024 * 1024
METHODS = {0: "stored", 8: "deflate", 12: "bzip2", 14: "lzma-zip", 93: "zstd"}
S_IFLNK = 0o120000


@dataclass(frozen=True, kw_only=True)
class ZipMember:
    """One member as the central directory (or its local header) describes it."""

    name: str
    method: int
    flags: int
    compressed_size: int
    size: int
    header_offset: int
    """Offset of the local header, already shifted by any junk before the archive."""
    external_attr: int = 0
    create_system: int = 0
    data_offset: int | None = None
    """Where the member's data starts (from its local header), ``None`` if the local header is unusable."""
    local_name: str | None = None
    crc: int | None = None
    """CRC-32 of the uncompressed data, as the directory (or local header) records it."""

    @property
    def is_dir(self) -> bool:
        """Directory entries carry no data."""
        return self.name.endswith("/")

    @property
    def is_symlink(self) -> bool:
        """Unix symlink members (the data is the link target)."""
        return self.create_system == 3 and (self.external_attr >> 16) & 0o170000 == S_IFLNK

    @property
    def encrypted(self) -> bool:
        """General-purpose flag bit 0."""
        return bool(self.flags & 1)


@dataclass(kw_only=True)
class ZipListing:
    """Every member found, plus what was odd about the archive."""

    members: list[ZipMember] = field(default_factory=list)
    anomalies: list[tuple[str, str]] = field(default_factory=list)
    """(kind, description) pairs: junk-prefix, name-mismatch, bad-local-header, no-central-directory …"""
    truncated: bool = False
    """True when more than ``max_archive_members`` members exist."""


def _decode_name(raw: bytes, flags: int) -> str:
    if flags & 0x800:
        return raw.decode("utf-8", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def find_eocd(source: Source) -> int | None:
    """Offset of the end-of-central-directory record, searching the tail like every zip reader."""
    start = max(0, source.size - _TAIL_WINDOW)
    tail = source.read_at(start, source.size - start)
    pos = tail.rfind(_EOCD)
    while pos >= 0:
        if len(tail) - pos >= 22:
            return start + pos
        pos = tail.rfind(_EOCD, 0, pos)
    return None


def read_listing(source: Source, limits: Limits) -> ZipListing:
    """List members; never raises for structural oddities (they become anomalies)."""
    listing = ZipListing()
    eocd = find_eocd(source)
    if eocd is not None:
        try:
            _from_central(source, eocd, limits, listing)
        except (ValueError, struct.error) as exc:
            listing.anomalies.append(("bad-central-directory", str(exc)))
            listing.members.clear()
    if not listing.members:
        if eocd is None:
            listing.anomalies.append(("no-central-directory", "no end-of-central-directory record; members "
                                      "were listed from local headers"))
        _from_local_headers(source, limits, listing)
    return listing


def _from_central(source: Source, eocd: int, limits: Limits, listing: ZipListing) -> None:
    rec = source.read_at(eocd, 22)
    (_sig, _disk, _cd_disk, _n_here, n_total, cd_size, cd_offset, _clen) = struct.unpack("<4sHHHHIIH", rec)
    # A zip64 locator right before the EOCD means the zip64 record holds the real counts (torch always
    # writes one); the central directory then ends where that record starts.
    loc = source.read_at(eocd - 20, 20) if eocd >= 20 else b""
    if loc[:4] == _EOCD64_LOCATOR:
        (z64_off,) = struct.unpack("<Q", loc[8:16])
        for candidate in (z64_off, eocd - 20 - 56):
            z64 = source.read_at(candidate, 56) if candidate >= 0 else b""
            if z64[:4] == _EOCD64 and len(z64) == 56:
                n_total, cd_size, cd_offset = struct.unpack("<QQQ", z64[32:56])
                eocd = candidate
                break
    cd_start = eocd - cd_size
    if cd_start < 0:
        raise ValueError("central directory size points before the start of the file")
    prefix = cd_start - cd_offset
    if prefix > 0:
        listing.anomalies.append(("junk-prefix", f"{prefix} bytes before the archive"))
    elif prefix < 0:
        raise ValueError("central directory offset points past its real position")
    if cd_size > limits.max_header_bytes:
        raise LimitExceeded("max_header_bytes", limits.max_header_bytes, "zip central directory larger than "
                            f"max_header_bytes={limits.max_header_bytes}")
    data = source.read_at(cd_start, cd_size)
    pos = 0
    seen: set[str] = set()
    while pos + 46 <= len(data) and data[pos:pos + 4] == _CENTRAL:
        if len(listing.members) >= limits.max_archive_members:
            listing.truncated = True
            break
        (made_by, _need, flags, method, _t, _d, crc, csize, usize, nlen, elen, clen, _disk, _iattr, eattr,
         offset) = struct.unpack("<HHHHHHIIIHHHHHII", data[pos + 4:pos + 46])
        raw_name = data[pos + 46:pos + 46 + nlen]
        extra = data[pos + 46 + nlen:pos + 46 + nlen + elen]
        usize, csize, offset = _zip64(extra, usize, csize, offset)
        name = _decode_name(raw_name, flags)
        if name in seen:
            listing.anomalies.append(("duplicate-name", f"member {name!r} appears more than once"))
        seen.add(name)
        member = ZipMember(name=name, method=method, flags=flags, compressed_size=csize, size=usize,
                           header_offset=offset + prefix, external_attr=eattr, create_system=made_by >> 8,
                           crc=crc)
        listing.members.append(_with_local(source, member, listing))
        pos += 46 + nlen + elen + clen
    if len(listing.members) < n_total and not listing.truncated:
        listing.anomalies.append(("short-central-directory", f"central directory lists {len(listing.members)} "
                                  f"of {n_total} members"))


def _zip64(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[pos:pos + 4])
        body = extra[pos + 4:pos + 4 + size]
        if tag == 1:
            fields = [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
            if usize == 0xFFFFFFFF and fields:
                usize = fields.pop(0)
            if csize == 0xFFFFFFFF and fields:
                csize = fields.pop(0)
            if offset == 0xFFFFFFFF and fields:
                offset = fields.pop(0)
        pos += 4 + size
    return usize, csize, offset


def _with_local(source: Source, member: ZipMember, listing: ZipListing) -> ZipMember:
    head = source.read_at(member.header_offset, 30)
    if len(head) < 30 or head[:4] != _LOCAL:
        listing.anomalies.append(("bad-local-header", f"member {member.name!r}: no local header at "
                                  f"{member.header_offset}"))
        return member
    nlen, elen = struct.unpack("<HH", head[26:30])
    raw = source.read_at(member.header_offset + 30, nlen)
    flags = struct.unpack("<H", head[6:8])[0]
    local_name = _decode_name(raw, flags)
    if local_name != member.name:
        listing.anomalies.append(("name-mismatch", f"central directory says {member.name!r}, local header "
                                  f"says {local_name!r}"))
    return ZipMember(name=member.name, method=member.method, flags=member.flags,
                     compressed_size=member.compressed_size, size=member.size,
                     header_offset=member.header_offset, external_attr=member.external_attr,
                     create_system=member.create_system, data_offset=member.header_offset + 30 + nlen + elen,
                     local_name=local_name, crc=member.crc)


def _from_local_headers(source: Source, limits: Limits, listing: ZipListing) -> None:
    """Walk local headers from the first one found; sizes come from the headers or data descriptors."""
    window = source.read_at(0, min(source.size, _LOCAL_SCAN_WINDOW))
    pos = window.find(_LOCAL)
    if pos < 0:
        return
    if pos > 0:
        listing.anomalies.append(("junk-prefix", f"{pos} bytes before the first local header"))
    while pos + 30 <= source.size:
        head = source.read_at(pos, 30)
        if head[:4] != _LOCAL:
            break
        if len(listing.members) >= limits.max_archive_members:
            listing.truncated = True
            break
        (_need, flags, method, _t, _d, crc, csize, usize, nlen, elen) = struct.unpack("<HHHHHIIIHH", head[4:30])
        raw = source.read_at(pos + 30, nlen)
        extra = source.read_at(pos + 30 + nlen, elen)
        usize, csize, _ = _zip64(extra, usize, csize, 0)
        data_offset = pos + 30 + nlen + elen
        if flags & 0x8 and csize == 0:
            csize = _find_data_end(source, data_offset) - data_offset
        name = _decode_name(raw, flags)
        listing.members.append(ZipMember(name=name, method=method, flags=flags, compressed_size=csize,
                                         size=usize, header_offset=pos, data_offset=data_offset, local_name=name,
                                         crc=crc if not flags & 0x8 else None))
        pos = data_offset + csize
        if flags & 0x8:
            sig = source.read_at(pos, 4)
            pos += 16 if sig == _DESCRIPTOR else 12


def _find_data_end(source: Source, start: int) -> int:
    """With a data descriptor and no sizes, the data ends at the next zip signature (a bounded search)."""
    pos = start
    while pos < source.size:
        chunk = source.read_at(pos, _LOCAL_SCAN_WINDOW + 3)
        hits = [h for h in (chunk.find(sig) for sig in (_DESCRIPTOR, _LOCAL, _CENTRAL)) if h >= 0]
        if hits:
            return pos + min(hits)
        if len(chunk) <= 3:
            break
        pos += len(chunk) - 3
    return source.size


class MemberUnreadable(ValueError):
    """A zip member that cannot be read whole under a cap; ``reason`` is a scan-error reason and ``limit`` the
    limit that stopped it, if one did."""

    def __init__(self, message: str, *, reason: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.limit = limit


def read_member(source: Source, member: ZipMember, *, limits: Limits, cap: int) -> bytes:
    """A small member's bytes (at most ``cap``), decompressed under the archive limits.

    Raises :class:`MemberUnreadable` when it is larger than ``cap``, encrypted, without a local header, compressed
    with a method aisec does not open, corrupt, or a bomb.
    """
    if member.size > cap:
        raise MemberUnreadable(f"{member.name} could not be read ({member.size} bytes, cap {cap})", reason="limit",
                               limit="max_read_bytes")
    if member.data_offset is None or member.encrypted:
        raise MemberUnreadable(f"{member.name} could not be read (encrypted or a broken local header)",
                               reason="malformed")
    method = METHODS.get(member.method)
    if method == "stored":
        return source.read_at(member.data_offset, min(member.compressed_size, cap))
    if method is None:
        raise MemberUnreadable(f"{member.name} uses compression method {member.method}", reason="unsupported")
    try:
        return inflate(source, member.data_offset, member.compressed_size, method, limits=limits, cap=cap,
                       what=member.name).data
    except (BombError, CorruptData) as exc:
        raise MemberUnreadable(f"{member.name}: {exc}", reason="malformed") from None
