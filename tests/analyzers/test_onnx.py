"""ONNX ModelProto walking: external-data escapes (incl. symlinks), custom domains, tensor sizes, nesting."""

from __future__ import annotations

import os
from pathlib import Path

import gen_graphs as gg
import proto_ops as po
import pytest

from aisec.analyzers.onnx import OnnxAnalyzer
from aisec.scan import scan
from tests.analyzers.util import run

ANALYZER = OnnxAnalyzer()


def _external(location: str, length: int = 64) -> bytes:
    return gg.onnx_model([gg.tensor("w", [4, 4], external={"location": location, "offset": "0",
                                                           "length": str(length)})])


def _escape(data: bytes, fs_path: Path | None = None) -> list[tuple[str, str]]:
    result = run(ANALYZER, data, fs_path=fs_path)
    assert result.raised is None, result.raised
    return [(str(f.value), str(f.detail["escape"])) for f in result.facts if f.key == "onnx.external_data"]


@pytest.mark.parametrize(("location", "escape"), [
    ("../w.bin", "parent"), ("sub/../../w.bin", "parent"), ("..\\w.bin", "parent"), ("/etc/passwd", "absolute"),
    ("\\Windows\\w.bin", "absolute"), ("C:\\w.bin", "drive"), ("c:/w.bin", "drive"), ("\\\\host\\share\\w", "unc"),
    ("//host/share/w", "unc"), ("file:///etc/passwd", "url"), ("weights.data", "none"), ("sub/w.data", "none"),
])
def test_lexical_escapes(location: str, escape: str) -> None:
    assert _escape(_external(location)) == [(location, escape)]


def test_symlink_escaping_the_folder_is_caught_without_opening_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"x" * 64)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.data").symlink_to(outside / "secret")
    (model_dir / "inside.data").write_bytes(bytes(64))
    (model_dir / "alias.data").symlink_to(model_dir / "inside.data")
    model = model_dir / "model.onnx"
    assert _escape(_external("weights.data"), model) == [("weights.data", "symlink")]
    assert _escape(_external("alias.data"), model) == [("alias.data", "none")]
    dangling = model_dir / "dangling.data"
    dangling.symlink_to(tmp_path / "nowhere")
    assert _escape(_external("dangling.data"), model) == [("dangling.data", "symlink")]


def test_symlink_fixture_fires_the_rule_through_a_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret.bin").write_bytes(bytes(64))
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(_external("w.data"))
    os.symlink(tmp_path / "secret.bin", folder / "w.data")
    monkeypatch.chdir(tmp_path)
    report = scan(["m"], policy="audit")
    assert "AISEC-MDL-035" in {f.rule_id for f in report.findings}


def test_external_data_shorter_than_declared(tmp_path: Path) -> None:
    (tmp_path / "w.data").write_bytes(bytes(16))
    result = run(ANALYZER, _external("w.data"), fs_path=tmp_path / "model.onnx")
    mismatch = [f for f in result.facts if f.key == "onnx.tensor_data_mismatch"]
    assert [(f.detail["declared"], f.detail["available"]) for f in mismatch] == [(64, 16)]


def test_inline_sizes_and_the_largest_tensor() -> None:
    big = gg.onnx_model([gg.tensor("w", [1 << 40, 1 << 40], raw=po.floats([0.0] * 4))])
    result = run(ANALYZER, big)
    assert result.values("onnx.tensor_data_mismatch") == ["w"]
    assert result.values("onnx.max_tensor_bytes") == [4 * (1 << 80)]
    negative = gg.onnx_model([gg.tensor("n", [-1, 4], raw=po.floats([0.0] * 4))])
    assert run(ANALYZER, negative).values("onnx.tensor_data_mismatch") == ["n"]


def test_domains_normalised_and_local_functions_marked() -> None:
    data = (Path(__file__).parents[2] / "fixtures/generated/AISEC-MDL-036/pass/local_function.onnx").read_bytes()
    facts = {str(f.value): f.detail["local_function"] for f in run(ANALYZER, data).facts if f.key == "onnx.domain"}
    assert facts == {"ai.onnx": False, "local.fn": True}


def test_hostile_subgraph_nesting_is_an_error() -> None:
    graph = po.lfield(1, gg.onnx_node("Relu", ["x"], ["y"]))
    for _ in range(200):
        attribute = po.lfield(1, "then_branch") + po.lfield(6, graph)
        graph = po.lfield(1, po.lfield(4, "If") + po.lfield(5, attribute))
    data = po.vfield(1, 9) + po.lfield(7, graph) + po.lfield(8, po.vfield(2, 17))
    assert "nested deeper" in str(run(ANALYZER, data).raised)


def test_truncations_are_errors() -> None:
    data = _external("weights.data")
    for cut in range(3, len(data) - 1, 3):
        result = run(ANALYZER, data[:cut])
        assert result.raised is not None or result.values("onnx.tensor_count") == [0], f"cut at {cut}"


def test_large_inline_tensor_data_is_skipped_not_read(tmp_path: Path) -> None:
    from aisec.analyzers.base import AnalysisContext
    from aisec.limits import Limits
    from aisec.source import FileSource

    size = 64 * 1024 * 1024  # written sparse: bigger than the in-memory threshold, costs no disk
    head = po.packed(1, [size // 4]) + po.vfield(2, 1) + po.lfield(8, "w")
    raw_tag = po.varint(9 << 3 | 2) + po.varint(size)
    init = po.varint(5 << 3 | 2) + po.varint(len(head) + len(raw_tag) + size) + head + raw_tag
    prefix = po.vfield(1, 9) + po.lfield(8, po.vfield(2, 17)) + po.varint(7 << 3 | 2) + po.varint(len(init) + size) \
        + init
    path = tmp_path / "big.onnx"
    with open(path, "wb") as handle:
        handle.write(prefix)
        handle.truncate(len(prefix) + size)
    limits = Limits(max_read_bytes=1024 * 1024)
    context = AnalysisContext(path="big.onnx", limits=limits, fs_path=path)
    with FileSource(path, budget=limits.max_read_bytes) as source:
        facts = list(ANALYZER.analyze(source, context))
        assert source.bytes_read < 64 * 1024
    assert [f.value for f in facts if f.key == "onnx.max_tensor_bytes"] == [size]
    assert not [f for f in facts if f.key == "onnx.tensor_data_mismatch"]


def test_agrees_with_the_onnx_library_on_a_model_it_built(tmp_path: Path) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnx.external_data_helper import convert_model_to_external_data

    inner = helper.make_graph([helper.make_node("Secret", ["x"], ["y"], domain="org.example.ops")], "then",
                              [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    else_graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "else", [],
                                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    weight = numpy_helper.from_array(np.arange(4096, dtype=np.float32).reshape(64, 64), name="w")
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], then_branch=inner, else_branch=else_graph),
         helper.make_node("MatMul", ["w", "w"], ["z"])], "g",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("org.example.ops", 1)])
    convert_model_to_external_data(model, location="weights.data", size_threshold=0)
    path = tmp_path / "model.onnx"
    onnx.save_model(model, str(path))
    loaded = onnx.load_model(str(path), load_external_data=False)
    library_locations = {e.value for t in loaded.graph.initializer for e in t.external_data if e.key == "location"}

    result = run(ANALYZER, path.read_bytes(), fs_path=path)
    assert result.raised is None
    assert {(f.value, f.detail["escape"]) for f in result.facts if f.key == "onnx.external_data"} == \
        {(loc, "none") for loc in library_locations}
    domains = {str(f.value): f.detail["op"] for f in result.facts if f.key == "onnx.domain"}
    assert domains["org.example.ops"] == "Secret"  # found inside the If subgraph
    assert result.values("onnx.max_tensor_bytes") == [64 * 64 * 4]
    assert not result.values("onnx.tensor_data_mismatch")


@pytest.mark.parametrize("location", ["", "w\x00.data", "a" * 5000])
def test_invalid_locations_are_reported_not_crashed_on(location: str, tmp_path: Path) -> None:
    assert _escape(_external(location), tmp_path / "model.onnx") == [(location, "invalid")]
