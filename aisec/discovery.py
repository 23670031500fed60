"""Find the files to scan, identify each by content, and describe it as an ``Artifact`` (no parsing)."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aisec.limits import Limits
from aisec.model import Artifact, ArtifactKind, ScanError
from aisec.remote.uri import RemoteObject, is_remote
from aisec.sniff import SNIFF_BYTES, declared_kind, sniff

SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
"""Folders never descended into (version control and caches)."""

HASH_CHUNK = 4 * 1024 * 1024
MODEL_KINDS = frozenset({
    ArtifactKind.PICKLE, ArtifactKind.PYTORCH_ZIP, ArtifactKind.TORCHSCRIPT_ZIP, ArtifactKind.KERAS_ZIP,
    ArtifactKind.NPZ, ArtifactKind.HDF5, ArtifactKind.GGUF, ArtifactKind.SAFETENSORS, ArtifactKind.ONNX,
    ArtifactKind.TF_SAVEDMODEL, ArtifactKind.PROTOBUF, ArtifactKind.NPY, ArtifactKind.SIGNATURE,
})
"""Kinds whose presence makes the containing folder a model folder."""
MODEL_FOLDER_FILES = frozenset({"config.json", "tokenizer_config.json", "model.sig", "chat_template.json",
                                "oci-layout"})


@dataclass(frozen=True, kw_only=True)
class Discovered:
    """An artifact plus where it lives on disk."""

    artifact: Artifact
    fs_path: Path
    dataset_group: str | None = None
    """The shard group (``data/train-*-of-00008.parquet``) this dataset file belongs to, if any."""
    hash_content: bool = False
    """Whether the analysis computes the file's SHA-256 for the report (asked for, and the file is a file)."""
    remote: RemoteObject | None = None
    """Set for an object in remote storage (``s3://…``): workers read it themselves with ranged requests, and
    ``fs_path`` is then a placeholder no OS call can open."""
    digests: tuple[tuple[str, str], ...] = ()
    """(real path, SHA-256 hex) of files in this folder the scan already hashed: the signature check reuses them."""


@dataclass(frozen=True, kw_only=True)
class Discovery:
    """Everything found under the targets, and what could not be read."""

    items: tuple[Discovered, ...]
    errors: tuple[ScanError, ...]


def display_root(targets: Sequence[str | Path]) -> Path:
    """The one folder every report path is relative to.

    The working directory when every target is inside it (the usual CI case: paths are repo-relative);
    otherwise the deepest folder holding all targets, so two targets never produce the same report path (one
    folder given from outside is the base itself: its files are ``config.json``, the folder is ``.``).
    Targets that do not exist do not move the base (see :func:`shown_path`).
    """
    cwd = Path.cwd().resolve()
    bases = []
    existing = [t for t in targets if Path(t).exists() or Path(t).is_symlink()]
    for target in existing:
        resolved = Path(target).absolute() if Path(target).is_symlink() else Path(target).resolve()
        if resolved == cwd or cwd in resolved.parents:
            continue
        bases.append(resolved if resolved.is_dir() else resolved.parent)
    if not bases:
        return cwd
    return Path(os.path.commonpath([cwd, *bases] if len(bases) < len(existing) else bases))


def shown_path(target: str | Path, root: Path) -> str:
    """How a target is named in the report: relative to ``root`` when inside it, else absolute (a missing
    ``/data/x`` stays ``/data/x``, never a bare ``x`` that reads like a file of the scanned folder)."""
    absolute = Path(os.path.abspath(target))
    if absolute == root or root in absolute.parents:
        return _relative(absolute, root)
    return absolute.as_posix()


def discover(targets: Sequence[str | Path], limits: Limits, *, anonymous: bool = False) -> Discovery:
    """Walk every target; never follow a symlink out of the target it was found under. Remote URIs
    (``s3://…``) are listed through fsspec (``anonymous``: without credentials)."""
    items: dict[str, Discovered] = {}
    errors: list[ScanError] = []
    remote = [str(t) for t in targets if is_remote(t)]
    targets = [t for t in targets if not is_remote(t)]
    root = display_root(targets)
    for target in targets:
        path = Path(target)
        if not path.exists() and not path.is_symlink():
            errors.append(ScanError(path=shown_path(path, root), reason="not-found",
                                    message=f"path does not exist: {target}"))
            continue
        real = _resolve(path)
        if real is None:
            errors.append(_loop_error(path, root))
            continue
        scope = real if path.is_dir() else real.parent
        for fs_path in _walk(path, scope, root, errors, limits):
            rel = _relative(fs_path, root)
            if rel in items:
                continue
            try:
                items[rel] = Discovered(artifact=describe(fs_path, rel, limits), fs_path=fs_path)
            except OSError as exc:
                errors.append(ScanError(path=rel, reason="io", message=f"cannot read: {exc.strerror or exc}"))
        if path.is_dir():
            for folder in _model_folders(items, scope, root):
                items.setdefault(folder.artifact.path, folder)
    _prefer_link_names(items)
    if remote:
        items.update(_remote_items(remote, limits, errors, anonymous=anonymous))
    ordered = tuple(items[k] for k in sorted(items))
    return Discovery(items=ordered, errors=tuple(sorted(errors, key=lambda e: (e.path, e.reason))))


def _remote_items(targets: Sequence[str], limits: Limits, errors: list[ScanError], *,
                  anonymous: bool) -> dict[str, Discovered]:
    from aisec.remote.discover import REMOTE_FS_PATH, discover_remote  # fsspec loads only for remote targets

    found = discover_remote(targets, limits, anonymous=anonymous)
    errors.extend(found.errors)
    return {artifact.path: Discovered(artifact=artifact, fs_path=REMOTE_FS_PATH, remote=obj)
            for artifact, obj in found.objects}


def _prefer_link_names(items: dict[str, Discovered]) -> None:
    """Scan a file once under the names users know: a Hugging Face cache's ``snapshots/<rev>/config.json``
    links, not the ``blobs/<sha>`` files they point to (the blob is dropped when an in-root link names it)."""
    linked = {_resolve(item.fs_path) for item in items.values()
              if item.fs_path.is_symlink() and item.artifact.kind is not ArtifactKind.DIRECTORY}
    if not linked:
        return  # no file link: nothing to drop (and no target of every file to resolve)
    for rel in [rel for rel, item in items.items() if not item.fs_path.is_symlink()
                and item.artifact.kind is not ArtifactKind.DIRECTORY and _resolve(item.fs_path) in linked]:
        del items[rel]


def _relative(path: Path, root: Path) -> str:
    try:
        rel = path.absolute().relative_to(root)
    except ValueError:
        rel = Path(os.path.relpath(path.absolute(), root))
    text = rel.as_posix()
    return text if text not in ("", ".") else "."


def _walk(path: Path, scope: Path, root: Path, errors: list[ScanError], limits: Limits) -> Iterator[Path]:
    count = 0
    real = _resolve(path)
    if not path.is_dir() or real is None or (path.is_symlink() and not _inside(real, scope)):
        candidates: Iterator[Path] = iter([path])
    else:
        candidates = _files_below(path, errors, root)
    for candidate in candidates:
        if candidate.is_symlink():
            target = _resolve(candidate)
            if target is None:
                errors.append(_loop_error(candidate, root))
                continue
            if not _inside(target, scope):
                errors.append(ScanError(path=_relative(candidate, root), reason="symlink",
                                        message=f"symlink points outside the scanned folder ({target}); "
                                                "not followed"))
                continue
            if target.is_dir():
                continue  # its contents are scanned where they really live inside the scope
        try:
            mode = candidate.stat().st_mode
        except OSError as exc:
            errors.append(ScanError(path=_relative(candidate, root), reason="io", message=str(exc)))
            continue
        if stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            # A FIFO, socket or device is never read (reading could block or never end), but it is reported:
            # a scan that silently skipped something is not a clean scan.
            errors.append(ScanError(path=_relative(candidate, root), reason="special",
                                    message="not a regular file (FIFO, socket or device); not read"))
            continue
        count += 1
        if count > limits.max_files:
            errors.append(ScanError(path=_relative(path, root), reason="limit", limit="max_files",
                                    message=f"more than max_files={limits.max_files} files; the rest were "
                                            "not scanned"))
            return
        yield candidate


def _files_below(path: Path, errors: list[ScanError], root: Path) -> Iterator[Path]:
    def on_error(exc: OSError) -> None:
        errors.append(ScanError(path=_relative(Path(exc.filename or path), root), reason="io",
                                message=f"cannot list folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(path, onerror=on_error, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name
        for name in dirnames:
            full = Path(dirpath) / name
            if full.is_symlink():
                yield full  # reported by _walk when it escapes


def _resolve(path: Path) -> Path | None:
    """``path`` with every link followed, or None when the links go round in a loop (or cannot be read)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # Python 3.11/3.12 raise RuntimeError("Symlink loop"), later ones OSError
        return None


def _loop_error(path: Path, root: Path) -> ScanError:
    return ScanError(path=_relative(path, root), reason="symlink",
                     message="symlink loop (the links point at each other); not followed")


def _inside(target: Path, scope: Path) -> bool:
    return target == scope or scope in target.parents


def describe(fs_path: Path, rel: str, limits: Limits) -> Artifact:
    """Sniff one file: its head, and a zip's central directory. It is not hashed here (see :func:`sha256_of`):
    a SHA-256 is computed, by a worker, only when the scan asks for hashes."""
    with open(fs_path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(SNIFF_BYTES)
        names: tuple[str, ...] = ()
        if head.startswith(b"PK"):
            names = zip_names(handle, limits)
        kind = sniff(head, zip_names=names, name=fs_path.name)
    return Artifact(path=rel, kind=kind, size=size, sha256="", declared_kind=declared_kind(fs_path.name))


def sha256_of(fs_path: Path, limits: Limits) -> str:
    """The file's SHA-256, or "" when it is larger than ``max_hash_bytes`` (read in ``HASH_CHUNK`` pieces)."""
    with open(fs_path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size > limits.max_hash_bytes:
            return ""
        digest = hashlib.sha256()
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def zip_names(handle: io.BufferedReader | io.BytesIO, limits: Limits) -> tuple[str, ...]:
    """Member names from a zip's central directory (empty if it cannot be read)."""
    import zipfile  # ~17 M instructions: only a scan that meets a zip pays for it

    try:
        handle.seek(0)
        with zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
            return tuple(i.filename for i in infos[: limits.max_archive_members])
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return ()


def _model_folders(items: dict[str, Discovered], scope: Path, root: Path) -> Iterator[Discovered]:
    folders: dict[str, list[Discovered]] = {}
    for item in items.values():
        if item.artifact.kind is ArtifactKind.DIRECTORY or not _inside(item.fs_path.absolute(), scope):
            continue
        parent = item.fs_path.parent
        folders.setdefault(_relative(parent, root), []).append(item)
    for rel, members in folders.items():
        if not any(m.artifact.kind in MODEL_KINDS or m.fs_path.name in MODEL_FOLDER_FILES for m in members):
            continue
        listing = "\n".join(sorted(f"{m.fs_path.name}\0{m.artifact.size}" for m in members))
        yield Discovered(artifact=Artifact(path=rel, kind=ArtifactKind.DIRECTORY, size=0,
                                           sha256=hashlib.sha256(listing.encode("utf-8", "surrogateescape"))
                                           .hexdigest()),
                         fs_path=members[0].fs_path.parent)


def nothing_to_scan(targets: Sequence[str | Path]) -> str:
    """Why discovery found no file at all in ``targets`` (all exist): empty, or only skipped folders."""
    reasons = []
    for target in targets:
        path = Path(target)
        if not path.is_dir():
            reasons.append(f"{target} is not a regular file")
            continue
        try:
            names = sorted(entry.name for entry in os.scandir(path))
        except OSError as exc:
            reasons.append(f"{target} cannot be listed ({exc.strerror or exc})")
            continue
        skipped = [n for n in names if n in SKIPPED_DIRS]
        if not names:
            reasons.append(f"{target} is an empty folder")
        elif skipped and len(skipped) == len(names):
            reasons.append(f"{target} holds only {', '.join(skipped)} (version-control and cache folders are never "
                           "scanned)")
        else:
            reasons.append(f"{target} holds no files, only empty folders"
                           + (f" and {', '.join(skipped)}, which is never scanned" if skipped else ""))
    return "nothing to scan: " + "; ".join(reasons)
