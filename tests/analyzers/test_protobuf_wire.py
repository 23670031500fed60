"""The bounded protobuf wire reader and the structural classifier used by sniffing."""

from __future__ import annotations

import gen_graphs
import proto_ops as po
import pytest

from aisec import protobuf_wire as pw
from aisec.model import ArtifactKind
from aisec.sniff import sniff
from tests.analyzers.util import REPO


def test_varints_round_trip_including_negative_int64() -> None:
    for value in (0, 1, 127, 128, 300, 2**63 - 1):
        assert pw.read_varint(po.varint(value), 0, 20) == (value, len(po.varint(value)))
    raw, _ = pw.read_varint(po.varint(-5), 0, 20)
    assert pw.signed64(raw) == -5


def test_truncated_and_overlong_varints_are_errors() -> None:
    with pytest.raises(pw.ProtobufError, match="past the end"):
        pw.read_varint(b"\x80\x80", 0, 2)
    with pytest.raises(pw.ProtobufError, match="longer than"):
        pw.read_varint(b"\xff" * 11, 0, 11)


def test_length_beyond_message_is_an_error() -> None:
    data = po.lfield(1, b"abc")[:-1]
    with pytest.raises(pw.ProtobufError, match="declares 3 bytes"):
        list(pw.iter_fields(data))


def test_groups_and_field_zero_are_rejected() -> None:
    with pytest.raises(pw.ProtobufError, match="wire type 3"):
        list(pw.iter_fields(bytes([1 << 3 | 3])))
    with pytest.raises(pw.ProtobufError, match="field number 0"):
        list(pw.iter_fields(b"\x00\x01"))


def test_packed_and_unpacked_repeated_ints() -> None:
    data = po.packed(1, [3, 4, 5]) + po.vfield(1, 6)
    fields = list(pw.iter_fields(data))
    assert pw.packed_varints(data, fields[0]) == [3, 4, 5]
    assert pw.packed_varints(data, fields[1]) == [6]


@pytest.mark.parametrize(("name", "kind"), [
    ("AISEC-MDL-031/pass/saved_model.pb", ArtifactKind.TF_SAVEDMODEL),
    ("AISEC-MDL-032/fail/frozen_graph.pb", ArtifactKind.PROTOBUF),
    ("AISEC-MDL-035/pass/inline.onnx", ArtifactKind.ONNX),
    ("AISEC-MDL-036/fail/custom_domain.onnx", ArtifactKind.ONNX),
])
def test_sniffing_by_structure_not_name(name: str, kind: ArtifactKind) -> None:
    data = (REPO / "fixtures" / "generated" / name).read_bytes()
    assert sniff(data, name="renamed.bin") is kind


def test_sniff_window_cut_through_a_big_graph_still_classifies() -> None:
    nodes = [gen_graphs.node(f"n{i}", "MatMul", "x", "w") for i in range(4000)]
    data = gen_graphs.saved_model(gen_graphs.graph(nodes))
    assert len(data) > 65536
    assert sniff(data[:65536]) is ArtifactKind.TF_SAVEDMODEL


@pytest.mark.parametrize("head", [
    b"\x08hello world\n", b"\n\nplain text\n", b"\x08\x96\x01", b"\x0a\xff\xff\xff", b"\n# Title\nsome text here\n",
    b"\nname,age\n1,2\n3,4\n", b"\n\x0b\x12\x09\x22\x07" + b"a" * 200 + b"\n",
])
def test_non_protobuf_heads_are_not_classified(head: bytes) -> None:
    assert pw.classify(head) is None
