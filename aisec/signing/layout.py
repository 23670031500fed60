"""Enumerate the files of a model folder (or single file) as OMS sees them, without opening any."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass

from aisec.signing.names import SINGLE_FILE_NAME, is_covered, name_problem
from aisec.signing.reasons import Discrepancy, Reason


@dataclass(frozen=True, kw_only=True)
class LocalFile:
    """A regular file of the model, under its manifest name."""

    name: str
    """POSIX path relative to the model root (``.`` for a single-file model)."""
    path: str
    """Filesystem path to read: the file itself, or the resolved target of an allowed symlink."""
    size: int
    via_symlink: bool = False


@dataclass(frozen=True, kw_only=True)
class Skipped:
    """A path of the model that was deliberately not hashed, and why."""

    name: str
    why: str


@dataclass(frozen=True, kw_only=True)
class Layout:
    """What a walk of the model found."""

    root: str
    single_file: bool
    files: tuple[LocalFile, ...]
    skipped: tuple[Skipped, ...]
    problems: tuple[Discrepancy, ...]


def _inside(target: str, root_real: str) -> bool:
    return target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep)


def scan_layout(model_path: str, *, excluded: Mapping[str, str], allow_symlinks: bool) -> Layout:
    """Walk ``model_path`` and classify every entry.

    ``excluded`` maps relative paths (each covering its subtree) to the reason they are out of scope.
    Symlinks are never followed into folders; with ``allow_symlinks`` a link to a regular file inside the
    model is hashed under the link's own name, and a link leaving the model is a ``symlink-escapes`` problem.
    FIFOs, sockets and devices are reported, never opened.
    """
    root = os.path.abspath(model_path)
    st = os.lstat(root)
    if stat.S_ISLNK(st.st_mode):
        # The model path itself may be a link (e.g. a cache snapshot); judge what it points to.
        root = os.path.realpath(root)
        st = os.stat(root)
    if stat.S_ISREG(st.st_mode):
        only = LocalFile(name=SINGLE_FILE_NAME, path=root, size=st.st_size)
        return Layout(root=root, single_file=True, files=(only,), skipped=(), problems=())
    if not stat.S_ISDIR(st.st_mode):
        odd = Discrepancy(reason=Reason.SPECIAL_FILE, detail="the model path is neither a file nor a folder")
        return Layout(root=root, single_file=False, files=(), skipped=(), problems=(odd,))
    root_real = os.path.realpath(root)
    prefixes = tuple(excluded)
    files: list[LocalFile] = []
    skipped: list[Skipped] = []
    problems: list[Discrepancy] = []
    stack: list[tuple[str, str]] = [(root, "")]
    while stack:
        folder, rel_folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            problems.append(
                Discrepancy(
                    reason=Reason.FILE_UNREADABLE,
                    path=rel_folder or ".",
                    detail=f"cannot list folder: {exc.strerror or exc}",
                )
            )
            continue
        subfolders: list[tuple[str, str]] = []
        for entry in entries:
            name = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            covered = is_covered(name, prefixes)
            if covered is not None:
                skipped.append(Skipped(name=name, why=excluded[covered]))
                continue
            problem = name_problem(name)
            if problem is not None:
                shown = name.encode("utf-8", "backslashreplace").decode("utf-8")
                problems.append(
                    Discrepancy(
                        reason=Reason.UNSAFE_RESOURCE_NAME,
                        path=shown,
                        detail=f"local file name cannot be signed: {problem}",
                    )
                )
                continue
            try:
                est = entry.stat(follow_symlinks=False)
            except OSError as exc:
                problems.append(Discrepancy(reason=Reason.FILE_UNREADABLE, path=name, detail=exc.strerror or str(exc)))
                continue
            if stat.S_ISLNK(est.st_mode):
                _classify_link(entry.path, name, root_real, allow_symlinks, files, skipped, problems)
            elif stat.S_ISDIR(est.st_mode):
                subfolders.append((entry.path, name))
            elif stat.S_ISREG(est.st_mode):
                files.append(LocalFile(name=name, path=entry.path, size=est.st_size))
            else:
                problems.append(
                    Discrepancy(
                        reason=Reason.SPECIAL_FILE,
                        path=name,
                        detail="not a regular file or folder (FIFO, socket or device)",
                    )
                )
        stack.extend(reversed(subfolders))
    return Layout(root=root, single_file=False, files=tuple(files), skipped=tuple(skipped), problems=tuple(problems))


def _classify_link(
    path: str,
    name: str,
    root_real: str,
    allow: bool,
    files: list[LocalFile],
    skipped: list[Skipped],
    problems: list[Discrepancy],
) -> None:
    target = os.path.realpath(path)
    if not allow:
        problems.append(
            Discrepancy(
                reason=Reason.SYMLINK_NOT_ALLOWED,
                path=name,
                detail=f"symbolic link to {os.readlink(path)!r}; pass --allow-symlinks "
                "to hash links that stay inside the model",
            )
        )
        return
    if not _inside(target, root_real):
        problems.append(
            Discrepancy(
                reason=Reason.SYMLINK_ESCAPES,
                path=name,
                detail=f"symbolic link resolves outside the model, to {target}",
            )
        )
        return
    try:
        tst = os.stat(target)
    except OSError:
        problems.append(Discrepancy(reason=Reason.FILE_UNREADABLE, path=name, detail="broken symbolic link"))
        return
    if stat.S_ISDIR(tst.st_mode):
        skipped.append(Skipped(name=name, why="symbolic link to a folder (not followed, as model_signing)"))
    elif stat.S_ISREG(tst.st_mode):
        files.append(LocalFile(name=name, path=target, size=tst.st_size, via_symlink=True))
    else:
        problems.append(
            Discrepancy(
                reason=Reason.SPECIAL_FILE,
                path=name,
                detail="symbolic link to something that is not a regular file",
            )
        )


def lookup(root: str, name: str, *, allow_symlinks: bool) -> LocalFile | Discrepancy | None:
    """Find one signed file by name without walking the model (for signed files under excluded paths).

    Returns None when it does not exist; parent folders must be real folders, not links.
    """
    root_real = os.path.realpath(root)
    parts = name.split("/")
    current = root
    for part in parts[:-1]:
        current = os.path.join(current, part)
        try:
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                return None
        except OSError:
            return None
    full = os.path.join(current, parts[-1])
    try:
        st = os.lstat(full)
    except OSError:
        return None
    if stat.S_ISREG(st.st_mode):
        return LocalFile(name=name, path=full, size=st.st_size)
    if stat.S_ISLNK(st.st_mode):
        files: list[LocalFile] = []
        problems: list[Discrepancy] = []
        _classify_link(full, name, root_real, allow_symlinks, files, [], problems)
        return files[0] if files else (problems[0] if problems else None)
    if stat.S_ISDIR(st.st_mode):
        return None
    return Discrepancy(
        reason=Reason.SPECIAL_FILE, path=name, detail="not a regular file or folder (FIFO, socket or device)"
    )
