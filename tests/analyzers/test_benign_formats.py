"""Benign traps: normal safetensors, GGUF, Keras, ONNX, SavedModel and HF folders give nothing at medium or above."""

from __future__ import annotations

from pathlib import Path

import pytest

from aisec.model import Severity
from aisec.scan import scan
from tests.conftest import FIXTURES

BENIGN = sorted((FIXTURES / "benign-formats").iterdir())


def test_every_format_has_a_benign_trap() -> None:
    names = {p.name for p in BENIGN}
    assert {"weights.safetensors", "llama3.gguf", "model.keras", "model.h5", "onnx_external", "hf_model",
            "saved_model"} <= names


@pytest.mark.parametrize("case", BENIGN, ids=[p.name for p in BENIGN])
def test_benign_trap_is_clean(case: Path, in_repo: Path) -> None:
    report = scan([case.relative_to(in_repo)], policy="default")
    loud = [(f.rule_id, f.message) for f in report.findings if f.severity.rank >= Severity.MEDIUM.rank]
    assert loud == []
    assert report.errors == ()
