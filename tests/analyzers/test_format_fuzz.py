"""Mutated and truncated artifacts: format analyzers report facts or raise ArtifactError, never crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aisec.analyzers.base import Analyzer
from aisec.analyzers.gguf import GGUFAnalyzer
from aisec.analyzers.jinja_template import JinjaAnalyzer
from aisec.analyzers.keras import KerasAnalyzer
from aisec.analyzers.onnx import OnnxAnalyzer
from aisec.analyzers.safetensors import SafetensorsAnalyzer
from aisec.analyzers.tensorflow import TensorFlowAnalyzer
from tests.analyzers.util import run
from tests.conftest import FIXTURES

CASES: list[tuple[Analyzer, str]] = [
    (SafetensorsAnalyzer(), "benign-formats/weights.safetensors"),
    (GGUFAnalyzer(), "benign-formats/llama3.gguf"),
    (GGUFAnalyzer(), "AISEC-MDL-020/fail/big_endian.gguf"),
    (JinjaAnalyzer(), "benign-formats/chat_template.jinja"),
    (KerasAnalyzer(), "benign-formats/model.keras"),
    (KerasAnalyzer(), "benign-formats/model.json"),
    (KerasAnalyzer(), "AISEC-MDL-025/fail/model.json"),
    (TensorFlowAnalyzer(), "benign-formats/saved_model/saved_model.pb"),
    (TensorFlowAnalyzer(), "AISEC-MDL-032/fail/frozen_graph.pb"),
    (OnnxAnalyzer(), "AISEC-MDL-036/pass/local_function.onnx"),
    (OnnxAnalyzer(), "AISEC-MDL-035/fail/parent.onnx"),
]
FUZZ = settings(max_examples=120, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _mutations() -> st.SearchStrategy[list[tuple[int, int]]]:
    return st.lists(st.tuples(st.integers(min_value=0, max_value=1 << 20), st.integers(0, 255)), min_size=1,
                    max_size=6)


@pytest.mark.parametrize(("analyzer", "name"), CASES, ids=[f"{a.name}:{n.rsplit('/', 1)[-1]}" for a, n in CASES])
@FUZZ
@given(edits=_mutations(), cut=st.one_of(st.none(), st.integers(min_value=0, max_value=1 << 20)))
def test_mutations_never_crash(analyzer: Analyzer, name: str, edits: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray((FIXTURES / name).read_bytes())
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        del data[cut % len(data):]
    run(analyzer, bytes(data))  # ArtifactError is captured; any other exception fails the test


@pytest.mark.parametrize("name", ["benign-formats/model.h5", "AISEC-MDL-025/fail/lambda_keras2.h5"])
def test_truncated_hdf5_is_an_error(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 40)):
        result = run(KerasAnalyzer(), data[:cut])
        assert result.raised is not None or not result.facts
