"""safetensors header validation: every structural rule, hostile headers, and agreement with the library."""

from __future__ import annotations

import struct
from pathlib import Path

import gen_formats
import pytest
from safetensors import safe_open

from aisec.analyzers.safetensors import SafetensorsAnalyzer
from aisec.errors import LimitExceeded
from aisec.limits import Limits
from tests.analyzers.util import run
from tests.conftest import FIXTURES

ANALYZER = SafetensorsAnalyzer()
DATA16 = bytes(range(16))


def _reasons(data: bytes) -> list[str]:
    result = run(ANALYZER, data)
    assert result.raised is None
    return [str(v) for v in result.values("safetensors.header_invalid")]


def test_library_written_file_is_valid_and_the_library_agrees(tmp_path: Path) -> None:
    data = gen_formats.safetensors_valid()
    result = run(ANALYZER, data)
    assert result.values("safetensors.header_invalid") == []
    assert result.values("safetensors.unused_bytes") == []
    assert result.values("safetensors.tensor_count") == [3]
    assert result.values("safetensors.metadata") == ["format"]
    path = tmp_path / "w.safetensors"
    path.write_bytes(data)
    with safe_open(str(path), framework="numpy") as handle:  # reads the header only
        assert sorted(handle.keys()) == ["embed.weight", "layer.bias", "mask"]
        assert handle.metadata() == {"format": "pt"}


@pytest.mark.parametrize(("name", "reason"), [
    ("duplicate_key", "duplicate_key"), ("overlap", "overlap"), ("out_of_bounds", "out_of_bounds"),
    ("shape_mismatch", "size_mismatch"), ("nan_shape", "header_json"), ("metadata_not_str", "metadata_type"),
    ("length_past_end", "header_length"), ("unknown_dtype", "dtype"),
])
def test_each_invalid_fixture_reports_its_reason(name: str, reason: str, tmp_path: Path) -> None:
    data = (FIXTURES / "AISEC-MDL-023" / "fail" / f"{name}.safetensors").read_bytes()
    assert reason in _reasons(data)
    # Headers aisec rejects are ones the reference implementation rejects too (where it checks them at all).
    if reason in ("overlap", "out_of_bounds", "size_mismatch", "header_length", "unknown_dtype", "dtype"):
        path = tmp_path / "x.safetensors"
        path.write_bytes(data)
        with pytest.raises(Exception), safe_open(str(path), framework="numpy") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                handle.get_tensor(key)


def test_gaps_and_trailing_bytes_are_reported_with_offsets() -> None:
    data = (FIXTURES / "AISEC-MDL-024" / "fail" / "gap.safetensors").read_bytes()
    facts = [f for f in run(ANALYZER, data).facts if f.key == "safetensors.unused_bytes"]
    assert [(f.value, f.detail["where"]) for f in facts] == [(8, "gap")]
    header_len = struct.unpack("<Q", data[:8])[0]
    assert facts[0].location.offset == 8 + header_len + 4
    trailing = (FIXTURES / "AISEC-MDL-024" / "fail" / "trailing_payload.safetensors").read_bytes()
    assert [f.detail["where"] for f in run(ANALYZER, trailing).facts if f.key == "safetensors.unused_bytes"] == \
        ["trailing"]


def test_shorter_than_length_field_is_an_error() -> None:
    assert run(ANALYZER, b"\x10\x00\x00").raised is not None


def test_header_over_max_header_bytes_is_a_limit_not_a_pass() -> None:
    data = gen_formats.safetensors_raw({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, DATA16)
    result = run(ANALYZER, data, limits=Limits(max_header_bytes=20))
    assert isinstance(result.raised, LimitExceeded)
    assert result.raised.limit == "max_header_bytes"


def test_hostile_nesting_and_encoding_do_not_crash() -> None:
    deep = '{"__metadata__": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert _reasons(gen_formats.safetensors_raw(deep, b"")) == ["header_json"]
    shallow_but_over_limit = '{"__metadata__": {"a": ' + "[" * 300 + "]" * 300 + "}}"
    assert _reasons(gen_formats.safetensors_raw(shallow_but_over_limit, b"")) == ["header_json"]
    assert _reasons(struct.pack("<Q", 4) + b'{"\xff}') == ["header_encoding"]
    assert _reasons(gen_formats.safetensors_raw("[]", b"")) == ["header_type"]


def test_huge_shapes_and_bad_types_are_rejected_quickly() -> None:
    huge = {"a": {"dtype": "F32", "shape": [10**18] * 10_000, "data_offsets": [0, 16]}}
    assert _reasons(gen_formats.safetensors_raw(huge, DATA16)) == ["size_mismatch"]
    bools = {"a": {"dtype": "F32", "shape": [True, 4], "data_offsets": [0, 16]}}
    assert _reasons(gen_formats.safetensors_raw(bools, DATA16)) == ["shape"]
    reversed_offsets = {"a": {"dtype": "U8", "shape": [0], "data_offsets": [9, 3]}}
    assert "offsets" in _reasons(gen_formats.safetensors_raw(reversed_offsets, DATA16))
    extra_key = {"a": {"dtype": "U8", "shape": [16], "data_offsets": [0, 16], "x": 1}}
    assert _reasons(gen_formats.safetensors_raw(extra_key, DATA16)) == ["tensor_keys"]


def test_sub_byte_dtypes_and_empty_tensors() -> None:
    f4 = {"a": {"dtype": "F4", "shape": [32], "data_offsets": [0, 16]}, "e": {"dtype": "F32", "shape": [0, 3],
                                                                          "data_offsets": [16, 16]}}
    assert _reasons(gen_formats.safetensors_raw(f4, DATA16)) == []
    odd = {"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}
    assert _reasons(gen_formats.safetensors_raw(odd, DATA16[:2])) == ["shape"]
