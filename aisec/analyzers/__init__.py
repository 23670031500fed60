"""The explicit analyzer registry and the fact catalog every rule is checked against."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from aisec.analyzers.base import AnalysisContext, Analyzer, AnalyzerError
from aisec.model import ArtifactKind

K = ArtifactKind


@dataclass(frozen=True, kw_only=True)
class Registration:
    """Where an analyzer lives and which kinds it applies to, known without importing it.

    An analyzer module is imported the first time an artifact of one of its kinds is analysed, so scanning a
    pickle never loads the dataset stack (numpy, scipy, scikit-learn, pyarrow) or the signing stack.
    ``kinds`` repeats the class's own ``kinds`` (a test checks that they agree).
    """

    module: str
    name: str
    kinds: frozenset[ArtifactKind]

    def load(self) -> Analyzer:
        """The analyzer instance (its module is imported on first use)."""
        return _instance(self.module, self.name)


REGISTRY: tuple[Registration, ...] = (
    Registration(module="aisec.analyzers.pickle", name="PickleAnalyzer", kinds=frozenset({K.PICKLE})),
    Registration(module="aisec.analyzers.dataset", name="DatasetAnalyzer",
                 kinds=frozenset({K.CSV, K.JSONL, K.PARQUET, K.JSON_RECORDS})),
    Registration(module="aisec.analyzers.archive", name="ZipArchiveAnalyzer",
                 kinds=frozenset({K.ZIP, K.PYTORCH_ZIP, K.TORCHSCRIPT_ZIP, K.NPZ, K.KERAS_ZIP, K.BINARY,
                                  K.PICKLE})),
    Registration(module="aisec.analyzers.archive", name="TarArchiveAnalyzer", kinds=frozenset({K.TAR})),
    Registration(module="aisec.analyzers.sevenzip", name="SevenZipAnalyzer", kinds=frozenset({K.SEVEN_ZIP})),
    Registration(module="aisec.analyzers.compressed", name="CompressedAnalyzer",
                 kinds=frozenset({K.GZIP, K.BZIP2, K.XZ, K.ZLIB, K.LZ4, K.BINARY})),
    Registration(module="aisec.analyzers.numpy_npy", name="NpyAnalyzer", kinds=frozenset({K.NPY})),
    Registration(module="aisec.analyzers.signature", name="SignatureAnalyzer", kinds=frozenset({K.DIRECTORY})),
    Registration(module="aisec.analyzers.safetensors", name="SafetensorsAnalyzer",
                 kinds=frozenset({K.SAFETENSORS})),
    Registration(module="aisec.analyzers.gguf", name="GGUFAnalyzer", kinds=frozenset({K.GGUF})),
    Registration(module="aisec.analyzers.jinja_template", name="JinjaAnalyzer", kinds=frozenset({K.JINJA})),
    Registration(module="aisec.analyzers.keras", name="KerasAnalyzer",
                 kinds=frozenset({K.HDF5, K.KERAS_ZIP, K.JSON})),
    Registration(module="aisec.analyzers.tensorflow", name="TensorFlowAnalyzer",
                 kinds=frozenset({K.TF_SAVEDMODEL, K.PROTOBUF})),
    Registration(module="aisec.analyzers.onnx", name="OnnxAnalyzer", kinds=frozenset({K.ONNX})),
    Registration(module="aisec.analyzers.hf_folder", name="HFFolderAnalyzer", kinds=frozenset({K.DIRECTORY})),
    Registration(module="aisec.analyzers.hydra_config", name="HydraConfigAnalyzer", kinds=frozenset({K.TEXT})),
    Registration(module="aisec.analyzers.torchserve", name="TorchServeAnalyzer",
                 kinds=frozenset({K.ZIP, K.TAR, K.DIRECTORY})),
    Registration(module="aisec.analyzers.tree_model", name="TreeModelAnalyzer",
                 kinds=frozenset({K.JSON, K.TEXT, K.BINARY})),
    Registration(module="aisec.analyzers.executable", name="ExecutableAnalyzer", kinds=frozenset({K.BINARY})),
    Registration(module="aisec.analyzers.skops", name="SkopsAnalyzer", kinds=frozenset({K.ZIP})),
    Registration(module="aisec.analyzers.r_serialize", name="RSerializeAnalyzer",
                 kinds=frozenset({K.BINARY, K.TEXT})),
    Registration(module="aisec.analyzers.xml_model", name="XmlModelAnalyzer", kinds=frozenset({K.TEXT})),
    Registration(module="aisec.analyzers.oci", name="OciAnalyzer", kinds=frozenset({K.DIRECTORY, K.TAR})),
    Registration(module="aisec.analyzers.flax_msgpack", name="FlaxMsgpackAnalyzer", kinds=frozenset({K.BINARY})),
    Registration(module="aisec.analyzers.model_card", name="ModelCardAnalyzer",
                 kinds=frozenset({K.TEXT, K.JSON, K.CSV, K.JINJA})),
    Registration(module="aisec.analyzers.tflite", name="TFLiteAnalyzer", kinds=frozenset({K.BINARY, K.PROTOBUF})),
)
"""Every analyzer aisec runs, in the order it runs them. Register new analyzers here and nowhere else."""

CORE_FACTS: Mapping[str, str] = MappingProxyType({
    "artifact.kind": "the kind sniffed from the artifact's content",
    "artifact.extension_mismatch": "the kind the file name claims, when the content is something else",
    "artifact.size": "the artifact's size in bytes",
    "artifact.member_kind": "the kind sniffed from an archive member's or embedded payload's content",
    "scan.incomplete": "why (part of) the artifact could not be analyzed: io, malformed, limit, timeout, internal, "
                       "unsupported, encrypted",
})
"""Facts the scanner itself emits for every artifact."""


@cache
def _instance(module: str, name: str) -> Analyzer:
    analyzer: Analyzer = getattr(importlib.import_module(module), name)()
    return analyzer


@cache
def analyzers_for(kind: ArtifactKind) -> tuple[Analyzer, ...]:
    """The analyzers that apply to an artifact kind, in registry order (only their modules are imported)."""
    return tuple(entry.load() for entry in REGISTRY if kind in entry.kinds)


def all_analyzers() -> tuple[Analyzer, ...]:
    """Every registered analyzer (imports every analyzer module)."""
    return tuple(entry.load() for entry in REGISTRY)


def fact_catalog() -> Mapping[str, str]:
    """Every fact key any analyzer (or the scanner) can emit, with its description (imports every analyzer)."""
    catalog = dict(CORE_FACTS)
    for analyzer in all_analyzers():
        for key, description in analyzer.provides.items():
            if key in catalog and catalog[key] != description:
                raise RuntimeError(f"fact {key!r} is declared twice with different meanings")
            catalog[key] = description
    return MappingProxyType(dict(sorted(catalog.items())))


def __getattr__(name: str) -> Any:
    # ``ANALYZERS`` (every instance, in registry order) stays available to fuzzers and tests; building it
    # imports every analyzer module, so the scan path uses ``analyzers_for`` instead.
    if name == "ANALYZERS":
        return all_analyzers()
    raise AttributeError(f"module 'aisec.analyzers' has no attribute {name!r}")


__all__ = ["ANALYZERS", "CORE_FACTS", "REGISTRY", "AnalysisContext", "Analyzer", "AnalyzerError",
           "Registration", "all_analyzers", "analyzers_for", "fact_catalog"]
