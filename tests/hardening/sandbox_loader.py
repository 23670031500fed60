"""Throwaway loader sandbox for the mutation test: which mutants still run their payload when really loaded?

Run as ``python sandbox_loader.py MUTANT_DIR CANARY_DIR`` (never imported by aisec, never used by a scan). For
each file it forks a child that loads the bytes the way any real loader might — decompressing wrappers, opening
every zip/tar member, ``np.load(allow_pickle=True)`` for .npy, and unpickling stacked streams in turn with a
permissive ``persistent_load`` (as torch does) — under an alarm and an address-space cap, then checks whether
the payload's marker appeared in CANARY_DIR. Prints one JSON object: file name -> live (bool).
The payloads are the fixtures' inert canaries (they only create a marker file).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import json
import lzma
import os
import pickle
import shutil
import signal
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path


def _unpickle_all(data: bytes) -> None:
    """Unpickle stacked streams one after another (as torch's legacy loader does) until one fails or data ends."""
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        unpickler = pickle.Unpickler(stream)
        unpickler.persistent_load = lambda pid: None  # type: ignore[method-assign]
        unpickler.load()  # an error ends loading, as in every real loader (the payload may have run already)


def load(data: bytes, depth: int = 0) -> None:
    """Load ``data`` every way a loader could; errors are ignored (a payload may run before them)."""
    if depth > 6 or not data:
        return
    for magic, opener in ((b"\x1f\x8b", gzip.decompress), (b"BZh", bz2.decompress),
                          (b"\xfd7zXZ\x00", lzma.decompress), (b"\x5d\x00\x00", lzma.decompress),
                          (b"\x04\x22\x4d\x18", _lz4)):
        if data.startswith(magic):
            try:
                return load(opener(data), depth + 1)
            except Exception:
                return
    if data[:1] == b"\x78":
        try:
            return load(zlib.decompress(data), depth + 1)
        except Exception:
            pass
    if data.startswith(b"\x93NUMPY"):
        try:
            import numpy

            numpy.load(io.BytesIO(data), allow_pickle=True)
        except Exception:
            pass
        return
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    try:
                        load(archive.read(info), depth + 1)
                    except Exception:
                        continue
        except Exception:
            pass
        return
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for member in archive.getmembers():
                handle = archive.extractfile(member) if member.isfile() else None
                if handle is not None:
                    load(handle.read(), depth + 1)
        return
    except Exception:
        pass
    with contextlib.suppress(Exception):
        _unpickle_all(data)


def _lz4(data: bytes) -> bytes:
    import lz4.frame  # type: ignore[import-untyped]

    return bytes(lz4.frame.decompress(data))


def is_live(path: Path, canary: Path) -> bool:
    """Load ``path`` in a forked child; live when the child left a marker in ``canary``."""
    shutil.rmtree(canary, ignore_errors=True)
    pid = os.fork()
    if pid == 0:  # the child: capped, silenced, killed by SIGALRM's default action if it hangs
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
            signal.alarm(5)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            load(path.read_bytes())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    live = canary.exists() and any(canary.iterdir())
    shutil.rmtree(canary, ignore_errors=True)
    return live


def main() -> None:
    """Print {name: live} for every file in the mutant folder."""
    folder, canary = Path(sys.argv[1]), Path(sys.argv[2])
    os.chdir(folder)
    try:  # imported once here, so every forked child has them already
        import lz4.frame  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        pass
    print(json.dumps({p.name: is_live(p, canary) for p in sorted(folder.iterdir()) if p.is_file()}))


if __name__ == "__main__":
    main()
