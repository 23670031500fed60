"""GGUF bytes past the tensors: the data section is laid out from the ggml size table, and what no tensor covers is
sniffed and analyzed like a file (issue 11 §4). Checked on files written by the reference writer (``gguf`` 0.19.0)."""

from __future__ import annotations

import gen_archive as ga
import gen_gguf_layout as gl
import pickle_ops as ops
import pytest

from aisec.analyzers.ggml_types import GGML_TYPE_SIZES, tensor_bytes
from aisec.analyzers.gguf import GGUFAnalyzer
from tests.analyzers.pickle_helpers import analyze_bytes, rule_ids, values
from tests.analyzers.util import run
from tests.conftest import REPO

REAL = REPO / "tests" / "realworld" / "corpus" / "generated" / "gguf"
EVERY_TYPE = REAL / "every_ggml_type_align_default.gguf"
EVIL = ops.system_call_p2(ops.canary_command("gguf_layout_test"))
LAYOUT_KEYS = ("gguf.layout_invalid", "gguf.unused_bytes", "gguf.unknown_tensor_type", "format.unaccounted_payload")


def _layout(data: bytes) -> list[tuple[str, object]]:
    result = run(GGUFAnalyzer(), data)
    assert result.raised is None
    return [(f.key, f.value) for f in result.facts if f.key in LAYOUT_KEYS]


@pytest.mark.parametrize("path", sorted(REAL.glob("*.gguf")), ids=lambda p: p.name)
def test_files_from_the_reference_writer_account_for_every_byte(path: object) -> None:
    """Sizes too small leave tensor bytes in the zero padding (non-zero: unused); too large overlap the next tensor."""
    assert _layout(path.read_bytes()) == []  # type: ignore[attr-defined]


def test_the_every_type_file_really_has_every_type_of_the_table() -> None:
    data = EVERY_TYPE.read_bytes()
    for name, _, _ in GGML_TYPE_SIZES.values():
        assert f"blk.0.{name.lower()}.weight".encode() in data
    assert tensor_bytes(12, 512) == 2 * 144 and tensor_bytes(4, 32) is None


@pytest.mark.parametrize(("tail", "kind"), [
    (EVIL, "pickle"),
    (bytes(4096) + EVIL, "pickle"),  # zero padding before the payload does not hide it
    (ga.build_zip([("x.pkl", EVIL)]), "zip"),
], ids=["pickle", "zeros-then-pickle", "zip"])
def test_payload_after_a_real_file_is_analyzed_like_a_file(tmp_path: object, tail: bytes, kind: str) -> None:
    """Before: GGUF was parsed up to the tensor infos only; anything after them passed with exit 0."""
    facts, findings, errors = analyze_bytes(tmp_path, EVERY_TYPE.read_bytes() + tail, "model.gguf")  # type: ignore[arg-type]
    assert values(facts, "format.unaccounted_payload") == {kind}
    assert {"AISEC-MDL-049", "AISEC-MDL-071", "AISEC-MDL-001"} <= rule_ids(findings)
    assert not errors


def test_payload_in_a_gap_between_tensors() -> None:
    evil = ops.system_call_p2(ops.canary_command("gguf_gap"))
    facts = _layout(gl.fixtures()["AISEC-MDL-049/fail/pickle_in_gguf_gap.gguf"])
    gap = len(evil) + -len(evil) % 32  # the generator keeps the next tensor aligned
    assert ("format.unaccounted_payload", "pickle") in facts and ("gguf.unused_bytes", gap) in facts


def test_payload_hidden_in_padding_of_a_real_file() -> None:
    """A 19-byte protocol-0 pickle fits in the 20 bytes of padding after a tensor: padding must be zeros."""
    data = bytearray(EVERY_TYPE.read_bytes())
    payload = b"cos\nsystem\n(Vid\ntR."
    end = len(data) - len(payload)
    assert not data[end:].strip(b"\x00"), "the last tensor's padding is where the payload goes"
    data[end:] = payload
    facts = _layout(bytes(data))
    assert ("format.unaccounted_payload", "pickle") in facts
    assert [k for k, _ in facts if k == "gguf.unused_bytes"]


@pytest.mark.parametrize(("case", "code"), [
    ("truncated", "out_of_bounds"), ("overlap", "overlap"), ("misaligned", "misaligned"),
    ("alignment_not_power_of_two", "alignment"),
])
def test_broken_layouts_are_reported(case: str, code: str) -> None:
    facts = _layout(gl.fixtures()[f"AISEC-MDL-070/fail/{case}.gguf"])
    assert ("gguf.layout_invalid", code) in facts


def test_truncation_inside_tensor_data_is_a_layout_finding_not_a_payload() -> None:
    data = EVERY_TYPE.read_bytes()
    facts = _layout(data[: len(data) - 300])
    assert {k for k, _ in facts} == {"gguf.layout_invalid"}


def test_unknown_type_is_reported_and_does_not_hide_the_rest() -> None:
    facts = _layout(gl.fixtures()["AISEC-MDL-072/fail/removed_type_q4_2.gguf"])
    assert facts == [("gguf.unknown_tensor_type", 4)]


def test_quantized_layout_with_custom_alignment_is_quiet() -> None:
    assert _layout(gl.quantized()) == []
    assert _layout((REAL / "every_ggml_type_align_64.gguf").read_bytes()) == []
