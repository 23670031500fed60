"""Parallel hashing gives exactly hashlib's digests, in order, for whole files, shards and many small files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from aisec.signing.hashing import READ_CHUNK, SMALL_FILE, HashTask, UnknownHashType, hash_tasks
from aisec.signing.names import parse_shard_name, shard_ranges, shard_sort_key


def _reference(data: bytes, hash_type: str) -> bytes:
    if hash_type == "blake3":
        import blake3

        return blake3.blake3(data).digest()
    return hashlib.new(hash_type, data).digest()


@pytest.mark.parametrize("hash_type", ["sha256", "blake2b", "blake3"])
def test_whole_files_and_shards_match_hashlib(tmp_path: Path, hash_type: str) -> None:
    sizes = [0, 1, SMALL_FILE, SMALL_FILE + 1, 2 * READ_CHUNK + 123]
    blobs = {}
    tasks = []
    for size in sizes:
        path = tmp_path / f"f{size}"
        blobs[size] = os.urandom(size)
        path.write_bytes(blobs[size])
        tasks.append(HashTask(path=str(path), size_hint=size))
        for start, end in shard_ranges(size, 700_000):
            tasks.append(HashTask(path=str(path), start=start, end=end, size_hint=end - start))
    outcomes = hash_tasks(tasks, hash_type, workers=3)
    for task, outcome in zip(tasks, outcomes, strict=True):
        data = blobs[int(Path(task.path).name[1:])]
        expected = _reference(data[task.start:task.end] if task.end is not None else data, hash_type)
        assert outcome.digest == expected, task


def test_many_small_files_keep_order_with_any_worker_count(tmp_path: Path) -> None:
    tasks = []
    for index in range(700):  # several batches
        path = tmp_path / f"s{index}"
        path.write_bytes(index.to_bytes(4, "big") * (index % 50))
        tasks.append(HashTask(path=str(path), size_hint=4 * (index % 50)))
    one = hash_tasks(tasks, "sha256", workers=1)
    many = hash_tasks(tasks, "sha256", workers=4)
    assert one == many
    assert one[7].digest == hashlib.sha256((7).to_bytes(4, "big") * 7).digest()


def test_unreadable_and_non_regular_files_are_outcomes_not_exceptions(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    outcomes = hash_tasks([HashTask(path=str(tmp_path / "missing")), HashTask(path=str(tmp_path / "fifo")),
                           HashTask(path=str(tmp_path))], "sha256")
    assert [o.digest for o in outcomes] == [None, None, None]
    assert all(o.error for o in outcomes)


def test_unknown_hash_type() -> None:
    with pytest.raises(UnknownHashType):
        hash_tasks([], "md5")


def test_shard_names_and_order() -> None:
    assert shard_ranges(0, 10) == []
    assert shard_ranges(25, 10) == [(0, 10), (10, 20), (20, 25)]
    assert parse_shard_name("dir/a:b.bin:0:10") == ("dir/a:b.bin", 0, 10)
    for bad in ("a:10:5", "a:01:5", "a:-1:5", "a:1", "a:1:+5"):
        assert parse_shard_name(bad) is None
    names = ["nested-notes.txt", "nested/adapter/x"]
    assert sorted(names, key=lambda n: shard_sort_key(n, 0, 1)) == ["nested/adapter/x", "nested-notes.txt"]
    assert sorted([("a", 10, 20), ("a", 2, 10)], key=lambda t: shard_sort_key(*t)) == [("a", 2, 10), ("a", 10, 20)]
