"""Every named limit holds: an input just past a (lowered) limit is reported under that limit's name, as an
``AISEC-GEN-001`` finding and an untrustworthy report (exit code 2), never as a pass.

``max_seconds_per_file`` is covered at the CLI level (test_cli_hostile_tree), ``max_worker_memory_bytes`` by
tests/test_executor.py, ``max_compression_ratio``/``max_decompressed_bytes`` by test_bombs; ``max_hash_bytes``
only decides whether a file gets a SHA-256 in the report and is not a scan limit.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from aisec.limits import Limits
from aisec.scan import scan


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def _safetensors(header: bytes) -> bytes:
    return struct.pack("<Q", len(header)) + header


def _nested_zip(depth: int) -> bytes:
    data = _zip({"x.pkl": b"\x80\x02K\x01."})
    for i in range(depth):
        data = _zip({f"level{i}.zip": data})
    return data


Build = Callable[[Path], object]
CASES: dict[str, tuple[dict[str, int], Build]] = {
    "max_pickle_opcodes": ({"max_pickle_opcodes": 1000},
                           lambda d: (d / "a.pkl").write_bytes(b"\x80\x02]" + b"K\x01a" * 1000 + b".")),
    # Only pushes: the walker's fast path once skipped the stack check (600k items against a 100k limit).
    "max_stack_depth": ({"max_stack_depth": 1000},
                        lambda d: (d / "a.pkl").write_bytes(b"\x80\x04" + b"\x8c\x01a" * 1500 + b"K\x01" * 1500
                                                            + b".")),
    "max_read_bytes": ({"max_read_bytes": 4096},
                       lambda d: (d / "a.pkl").write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 8192) + bytes(8192)
                                                           + b".")),
    "max_archive_members": ({"max_archive_members": 10},
                            lambda d: (d / "a.zip").write_bytes(_zip({f"m{i}.txt": b"x" for i in range(30)}))),
    "max_nesting_depth": ({"max_nesting_depth": 2}, lambda d: (d / "a.zip").write_bytes(_nested_zip(4))),
    "max_header_bytes": ({"max_header_bytes": 1024},
                         lambda d: (d / "a.safetensors").write_bytes(_safetensors(b"{" + b" " * 2048 + b"}"))),
    "max_file_bytes": ({"max_file_bytes": 1000}, lambda d: (d / "a.pkl").write_bytes(b"\x80\x02" + bytes(2000))),
    "max_files": ({"max_files": 5}, lambda d: [(d / f"f{i}.pkl").write_bytes(b"\x80\x02K\x01.") for i in range(12)]),
    "max_dataset_rows": ({"max_dataset_rows": 50},
                         lambda d: (d / "a.csv").write_text("text,label\n" + "".join(f"row {i},{i % 2}\n"
                                                                                     for i in range(200)))),
    "max_json_depth": ({"max_json_depth": 16},
                       lambda d: (d / "config.json").write_text(json.dumps(
                           {"class_name": "Sequential", "config": {"layers": json.loads("[" * 40 + "]" * 40)}}))),
}


def test_every_scan_limit_has_a_case() -> None:
    covered_elsewhere = {"max_seconds_per_file", "max_worker_memory_bytes", "max_compression_ratio",
                         "max_decompressed_bytes", "max_hash_bytes"}
    assert set(CASES) | covered_elsewhere == set(Limits.names())


@pytest.mark.parametrize("limit", sorted(CASES))
def test_limit_hit_is_reported_never_passed(tmp_path: Path, limit: str) -> None:
    values, build = CASES[limit]
    folder = tmp_path / "scan"
    folder.mkdir()
    build(folder)
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"name: tight\nextends: default\nlimits: {json.dumps(values)}\n")
    report = scan([folder], policy=policy, jobs=0)
    assert not report.trustworthy
    # Named as the error's limit, or (JSON depth, which the parsers report as malformed JSON) in its message.
    assert any(e.limit == limit or limit in e.message for e in report.errors), \
        [(e.limit, e.message) for e in report.errors]
    assert any(f.rule_id == "AISEC-GEN-001" for f in report.findings)
