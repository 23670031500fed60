"""Reuse validated rules and policies across runs: a JSON cache keyed by the digest of everything they came from.

Validating the built-in rules and the default policy means importing YAML and pydantic and the whole fact
catalog (every analyzer, numpy and scipy included); a scan of one pickle should not pay that on every run.
A cache entry holds the validated objects as plain JSON (never pickle) plus what they were built from: the
aisec version, the stat fingerprint of aisec's own code and of the packages that feed policy lists, and the
SHA-256 over every input file (each rule file; each policy file of an ``extends`` chain). Any difference
means the entry is rebuilt; any problem reading or writing the cache means the objects are validated again.

Reading ~460 KB of rule files on every run only to learn they did not change costs more than the rest of
the lookup, so the entry also records each input's stat (size, mtime, ctime, inode): when every stat is the
same, the contents are not read. A stat that changed (a checkout, a ``touch``) falls back to the content
digest, and a file modified within ``RACY_SECONDS`` of the entry being written is always compared by content
(as git treats a "racily clean" index entry): a same-size edit in the same timestamp tick cannot slip through.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import importlib
import importlib.util
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from aisec import __version__

T = TypeVar("T")
CACHE_ENV = "AISEC_CACHE_DIR"
"""Where cache entries live (default ``$XDG_CACHE_HOME/aisec`` or ``~/.cache/aisec``); empty turns caching off."""
MAX_ENTRY_BYTES = 16 * 1024 * 1024
"""A cache entry larger than this is ignored (and rebuilt)."""
RACY_SECONDS = 3
"""An input whose mtime or ctime is this close to (or after) the entry's own mtime is compared by content, not
by stat: file timestamps are coarse (a clock tick on Linux, 2 s on FAT), so an edit in the same tick as the
entry was written could keep its size and time."""
_RACY_NS = RACY_SECONDS * 1_000_000_000
_CODE_ROOT = Path(__file__).resolve().parent.parent
_LIST_PACKAGES = ("modelscan",)
"""Installed packages whose data feeds policy lists (``lists.NAME.include``)."""


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when caching is turned off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aisec"


def file_digest(paths: Iterable[Path]) -> str:
    """SHA-256 over the names and contents of ``paths`` (in the given order)."""
    digest = hashlib.sha256()
    for path in paths:
        data = path.read_bytes()
        digest.update(f"{path}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
        digest.update(data)
    return digest.hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """Version, and size and mtime of every module of aisec and of the list-source packages (once per process)."""
    parts = [__version__]
    roots = [_CODE_ROOT]
    for name in _LIST_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            roots.append(Path(spec.origin).parent)
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    info = os.stat(os.path.join(dirpath, name))
                    parts.append(f"{dirpath}/{name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def cached(kind: str, identity: str, build: Callable[[], T], inputs: Callable[[T], Sequence[Path]]) -> T:
    """``build()``, or the value it returned last time, when nothing it came from has changed since.

    ``identity`` names the entry (one file per identity, so the cache does not grow with every edit) and
    must cover how the inputs were found (a folder's listing, a path relative to the working folder);
    ``inputs(value)`` names the files the value was built from, whose contents key the entry. Values are
    frozen dataclasses, enums, tuples, lists, dicts, mappings, frozensets, dates and JSON scalars.
    """
    folder = cache_dir()
    if folder is None:
        return build()
    try:
        code = code_fingerprint()
    except OSError:
        return build()
    entry = folder / f"{kind}-{hashlib.sha256(identity.encode('utf-8', 'surrogateescape')).hexdigest()[:24]}.json"
    hit = _read(entry, identity, code)
    if hit is not None:
        document, fresh_stats = hit
        if fresh_stats is not None:  # same contents, new stats: record them so the next run reads no input
            with contextlib.suppress(OSError, TypeError, ValueError, RecursionError):
                _write(entry, _document(identity, code, document["inputs"], document["digest"],
                                        encode(document["value"]), fresh_stats))
        return document["value"]  # type: ignore[no-any-return]
    value = build()
    try:
        paths = [str(p) for p in inputs(value)]
        stats = _stats(paths)  # before reading: an edit after this point changes a stat (or is racy)
        _write(entry, _document(identity, code, paths, file_digest(Path(p) for p in paths), encode(value), stats))
    except (OSError, TypeError, ValueError, RecursionError):
        pass  # a read-only home or an unencodable value: the next run validates again
    return value


def _document(identity: str, code: str, paths: list[str], digest: str, value: Any,
              stats: list[list[int]]) -> dict[str, Any]:
    """An entry: ``stats`` must have been taken before the contents behind ``digest`` were read."""
    return {"identity": identity, "code": code, "inputs": paths, "digest": digest, "stats": stats, "value": value}


def _stats(paths: Iterable[str]) -> list[list[int]]:
    """What a change to a file changes besides its bytes: size, mtime, ctime (which no tool sets back), inode."""
    out = []
    for path in paths:
        info = os.stat(path)
        out.append([info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino])
    return out


def _read(entry: Path, identity: str, code: str) -> tuple[dict[str, Any], list[list[int]] | None] | None:
    """The entry's document when it is valid for ``identity`` and ``code`` and its inputs are unchanged, and
    the inputs' stats to record in it when the contents had to be read to know (``None``: nothing to record)."""
    try:
        info = entry.stat()
        if info.st_size > MAX_ENTRY_BYTES:
            return None
        # One pass: the parser hands every object to _decode_object as it closes (no second walk of the tree).
        document = json.loads(entry.read_text(encoding="utf-8"), object_hook=_decode_object)
        if document["identity"] != identity or document["code"] != code:
            return None
        paths = document["inputs"]
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            return None
        stats = _stats(paths)
        newest = max((max(s[1], s[2]) for s in stats), default=0)
        same = stats == document.get("stats")
        if same and newest < info.st_mtime_ns - _RACY_NS:
            return document, None
        if file_digest(Path(p) for p in paths) != document["digest"]:
            return None
        # Worth rewriting when the stats moved, or when an entry written now would no longer be racy.
        return document, stats if not same or newest < time.time_ns() - _RACY_NS else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError, RecursionError):
        return None  # missing, stale, corrupt or from another version: validate again


def _write(entry: Path, document: dict[str, Any]) -> None:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    entry.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # only a run that (re)builds an entry writes one

    handle, temp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, entry)  # atomic: a concurrent reader sees the old entry or the new one
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value`` that :func:`decode` turns back into an equal value."""
    if value is None or (isinstance(value, (bool, int, float, str)) and not isinstance(value, enum.Enum)):
        return value
    if isinstance(value, enum.Enum):
        return {"$enum": _name(type(value)), "v": value.value}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return {"$dc": _name(type(value)), "f": fields}
    if isinstance(value, tuple):
        return {"$t": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, frozenset):
        return {"$fs": sorted((encode(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))}
    if isinstance(value, MappingProxyType):
        return {"$mp": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, dict):
        return {"$d": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def decode(value: Any) -> Any:
    """The value :func:`encode` was given; only aisec's own classes are ever constructed (the same
    :func:`_decode_object` that loading a cache entry uses, so what is tested is what runs)."""
    return json.loads(json.dumps(value), object_hook=_decode_object)


def _decode_object(value: dict[str, Any]) -> Any:
    """:func:`decode` of one JSON object whose members are already decoded (``json.loads``'s object hook); an
    object without a marker is a plain one (the cache document itself, a dataclass's fields)."""
    if "$t" in value:
        return tuple(value["$t"])
    if "$fs" in value:
        return frozenset(value["$fs"])
    if "$mp" in value:
        return MappingProxyType(dict(value["$mp"]))
    if "$d" in value:
        return dict(value["$d"])
    if "$date" in value:
        return dt.date.fromisoformat(value["$date"])
    if "$enum" in value:
        return _class(value["$enum"])(value["v"])
    if "$dc" in value:
        cls = _class(value["$dc"])
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"{value['$dc']} is not a dataclass")
        return cls(**_mapping(value["f"]))
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("dataclass fields must be a mapping")
    return value


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


@functools.cache
def _class(name: str) -> Any:
    module, _, qualname = name.partition(":")
    if not module.startswith("aisec.") or not qualname.isidentifier():
        raise TypeError(f"refusing to construct {name!r} from the cache")
    return getattr(importlib.import_module(module), qualname)


__all__ = ["CACHE_ENV", "cache_dir", "cached", "code_fingerprint", "decode", "encode", "file_digest"]
