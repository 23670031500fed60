"""Keras configs from H5 attributes, .keras zips and JSON: Lambda code, gadgets, custom objects, paths."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import gen_graphs as gg
import pytest

from aisec.analyzers.keras import KerasAnalyzer
from aisec.scan import scan
from tests.analyzers.util import run
from tests.conftest import FIXTURES

ANALYZER = KerasAnalyzer()


def _fixture(rule: str, side: str, name: str) -> bytes:
    return (FIXTURES / rule / side / name).read_bytes()


def test_lambda_bytecode_in_h5_attribute_is_sized_not_unmarshalled() -> None:
    result = run(ANALYZER, _fixture("AISEC-MDL-025", "fail", "lambda_keras2.h5"))
    assert result.raised is None
    lambdas = [f for f in result.facts if f.key == "keras.lambda_layer"]
    assert [(f.value, f.detail["bytecode"], f.detail["bytecode_bytes"]) for f in lambdas] == \
        [("payload", True, len(gg.FAKE_MARSHAL))]
    assert result.values("keras.config_source") == ["h5:model_config"]


def test_lambda_found_at_any_nesting_depth() -> None:
    layer: dict[str, object] = gg._layer("Lambda", {"name": "deep", "function": {"class_name": "__lambda__", "config": {
        "code": base64.b64encode(gg.FAKE_MARSHAL).decode()}}})
    for depth in range(12):
        layer = gg._layer("Functional" if depth % 2 else "Sequential", {"name": f"m{depth}", "layers": [layer]},
                          "keras")
    result = run(ANALYZER, gg.keras_zip(gg.keras3_model(layer)))
    lambdas = [f for f in result.facts if f.key == "keras.lambda_layer"]
    assert len(lambdas) == 1 and lambdas[0].detail["bytecode"] is True
    assert lambdas[0].location.pointer is not None and lambdas[0].location.pointer.count("/layers/") == 13


def test_gadgets_resolve_module_and_function() -> None:
    values = run(ANALYZER, _fixture("AISEC-MDL-027", "fail", "os_system_activation.keras")).values("keras.object")
    assert "os.system" in values
    assert "keras.utils.get_file" in run(ANALYZER, _fixture("AISEC-MDL-027", "fail", "get_file.keras")).values(
        "keras.object")


def test_custom_objects_and_external_references() -> None:
    assert run(ANALYZER, _fixture("AISEC-MDL-045", "fail", "registered_custom.keras")).values(
        "keras.custom_object") == ["Custom>Scaler"]
    refs = [(f.value, f.detail["kind"], f.detail["field"]) for f in run(
        ANALYZER, _fixture("AISEC-MDL-029", "fail", "vocab_absolute.keras")).facts if f.key ==
        "keras.external_reference"]
    assert refs == [("/etc/passwd", "absolute", "vocabulary")]


def test_normal_configs_give_no_risky_facts() -> None:
    for name in ("model.keras", "model.h5", "model.json"):
        result = run(ANALYZER, (FIXTURES / "benign-formats" / name).read_bytes())
        assert result.raised is None
        assert not [f for f in result.facts if f.key in ("keras.lambda_layer", "keras.external_reference",
                                                          "keras.custom_object", "keras.torch_module_wrapper")]
        assert all(str(v).startswith("keras") for v in result.values("keras.object"))


def test_torch_module_wrapper_pickle_is_analyzed_as_a_member(in_repo: object) -> None:
    report = scan(["fixtures/generated/AISEC-MDL-030/fail/torch_wrapper.keras"], policy="audit")
    audit_trail = {"AISEC-MDL-060", "AISEC-MDL-061"}  # info: which allowlist entry admitted each global
    assert [f.rule_id for f in report.findings if f.rule_id not in audit_trail] == ["AISEC-MDL-030"]
    assert "AISEC-MDL-060" in {f.rule_id for f in report.findings}  # the embedded pickle was walked
    assert not report.errors


def test_malformed_config_json_is_an_error_and_non_keras_json_is_ignored() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", b'{"class_name": "Sequential", "config": {"a": 1, "a": 2}}')
        archive.writestr("metadata.json", b"{}")
    assert "not valid JSON" in str(run(ANALYZER, buffer.getvalue()).raised)
    assert run(ANALYZER, json.dumps({"rows": [1, 2, 3]}).encode()).facts == []
    assert run(ANALYZER, b'{"class_name": [1, 2') .facts == []


@pytest.mark.parametrize("data", [b"\x89HDF\r\n\x1a\n" + bytes(100), b"PK\x03\x04" + bytes(100)])
def test_truncated_containers_are_errors(data: bytes) -> None:
    assert run(ANALYZER, data).raised is not None


def test_deeply_nested_config_is_refused() -> None:
    deep = '{"class_name": "Sequential", "config": ' + "[" * 5000 + "]" * 5000 + "}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", deep)
    assert "nested" in str(run(ANALYZER, buffer.getvalue()).raised)
