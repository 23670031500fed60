"""The explicit analyzer registry and the fact catalog every rule is checked against."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from aisec.analyzers.archive import TarArchiveAnalyzer, ZipArchiveAnalyzer
from aisec.analyzers.base import AnalysisContext, Analyzer, AnalyzerError
from aisec.analyzers.compressed import CompressedAnalyzer
from aisec.analyzers.dataset import DatasetAnalyzer
from aisec.analyzers.gguf import GGUFAnalyzer
from aisec.analyzers.hf_folder import HFFolderAnalyzer
from aisec.analyzers.jinja_template import JinjaAnalyzer
from aisec.analyzers.keras import KerasAnalyzer
from aisec.analyzers.numpy_npy import NpyAnalyzer
from aisec.analyzers.onnx import OnnxAnalyzer
from aisec.analyzers.pickle import PickleAnalyzer
from aisec.analyzers.safetensors import SafetensorsAnalyzer
from aisec.analyzers.sevenzip import SevenZipAnalyzer
from aisec.analyzers.signature import SignatureAnalyzer
from aisec.analyzers.tensorflow import TensorFlowAnalyzer
from aisec.model import ArtifactKind

ANALYZERS: tuple[Analyzer, ...] = (
    PickleAnalyzer(),
    DatasetAnalyzer(),
    ZipArchiveAnalyzer(),
    TarArchiveAnalyzer(),
    SevenZipAnalyzer(),
    CompressedAnalyzer(),
    NpyAnalyzer(),
    SignatureAnalyzer(),
    SafetensorsAnalyzer(),
    GGUFAnalyzer(),
    JinjaAnalyzer(),
    KerasAnalyzer(),
    TensorFlowAnalyzer(),
    OnnxAnalyzer(),
    HFFolderAnalyzer(),
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


def analyzers_for(kind: ArtifactKind) -> tuple[Analyzer, ...]:
    """The analyzers that apply to an artifact kind, in registry order."""
    return tuple(a for a in ANALYZERS if kind in a.kinds)


def fact_catalog() -> Mapping[str, str]:
    """Every fact key any analyzer (or the scanner) can emit, with its description."""
    catalog = dict(CORE_FACTS)
    for analyzer in ANALYZERS:
        for key, description in analyzer.provides.items():
            if key in catalog and catalog[key] != description:
                raise RuntimeError(f"fact {key!r} is declared twice with different meanings")
            catalog[key] = description
    return MappingProxyType(dict(sorted(catalog.items())))


__all__ = ["ANALYZERS", "CORE_FACTS", "AnalysisContext", "Analyzer", "AnalyzerError", "analyzers_for",
           "fact_catalog"]
