"""GGUF header parsing: versions, byte orders, every length checked, and chat templates found in metadata."""

from __future__ import annotations

import struct

import chat_templates as ct
import gen_formats
import pytest

from aisec.analyzers.gguf import GGUFAnalyzer
from aisec.errors import LimitExceeded
from aisec.limits import Limits
from tests.analyzers.util import run

ANALYZER = GGUFAnalyzer()


def test_normal_model_reports_metadata_and_a_clean_template() -> None:
    result = run(ANALYZER, gen_formats.gguf_model(ct.LLAMA3))
    assert result.raised is None and not result.errors
    assert result.values("gguf.version") == [3]
    assert result.values("gguf.architecture") == ["llama"]
    assert result.values("gguf.tensor_count") == [2]
    assert result.values("template.found") == ["tokenizer.chat_template"]
    assert not [f for f in result.facts if f.key in ("template.escape", "template.obfuscation")]


@pytest.mark.parametrize(("version", "big"), [(2, False), (3, False), (3, True), (2, True)])
def test_versions_and_byte_orders(version: int, big: bool) -> None:
    data = gen_formats.gguf([("general.architecture", "llama"), ("tokenizer.chat_template", ct.ESCAPES["cycler"])],
                            version=version, big_endian=big, tensors=1)
    result = run(ANALYZER, data)
    assert result.raised is None
    assert result.values("gguf.byte_order") == ["big" if big else "little"]
    assert "access to cycler.__init__" in result.values("template.escape")


def test_version_1_uses_32_bit_lengths() -> None:
    key, value = b"tokenizer.chat_template", ct.ESCAPES["subclasses"].encode()
    data = b"GGUF" + struct.pack("<III", 1, 0, 1) + struct.pack("<I", len(key)) + key + \
        struct.pack("<II", 8, len(value)) + value
    result = run(ANALYZER, data + bytes(8))
    assert result.raised is None
    assert "access to __subclasses__" in result.values("template.escape")


def test_template_variants_are_all_analyzed() -> None:
    data = gen_formats.gguf_model(ct.LLAMA3, [("tokenizer.chat_template.rag", ct.ESCAPES["globals_os"])])
    facts = [f for f in run(ANALYZER, data).facts if f.key == "template.escape"]
    assert {f.detail["source"] for f in facts} == {"tokenizer.chat_template.rag"}


def test_every_truncation_is_an_error_never_a_crash_or_a_silent_pass() -> None:
    data = gen_formats.gguf_model(ct.CHATML)
    end = len(data) - 2 * 64 - 31  # the generator writes two 64-byte tensors after the header and its padding
    for cut in range(0, end, 7):
        result = run(ANALYZER, data[:cut])
        assert result.raised is not None, f"truncation at {cut} passed silently"


@pytest.mark.parametrize("field", ["string", "array", "kv_count", "tensor_count"])
def test_oversize_lengths_are_checked_before_reading(field: str) -> None:
    head = b"GGUF" + struct.pack("<I", 3)
    if field == "kv_count":
        data = head + struct.pack("<QQ", 0, 2**60)
    elif field == "tensor_count":
        data = head + struct.pack("<QQ", 2**60, 0)
    elif field == "string":
        data = head + struct.pack("<QQ", 0, 1) + struct.pack("<Q", 3) + b"key" + struct.pack("<IQ", 8, 2**62)
    else:
        data = head + struct.pack("<QQ", 0, 1) + struct.pack("<Q", 3) + b"key" + struct.pack("<IIQ", 9, 8, 2**62)
    result = run(ANALYZER, data + bytes(64))
    assert result.raised is not None
    assert len(data) < 200


def test_header_larger_than_max_header_bytes_is_a_limit() -> None:
    data = gen_formats.gguf_model(ct.MISTRAL)
    result = run(ANALYZER, data, limits=Limits(max_header_bytes=200))
    assert isinstance(result.raised, LimitExceeded)


def test_unknown_types_and_versions_are_errors() -> None:
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 77)
    assert "unknown value type" in str(run(ANALYZER, head + bytes(16)).raised)
    assert "unsupported GGUF version" in str(run(ANALYZER, b"GGUF" + struct.pack("<IQQ", 9, 0, 0)).raised)
