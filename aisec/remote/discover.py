"""List remote targets (a bucket prefix, a repository, one URL) and identify each object by its content."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aisec.errors import LimitExceeded, SourceReadError
from aisec.limits import Limits
from aisec.model import Artifact, ScanError
from aisec.remote.fs import filesystem
from aisec.remote.source import RemoteSource
from aisec.remote.uri import PROTOCOLS, RemoteObject, fs_path_of, join, protocol_of, scheme_of
from aisec.sniff import SNIFF_BYTES, declared_kind, sniff

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

SKIPPED_PARTS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
"""Folders never descended into (the same as for local folders)."""
SNIFF_THREADS = 16
"""Objects sniffed at once during discovery."""
REMOTE_FS_PATH = Path("\0remote")
"""``Discovered.fs_path`` of a remote object: no operating-system call can open it (embedded NUL), so code
that wrongly treats a remote object as a local file fails loudly instead of reading a local look-alike."""


@dataclass(kw_only=True)
class RemoteFound:
    """Objects found under the remote targets (artifact, object) and what could not be listed or read."""

    objects: list[tuple[Artifact, RemoteObject]] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)


def discover_remote(targets: Sequence[str], limits: Limits, *, anonymous: bool = False) -> RemoteFound:
    """List and sniff every remote target; a target or object that fails is an error, the others go on."""
    found = RemoteFound()
    listed: dict[str, tuple[RemoteObject, AbstractFileSystem]] = {}
    for target in targets:
        protocol = protocol_of(target)
        if protocol is None:
            known = ", ".join(sorted(f"{s}://" for s in PROTOCOLS))
            found.errors.append(ScanError(path=target, reason="unsupported",
                                          message=f"aisec does not read {scheme_of(target)}:// URIs "
                                                  f"(it reads {known})"))
            continue
        fs = filesystem(protocol, anonymous=anonymous)
        for uri, path, size in _list(fs, target, protocol, found.errors):
            if uri in listed:
                continue
            if len(listed) == limits.max_files:
                found.errors.append(ScanError(path=target, reason="limit", limit="max_files",
                                              message=f"more than max_files={limits.max_files} files; the rest "
                                                      "were not scanned"))
                break
            listed[uri] = (RemoteObject(uri=uri, protocol=protocol, path=path, anonymous=anonymous, size=size), fs)
    # Sniffing is one or two round trips per object: done concurrently, so a large prefix is not listed at the
    # speed of its latency (results are kept in listing order).
    with ThreadPoolExecutor(max_workers=SNIFF_THREADS) as pool:
        described = list(pool.map(lambda pair: _describe(pair[0], pair[1], limits), listed.values()))
    for (remote, _fs), outcome in zip(listed.values(), described, strict=True):
        if isinstance(outcome, Artifact):
            found.objects.append((outcome, remote))
        else:
            found.errors.append(ScanError(path=remote.uri, reason="io", message=outcome))
    return found


def _describe(remote: RemoteObject, fs: AbstractFileSystem, limits: Limits) -> Artifact | str:
    try:
        return describe_remote(remote, fs, limits)
    except SourceReadError as exc:
        return str(exc)


def _list(fs: AbstractFileSystem, target: str, protocol: str,
          errors: list[ScanError]) -> Iterator[tuple[str, str, int]]:
    """(uri, path, size) of every object under ``target``, sorted; one URL over HTTP(S) is one object."""
    base = fs_path_of(target)
    try:
        if protocol in ("http", "https"):
            info: dict[str, Any] = fs.info(base)
            entries = {base: info}
        else:
            base = fs._strip_protocol(target)
            info = fs.info(base)
            entries = fs.find(base, detail=True) if info.get("type") == "directory" else {base: info}
    except FileNotFoundError:
        errors.append(ScanError(path=target, reason="not-found", message=f"no such object or prefix: {target}"))
        return
    except MemoryError:
        raise
    except Exception as exc:  # the backend's network/permission errors: this target fails, the others go on
        errors.append(ScanError(path=target, reason="io", message=f"cannot list {target}: {type(exc).__name__}: "
                                                                  f"{exc}"))
        return
    if not entries:
        errors.append(ScanError(path=target, reason="not-found", message=f"no objects under {target}"))
    for path in sorted(entries):
        entry = entries[path]
        if entry.get("type") == "directory" or SKIPPED_PARTS.intersection(path.split("/")):
            continue
        size = entry.get("size")
        if not isinstance(size, int):
            errors.append(ScanError(path=join(target, base, path), reason="io",
                                    message="the storage did not report the object's size; not read"))
            continue
        yield join(target, base, path), path, size


def describe_remote(remote: RemoteObject, fs: AbstractFileSystem, limits: Limits) -> Artifact:
    """Sniff one object by content with ranged reads: its head, and a zip's central directory."""
    from aisec.discovery import zip_names

    source = RemoteSource(remote, budget=limits.max_read_bytes, fs=fs)
    head = source.head(SNIFF_BYTES)
    names: tuple[str, ...] = ()
    if head.startswith(b"PK"):
        try:
            names = zip_names(source.stream(), limits)  # type: ignore[arg-type]
        except LimitExceeded:
            names = ()  # a central directory past max_read_bytes: sniffed as a plain zip, the analyzers report it
        if source.failure:
            raise SourceReadError(source.failure)
    name = remote.path.rstrip("/").rsplit("/", 1)[-1]
    kind = sniff(head, zip_names=names, name=name)
    return Artifact(path=remote.uri, kind=kind, size=remote.size, sha256="", declared_kind=declared_kind(name))
