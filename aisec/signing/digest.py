"""Turn a model layout into signed resources: one digest per file, or per shard."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aisec.signing.hashing import HashOutcome, HashTask, hash_tasks
from aisec.signing.layout import Layout, LocalFile
from aisec.signing.manifest import Resource, Serialization
from aisec.signing.names import name_problem, shard_name, shard_ranges


@dataclass(frozen=True, kw_only=True)
class Digested:
    """Resources computed from local files, and the files that could not be read."""

    resources: tuple[Resource, ...]
    errors: tuple[tuple[str, str], ...]


def relative_inside(model: Path, path: Path) -> str | None:
    """``path`` (absolute, or relative to the working directory) relative to ``model``, if inside it."""
    root = os.path.abspath(model)
    target = os.path.abspath(path)
    if not os.path.isdir(root):
        return None
    rel = os.path.relpath(target, root)
    if rel == "." or rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    return Path(rel).as_posix()


def normalize_ignore_paths(model: Path, paths: Sequence[str | Path], *, tolerate_outside: bool) -> list[str]:
    """Normalize ignore paths to POSIX paths relative to the model root.

    As in model_signing's CLI, a path is first taken relative to the working directory; when that does not
    land inside the model, a relative path is taken relative to the model root instead. Absolute paths must
    lie inside the model (outside ones are dropped with ``tolerate_outside``, else refused). ``./x`` and
    ``x/`` become ``x``.
    """
    out: list[str] = []
    for raw in paths:
        text = os.fspath(raw)
        from_cwd = relative_inside(model, Path(text)) if not os.path.isabs(text) else None
        if from_cwd is not None:
            text = from_cwd
        elif os.path.isabs(text):
            rel = relative_inside(model, Path(text))
            if rel is None:
                if tolerate_outside:
                    continue
                raise ValueError(f"ignore path {text} is not inside the model {model}")
            text = rel
        text = text.replace(os.sep, "/")
        while text.startswith("./"):
            text = text[2:]
        text = text.rstrip("/")
        problem = name_problem(text)
        if problem is not None:
            raise ValueError(f"ignore path {raw!s}: {problem}")
        out.append(text)
    return out


def plan(
    files: Sequence[LocalFile], serialization: Serialization
) -> list[tuple[str, str, int | None, int | None, HashTask]]:
    """(name, file name, start, end, task) for every resource the files produce."""
    items: list[tuple[str, str, int | None, int | None, HashTask]] = []
    for local in files:
        if serialization.method == "shards":
            size = serialization.shard_size or 1
            for start, end in shard_ranges(local.size, size):
                task = HashTask(path=local.path, start=start, end=end, size_hint=end - start)
                items.append((shard_name(local.name, start, end), local.name, start, end, task))
        else:
            items.append((local.name, local.name, None, None, HashTask(path=local.path, size_hint=local.size)))
    return items


def digest_files(files: Sequence[LocalFile], serialization: Serialization, *, workers: int | None = None,
                 known: Mapping[str, str] | None = None) -> Digested:
    """Hash ``files`` the way ``serialization`` says, in parallel.

    ``known`` maps real file paths to the SHA-256 (hex) the caller already computed of them in this run (a scan
    with ``--hashes``: its workers read every file once); a whole-file SHA-256 resource takes it from there
    instead of reading the file a second time. Shards and other hash types are always computed.
    """
    items = plan(files, serialization)
    reuse = known if known and serialization.method == "files" and serialization.hash_type == "sha256" else {}
    given = [reuse.get(os.path.realpath(item[4].path), "") if reuse else "" for item in items]
    todo = [i for i, digest in enumerate(given) if not digest]
    computed = iter(hash_tasks([items[i][4] for i in todo], serialization.hash_type, workers=workers))
    outcomes = [HashOutcome(digest=bytes.fromhex(digest)) if digest else next(computed) for digest in given]
    algorithm = serialization.resource_algorithm()
    resources: list[Resource] = []
    errors: dict[str, str] = {}
    for (name, path, start, end, _task), outcome in zip(items, outcomes, strict=True):
        if outcome.digest is None:
            errors.setdefault(path, outcome.error or "unreadable")
            continue
        resources.append(
            Resource(name=name, algorithm=algorithm, digest=outcome.digest, path=path, start=start, end=end)
        )
    return Digested(resources=tuple(resources), errors=tuple(sorted(errors.items())))


def digest_layout(layout: Layout, serialization: Serialization, *, workers: int | None = None) -> Digested:
    """Hash every file of ``layout``."""
    return digest_files(layout.files, serialization, workers=workers)
