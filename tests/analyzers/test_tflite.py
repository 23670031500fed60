"""TFLite: custom and Flex ops read from operator_codes as TFLite's schema code reads them; bad offsets fail."""

from __future__ import annotations

import struct

import pytest
import tflite
from gen_tflite import ADD, RELU, SOFTMAX, model  # fixtures/ is on sys.path

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.analyzers.tflite import TFLiteAnalyzer
from aisec.limits import Limits
from aisec.model import Fact
from aisec.source import BytesSource


def analyze(data: bytes) -> list[Fact]:
    context = AnalysisContext(path="model.tflite", limits=Limits())
    facts = list(TFLiteAnalyzer().analyze(BytesSource(data, budget=4 * len(data) + 65536), context))
    assert context.errors == []
    return facts


def test_builtins_only_yield_nothing_and_other_binaries_are_left_alone() -> None:
    assert analyze(model([ADD, RELU, SOFTMAX])) == []
    assert analyze(b"\x18\x00\x00\x00TFL2" + bytes(64)) == []


def test_custom_and_flex_ops_agree_with_tflites_schema_reader() -> None:
    data = model([RELU, "AcmeOp", "FlexReadFile", "FlexibleConv", "TFLite_Detection_PostProcess", RELU, "AcmeOp"])
    facts = analyze(data)
    assert [(f.key, f.value, f.location.pointer) for f in facts] == [
        ("tflite.custom_op", "AcmeOp", "/operator_codes/1"), ("tflite.flex_op", "ReadFile", "/operator_codes/2"),
        ("tflite.custom_op", "FlexibleConv", "/operator_codes/3"),
        ("tflite.custom_op", "TFLite_Detection_PostProcess", "/operator_codes/4")]
    assert [f.detail.get("default_resolver") for f in facts] == [False, None, False, True]
    real = tflite.Model.GetRootAsModel(data, 0)
    customs = [real.OperatorCodes(i).CustomCode().decode() for i in range(real.OperatorCodesLength())
               if max(real.OperatorCodes(i).DeprecatedBuiltinCode(), real.OperatorCodes(i).BuiltinCode()) ==
               tflite.BuiltinOperator.CUSTOM]
    assert customs == ["AcmeOp", "FlexReadFile", "FlexibleConv", "TFLite_Detection_PostProcess"]


def test_builtin_codes_above_127_use_the_wider_field() -> None:
    assert analyze(model([150, RELU])) == []  # deprecated_builtin_code holds the placeholder 127


@pytest.mark.parametrize("cut", [12, 40, 200])
def test_truncated_models_fail_closed(cut: int) -> None:
    data = model([RELU, "FlexWriteFile"])
    with pytest.raises(AnalyzerError):
        analyze(data[:cut])


def test_hostile_offsets_and_lengths_fail_closed() -> None:
    data = bytearray(model(["AcmeOp"]))
    with pytest.raises(AnalyzerError):
        analyze(struct.pack("<I", len(data) + 100) + bytes(data[4:]))  # root past the end
    root = struct.unpack_from("<I", data, 0)[0]
    vtable = root - struct.unpack_from("<i", data, root)[0]
    codes_field = root + struct.unpack_from("<H", data, vtable + 6)[0]
    codes = codes_field + struct.unpack_from("<I", data, codes_field)[0]
    huge = bytearray(data)
    struct.pack_into("<I", huge, codes, 0x7FFFFFFF)  # a vector longer than the file
    with pytest.raises(AnalyzerError):
        analyze(bytes(huge))
    loop = bytearray(data)
    struct.pack_into("<i", loop, root, -(1 << 30))  # the vtable far outside the file
    with pytest.raises(AnalyzerError):
        analyze(bytes(loop))
