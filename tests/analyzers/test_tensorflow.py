"""SavedModel / GraphDef walking without TensorFlow: ops in graphs and functions, saver scopes, hostile input."""

from __future__ import annotations

import gen_graphs as gg
import proto_ops as po

from aisec import protobuf_wire as pw
from aisec.analyzers.tensorflow import TensorFlowAnalyzer
from tests.analyzers.util import run
from tests.conftest import FIXTURES

ANALYZER = TensorFlowAnalyzer()


def _ops(data: bytes) -> dict[tuple[str, str], int]:
    result = run(ANALYZER, data)
    assert result.raised is None, result.raised
    return {(str(f.value), str(f.detail["scope"])): int(f.detail["count"]) for f in result.facts
            if f.key == "tf.op"}


def test_saver_ops_are_scoped_to_the_saver() -> None:
    ops = _ops((FIXTURES / "AISEC-MDL-031" / "pass" / "saved_model.pb").read_bytes())
    assert ops[("SaveV2", "save")] == 1
    assert ops[("RestoreV2", "__inference__traced_restore_97")] == 1
    assert ops[("MatMul", "__inference_serve_41")] == 1


def test_custom_saver_scope_comes_from_saver_def() -> None:
    graph = gg.graph([gg.node("x", "Placeholder"), gg.node("save/SaveV2", "SaveV2")])
    assert ("SaveV2", "save") in _ops(gg.saved_model(graph))
    assert ("SaveV2", "save") in _ops(gg.saved_model(graph, saver=False))  # the default TF1 scope name


def test_python_ops_in_functions_are_found() -> None:
    ops = _ops((FIXTURES / "AISEC-MDL-031" / "fail" / "eager_in_function.pb").read_bytes())
    assert ops[("EagerPyFunc", "__inference_hook_7")] == 1


def test_print_to_file_target_is_reported() -> None:
    result = run(ANALYZER, (FIXTURES / "AISEC-MDL-042" / "fail" / "print_to_file.pb").read_bytes())
    assert result.values("tf.print_to_file") == ["file:///tmp/aisec-canary/tf_print"]


def test_frozen_graphdef_counts_distinct_ops() -> None:
    nodes = [gg.node(f"block{i}/mm", "MatMul") for i in range(50)] + [gg.node("r", "ReadFile")]
    result = run(ANALYZER, gg.graph(nodes))
    assert result.values("tf.format") == ["graph_def"]
    assert result.values("tf.node_count") == [51]
    assert "ReadFile" in result.values("tf.op")


def test_truncated_and_corrupt_protobufs_are_errors() -> None:
    data = (FIXTURES / "AISEC-MDL-031" / "fail" / "saved_model.pb").read_bytes()
    cuts = [cut for cut in range(3, len(data) - 1) if pw.classify(data[:cut]) == "tf_savedmodel"]
    assert len(cuts) > len(data) - 40  # sniffing still recognises nearly every truncation …
    for cut in cuts:  # … and the analyzer then reports it as malformed
        assert run(ANALYZER, data[:cut]).raised is not None, f"truncation at {cut} passed silently"
    for at in range(4, len(data) - 8, 9):  # any corruption is either parsed or an ArtifactError, never a crash
        run(ANALYZER, data[:at] + b"\xff" * 8 + data[at + 8:])


def test_unknown_protobuf_is_not_claimed() -> None:
    result = run(ANALYZER, b"\x10\x01\x18\x02")
    assert result.facts == [] and result.raised is None


def test_other_graphdef_shaped_protobufs_are_not_reported_as_graphs() -> None:
    # keras_metadata.pb: SavedMetadata{nodes: SavedObject{node_id=1, node_path=2, identifier=4, metadata=5}}
    saved_object = po.vfield(1, 3) + po.lfield(2, "root.layer-1") + po.lfield(4, "_tf_keras_layer") + \
        po.lfield(5, '{"class_name": "Dense"}')
    data = po.lfield(1, saved_object) + po.lfield(1, po.vfield(1, 4) + po.lfield(2, "root.layer-2"))
    assert pw.classify(data) == "protobuf"
    assert run(ANALYZER, data).facts == []


def test_a_graph_keeps_its_valid_ops_next_to_invalid_names() -> None:
    data = gg.graph([gg.node("a", "ReadFile"), gg.node("b", "not an op")])
    result = run(ANALYZER, data)
    assert result.values("tf.op") == ["ReadFile"]
    assert [f.detail["invalid_op_names"] for f in result.facts if f.key == "tf.node_count"] == [1]
