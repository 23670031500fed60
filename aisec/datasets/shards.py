"""Which dataset files are shards of one dataset (``train-00000-of-00008.parquet``, ``part-00001.jsonl``,
``reviews-0003.csv``), decided from names within one folder; the group is analysed as one dataset."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

_OF_TOTAL = re.compile(r"^(?P<stem>.*?)(?P<num>\d+)-of-(?P<total>\d+)(?P<ext>(?:\.[A-Za-z0-9]+)+)$")
"""Hugging Face / TFDS style: ``train-00000-of-00008.parquet`` (the total is part of the group)."""
_PART = re.compile(r"^(?P<stem>part[-_])(?P<num>\d+)(?P<rest>[^/]*?)(?P<ext>\.[A-Za-z0-9]+)$")
"""Spark / Hadoop style: ``part-00000.jsonl``, ``part-00000-<uuid>-c000.snappy.parquet``."""
_NUMBERED = re.compile(r"^(?P<stem>.*?[-_.])(?P<num>\d{2,})(?P<ext>(?:\.[A-Za-z0-9]+)+)$")
"""``reviews-0003.csv``, ``shard_00.jsonl``: zero-padded numbers only (``sales-2019.csv`` is not a shard)."""


@dataclass(frozen=True, kw_only=True)
class ShardName:
    """How a file name reads as a shard: its group pattern and its number in the group."""

    group: str
    """The group's display pattern, e.g. ``data/train-*-of-00008.parquet``."""
    number: int
    width: int
    """Digits in the number (a series keeps one width)."""
    padded: bool
    """Whether the number has a leading zero (evidence of a numbered series)."""


def shard_name(path: str) -> ShardName | None:
    """The shard reading of a report path, or ``None`` when the name is not numbered like a shard."""
    posix = PurePosixPath(path)
    folder = "" if str(posix.parent) == "." else f"{posix.parent}/"
    name = posix.name
    match = _OF_TOTAL.match(name)
    if match is not None:
        return ShardName(group=f"{folder}{match['stem']}*-of-{match['total']}{match['ext']}",
                         number=int(match["num"]), width=0, padded=True)
    match = _PART.match(name)
    if match is not None:
        return ShardName(group=f"{folder}{match['stem']}*{match['ext']}", number=int(match["num"]), width=0,
                         padded=True)
    match = _NUMBERED.match(name)
    if match is not None:
        num = match["num"]
        return ShardName(group=f"{folder}{match['stem']}*{match['ext']}", number=int(num), width=len(num),
                         padded=num.startswith("0"))
    return None


def group_shards(paths: Iterable[tuple[str, str]]) -> Mapping[str, str]:
    """``(report path, kind)`` pairs → report path → group pattern, for groups of at least two files of one kind
    in one folder with distinct numbers, at least one of them zero-padded."""
    members: dict[tuple[str, int, str], list[tuple[str, ShardName]]] = {}
    for path, kind in paths:
        name = shard_name(path)
        if name is not None:
            members.setdefault((name.group, name.width, kind), []).append((path, name))
    out: dict[str, str] = {}
    for (group, _width, _kind), found in sorted(members.items()):
        numbers = [n.number for _, n in found]
        if len(found) < 2 or len(set(numbers)) != len(numbers) or not any(n.padded for _, n in found):
            continue
        for path, _name in found:
            out[path] = group
    return out
