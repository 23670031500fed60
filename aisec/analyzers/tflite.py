"""TensorFlow Lite models (``TFL3`` flatbuffers): custom operators and Flex (select TensorFlow) operators.

A TFLite model names every operator it uses in ``Model.operator_codes``. Builtin operators are TFLite's own
kernels; a ``CUSTOM`` code names a kernel the interpreter must be given (native code registered by the
application), and a custom code starting with ``Flex`` is a TensorFlow op run through the select-TF-ops
delegate, with TensorFlow's own kernels (``FlexReadFile``, ``FlexWriteFile``, ``FlexPyFunc`` …). The flatbuffer
is walked with the bounded reader in ``aisec.analyzers.flatbuffer``; nothing is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.flatbuffer import FlatBuffer
from aisec.model import ArtifactKind, Fact
from aisec.source import Source

IDENTIFIER = b"TFL3"
"""The file identifier TFLite's schema declares (bytes 4-8)."""
MAX_OPERATOR_CODES = 10_000
"""Distinct operators a model may declare (TFLite has about 200 builtins; real models use tens)."""
MAX_SUBGRAPHS = 10_000
# Field indices of tensorflow/lite/schema/schema.fbs (Model, OperatorCode).
MODEL_VERSION, MODEL_OPERATOR_CODES, MODEL_SUBGRAPHS = 0, 1, 2
CODE_DEPRECATED_BUILTIN, CODE_CUSTOM, CODE_VERSION, CODE_BUILTIN = 0, 1, 2, 3
BUILTIN_CUSTOM = 32
FLEX_PREFIX = "Flex"
"""How the converter names a select-TF op: ``Flex`` + the TensorFlow op name (tensorflow/lite/delegates/flex)."""
DEFAULT_RESOLVER_CUSTOM_OPS = frozenset({"TFLite_Detection_PostProcess", "Mfcc", "AudioSpectrogram"})
"""Custom ops TFLite's own ``BuiltinOpResolver`` registers (tensorflow/lite/core/kernels/register.cc): no code
from the model's publisher is needed to run them."""


def is_tflite(head: bytes) -> bool:
    """The schema's file identifier at offset 4."""
    return len(head) >= 8 and head[4:8] == IDENTIFIER


class TFLiteAnalyzer:
    """Reports custom and Flex operators of a TFLite model."""

    name = "tflite"
    kinds = frozenset({ArtifactKind.BINARY, ArtifactKind.PROTOBUF})
    provides: Mapping[str, str] = {
        "tflite.custom_op": "a TFLite custom operator (value its custom_code; detail index, default_resolver: TFLite's "
                            "own resolver registers it): otherwise the interpreter needs native kernel code for it",
        "tflite.flex_op": "a TFLite Flex (select TensorFlow) operator (value the TensorFlow op name; detail "
                          "custom_code): run with TensorFlow's own kernel",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Only files carrying the ``TFL3`` identifier are walked; one that does not parse is a scan error."""
        if not is_tflite(source.head(8)):
            return
        buffer = FlatBuffer(source, what="TFLite model")
        model = buffer.root()
        version = buffer.scalar(model, MODEL_VERSION, "<I", 0)
        codes = buffer.tables(model, MODEL_OPERATOR_CODES, cap=MAX_OPERATOR_CODES)
        buffer.tables(model, MODEL_SUBGRAPHS, cap=MAX_SUBGRAPHS)  # a model whose subgraphs do not parse is broken
        for index, code in enumerate(codes):
            deprecated = buffer.scalar(code, CODE_DEPRECATED_BUILTIN, "<b", 0)
            builtin = max(deprecated, buffer.scalar(code, CODE_BUILTIN, "<i", 0))  # as TFLite's GetBuiltinCode
            if builtin != BUILTIN_CUSTOM:
                continue
            custom = buffer.string(code, CODE_CUSTOM, cap=256) or ""
            where = context.at(pointer=f"/operator_codes/{index}")
            if custom.startswith(FLEX_PREFIX) and custom[len(FLEX_PREFIX):][:1].isupper():  # TF op names
                yield context.fact("tflite.flex_op", custom[len(FLEX_PREFIX):], location=where, custom_code=custom,
                                   schema_version=version)
            else:
                yield context.fact("tflite.custom_op", custom, location=where, index=index,
                                   schema_version=version, default_resolver=custom in DEFAULT_RESOLVER_CUSTOM_OPS)
