"""Validation and ordering of the relative paths an OMS manifest names."""

from __future__ import annotations

import re

DEFAULT_GIT_PATHS: tuple[str, ...] = (".git", ".gitattributes", ".github", ".gitignore")
"""Paths model_signing always leaves out, at the top of a model folder only."""

SINGLE_FILE_NAME = "."
"""The resource name model_signing 1.1.1 gives the only file of a single-file model."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a safe POSIX relative path inside a model, or None when it is."""
    if not name:
        return "empty name"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not valid UTF-8"
    if "\x00" in name:
        return "name contains a NUL byte"
    if "\\" in name:
        return "name contains a backslash"
    if name.startswith("/"):
        return "absolute path"
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        return "drive-letter path"
    if name.endswith("/"):
        return "trailing slash"
    for part in name.split("/"):
        if part == "..":
            return "path contains '..'"
        if part == ".":
            return "path contains a '.' component"
        if part == "":
            return "path contains an empty component"
    return None


def is_covered(name: str, prefixes: tuple[str, ...] | frozenset[str] | list[str]) -> str | None:
    """The entry of ``prefixes`` that equals ``name`` or is a parent folder of it, if any."""
    for prefix in prefixes:
        if name == prefix or name.startswith(prefix + "/"):
            return prefix
    return None


def shard_name(path: str, start: int, end: int) -> str:
    """The resource name of one shard: ``path:start:end``."""
    return f"{path}:{start}:{end}"


def parse_shard_name(name: str) -> tuple[str, int, int] | None:
    """Split ``path:start:end`` on its last two colons (paths may contain colons); None if malformed."""
    parts = name.rsplit(":", 2)
    if len(parts) != 3 or not _DECIMAL.fullmatch(parts[1]) or not _DECIMAL.fullmatch(parts[2]):
        return None
    start, end = int(parts[1]), int(parts[2])
    if start >= end:
        return None
    return parts[0], start, end


def shard_ranges(size: int, shard_size: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` ranges model_signing cuts a file of ``size`` bytes into (none when empty)."""
    return [(start, min(start + shard_size, size)) for start in range(0, size, shard_size)]


def file_sort_key(name: str) -> tuple[str, ...]:
    """model_signing's order: by path components, so ``a/b`` sorts before ``a-c``."""
    return tuple(name.split("/"))


def shard_sort_key(path: str, start: int, end: int) -> tuple[tuple[str, ...], int, int]:
    """model_signing's order for shards: by path components, then by integer offsets."""
    return (tuple(path.split("/")), start, end)
