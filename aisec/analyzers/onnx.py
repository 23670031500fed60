"""ONNX analyzer: walks ModelProto with the wire reader for external-data paths, custom domains and tensor sizes."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aisec import protobuf_wire as pw
from aisec.analyzers.base import AnalysisContext
from aisec.model import ArtifactKind, Fact
from aisec.source import Source

# Field numbers from onnx/onnx.proto3.
MODEL_GRAPH, MODEL_OPSET, MODEL_TRAINING, MODEL_FUNCTIONS = 7, 8, 20, 25
OPSET_DOMAIN = 1
GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_SPARSE_INITIALIZER = 1, 5, 15
NODE_OP_TYPE, NODE_ATTRIBUTE, NODE_DOMAIN = 4, 5, 7
ATTR_T, ATTR_G, ATTR_TENSORS, ATTR_GRAPHS, ATTR_SPARSE, ATTR_SPARSES = 5, 6, 10, 11, 22, 23
SPARSE_VALUES, SPARSE_INDICES = 1, 2
TENSOR_DIMS, TENSOR_TYPE, TENSOR_NAME, TENSOR_RAW, TENSOR_EXTERNAL, TENSOR_LOCATION = 1, 2, 8, 9, 13, 14
ENTRY_KEY, ENTRY_VALUE = 1, 2
FUNCTION_NAME, FUNCTION_NODE, FUNCTION_DOMAIN = 1, 7, 10
TRAINING_GRAPHS = (1, 2)
EXTERNAL = 1

DTYPE_BITS: Mapping[int, int] = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32,
                                 13: 64, 14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4}
"""Element widths of TensorProto.DataType values with a fixed size (STRING has none)."""
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class _Model:
    domains: dict[str, tuple[str, str]] = field(default_factory=dict)
    """domain -> (where first seen, example op)."""
    node_ops: set[tuple[str, str]] = field(default_factory=set)
    local_functions: set[tuple[str, str]] = field(default_factory=set)
    tensors: list[_Tensor] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class _Tensor:
    name: str
    declared_bits: int | None
    """None when the size cannot be known from the header (strings, unknown types, bad dims)."""
    raw_bytes: int | None
    external: dict[str, str]
    problem: str = ""


class OnnxAnalyzer:
    """Reports external-data locations (and whether they escape the folder), operator domains and tensor sizes."""

    name = "onnx"
    kinds = frozenset({ArtifactKind.ONNX})
    provides: Mapping[str, str] = {
        "onnx.external_data": "a tensor's external-data location; detail 'escape' is none, parent, absolute, "
                              "drive, unc, url, symlink or invalid (empty, NUL, over-long)",
        "onnx.domain": "an operator domain the model imports or uses (ai.onnx for the default domain)",
        "onnx.tensor_data_mismatch": "a tensor whose shape and type declare more bytes than its data holds",
        "onnx.max_tensor_bytes": "the largest tensor size declared by shape and type",
        "onnx.tensor_count": "number of initializer and constant tensors",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Walk the model; external files are stat-ed, never opened."""
        data = pw.load(source)
        model = _Model()
        for item in pw.iter_fields(data):
            if item.wire_type != pw.LEN:
                continue
            if item.number == MODEL_OPSET:
                for sub in pw.iter_fields(data, item.start, item.end):
                    if sub.number == OPSET_DOMAIN and sub.wire_type == pw.LEN:
                        model.domains.setdefault(pw.text(data, sub, 256) or "ai.onnx", ("opset_import", ""))
            elif item.number == MODEL_GRAPH:
                _graph(data, item, model, 0)
            elif item.number == MODEL_TRAINING:
                for sub in pw.iter_fields(data, item.start, item.end):
                    if sub.number in TRAINING_GRAPHS and sub.wire_type == pw.LEN:
                        _graph(data, sub, model, 0)
            elif item.number == MODEL_FUNCTIONS:
                _function(data, item, model)
        yield from self._facts(model, context)

    def _facts(self, model: _Model, context: AnalysisContext) -> Iterator[Fact]:
        for domain, (where, op) in sorted(model.domains.items()):
            ops = {o for d, o in model.node_ops if d == domain}
            local = (bool(ops) and all((domain, o) in model.local_functions for o in ops)) or \
                (not ops and any(d == domain for d, _ in model.local_functions))
            yield context.fact("onnx.domain", domain, location=context.at(pointer=f"domain:{domain}"), where=where,
                               op=op, local_function=local)
        yield context.fact("onnx.tensor_count", len(model.tensors))
        largest: _Tensor | None = None
        folder = _folder(context)
        for tensor in model.tensors:
            loc = context.at(pointer=f"tensor:{tensor.name}")
            available = tensor.raw_bytes
            if tensor.external:
                location = tensor.external.get("location", "")
                escape, size = _external(location, folder)
                yield context.fact("onnx.external_data", location, location=loc, escape=escape, tensor=tensor.name,
                                   exists=size is not None)
                available = _external_length(tensor.external, size)
            if tensor.problem:
                yield context.fact("onnx.tensor_data_mismatch", tensor.name, location=loc, reason=tensor.problem,
                                   declared=-1, available=-1)
                continue
            if tensor.declared_bits is None:
                continue
            declared = (tensor.declared_bits + 7) // 8
            if largest is None or declared > (largest.declared_bits or 0) // 8:
                largest = tensor
            if available is not None and declared > available:
                yield context.fact("onnx.tensor_data_mismatch", tensor.name, location=loc,
                                   reason="shape needs more bytes than the data holds", declared=declared,
                                   available=available)
        if largest is not None and largest.declared_bits is not None:
            yield context.fact("onnx.max_tensor_bytes", (largest.declared_bits + 7) // 8,
                               location=context.at(pointer=f"tensor:{largest.name}"), tensor=largest.name)


def _folder(context: AnalysisContext) -> Path | None:
    """The model's folder on disk; None for archive members, whose external data cannot be resolved."""
    if context.member is not None or context.fs_path is None:
        return None
    return Path(context.fs_path).parent


def _external(location: str, folder: Path | None) -> tuple[str, int | None]:
    """(escape kind, size of the target when it is a regular file inside the folder)."""
    if not location or "\x00" in location or len(location) > 4096:
        return "invalid", None
    if location.startswith(("\\\\", "//")):
        return "unc", None
    if _DRIVE.match(location):
        return "drive", None
    if "://" in location or location.startswith("file:"):
        return "url", None
    if location.startswith(("/", "\\")):
        return "absolute", None
    if ".." in re.split(r"[\\/]", location):
        return "parent", None
    if folder is None:
        return "none", None
    candidate = folder / location
    real_folder = os.path.realpath(folder)
    try:
        real = os.path.realpath(candidate)  # resolves symlinks without opening the target
        if os.path.commonpath([real_folder, real]) != real_folder:
            return "symlink", None
    except (OSError, ValueError):
        return "invalid", None
    try:
        return "none", os.stat(real).st_size
    except (OSError, ValueError):
        return "none", None


def _external_length(entries: dict[str, str], file_size: int | None) -> int | None:
    try:
        offset = int(entries.get("offset", "0") or 0)
        length = int(entries["length"]) if entries.get("length") else None
    except ValueError:
        return 0
    if file_size is None:
        return length
    remaining = max(0, file_size - offset)
    return min(length, remaining) if length is not None else remaining


def _graph(data: pw.Buffer, graph: pw.Field, model: _Model, depth: int) -> None:
    pw.check_depth(depth)
    for item in pw.iter_fields(data, graph.start, graph.end):
        if item.wire_type != pw.LEN:
            continue
        if item.number == GRAPH_NODE:
            _node(data, item, model, depth)
        elif item.number == GRAPH_INITIALIZER:
            model.tensors.append(_tensor(data, item))
        elif item.number == GRAPH_SPARSE_INITIALIZER:
            _sparse(data, item, model)


def _sparse(data: pw.Buffer, sparse: pw.Field, model: _Model) -> None:
    for sub in pw.iter_fields(data, sparse.start, sparse.end):
        if sub.number in (SPARSE_VALUES, SPARSE_INDICES) and sub.wire_type == pw.LEN:
            model.tensors.append(_tensor(data, sub))


def _node(data: pw.Buffer, node: pw.Field, model: _Model, depth: int) -> None:
    op = domain = ""
    attributes = []
    for item in pw.iter_fields(data, node.start, node.end):
        if item.wire_type != pw.LEN:
            continue
        if item.number == NODE_OP_TYPE:
            op = pw.text(data, item, 256)
        elif item.number == NODE_DOMAIN:
            domain = pw.text(data, item, 256)
        elif item.number == NODE_ATTRIBUTE:
            attributes.append(item)
    domain = domain or "ai.onnx"
    model.node_ops.add((domain, op))
    if domain not in model.domains or not model.domains[domain][1]:
        where = model.domains.get(domain, ("node", ""))[0]
        model.domains[domain] = (where, op)
    for attribute in attributes:
        for sub in pw.iter_fields(data, attribute.start, attribute.end):
            if sub.wire_type != pw.LEN:
                continue
            if sub.number in (ATTR_G, ATTR_GRAPHS):
                _graph(data, sub, model, depth + 1)
            elif sub.number in (ATTR_T, ATTR_TENSORS):
                model.tensors.append(_tensor(data, sub))
            elif sub.number in (ATTR_SPARSE, ATTR_SPARSES):
                _sparse(data, sub, model)


def _function(data: pw.Buffer, fn: pw.Field, model: _Model) -> None:
    name = domain = ""
    nodes = []
    for item in pw.iter_fields(data, fn.start, fn.end):
        if item.wire_type != pw.LEN:
            continue
        if item.number == FUNCTION_NAME:
            name = pw.text(data, item, 256)
        elif item.number == FUNCTION_DOMAIN:
            domain = pw.text(data, item, 256)
        elif item.number == FUNCTION_NODE:
            nodes.append(item)
    model.local_functions.add((domain or "ai.onnx", name))
    for node in nodes:
        _node(data, node, model, 1)


def _tensor(data: pw.Buffer, tensor: pw.Field) -> _Tensor:
    dims: list[int] = []
    dtype = 0
    name = ""
    raw: int | None = None
    external: dict[str, str] = {}
    location = 0
    for item in pw.iter_fields(data, tensor.start, tensor.end):
        if item.number == TENSOR_DIMS:
            dims.extend(pw.signed64(v) for v in pw.packed_varints(data, item))
        elif item.number == TENSOR_TYPE and item.wire_type == pw.VARINT:
            dtype = item.value
        elif item.number == TENSOR_NAME and item.wire_type == pw.LEN:
            name = pw.text(data, item, 512)
        elif item.number == TENSOR_RAW and item.wire_type == pw.LEN:
            raw = item.end - item.start
        elif item.number == TENSOR_EXTERNAL and item.wire_type == pw.LEN:
            key = value = ""
            for sub in pw.iter_fields(data, item.start, item.end):
                if sub.number == ENTRY_KEY and sub.wire_type == pw.LEN:
                    key = pw.text(data, sub, 256)
                elif sub.number == ENTRY_VALUE and sub.wire_type == pw.LEN:
                    value = pw.text(data, sub, 8192)
            external[key] = value
        elif item.number == TENSOR_LOCATION and item.wire_type == pw.VARINT:
            location = item.value
    if location != EXTERNAL:
        external = {}
    if any(d < 0 for d in dims):
        return _Tensor(name=name, declared_bits=None, raw_bytes=raw, external=external,
                       problem=f"negative dimension in {dims[:8]}")
    bits = DTYPE_BITS.get(dtype)
    declared = None
    if bits is not None:
        count = 1
        for d in dims:
            count = min(count * d, 1 << 80)  # hostile dims must not build huge integers
        declared = count * bits
    return _Tensor(name=name, declared_bits=declared, raw_bytes=raw if not external else None, external=external)
