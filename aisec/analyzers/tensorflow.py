"""TensorFlow analyzer: walks SavedModel / GraphDef protobufs (no TensorFlow) and reports the ops they run."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from aisec import protobuf_wire as pw
from aisec.analyzers.base import AnalysisContext
from aisec.model import ArtifactKind, Fact
from aisec.source import Source

# Field numbers from tensorflow/core/protobuf/{saved_model,meta_graph,saver}.proto and framework/{graph,node_def,
# function,attr_value}.proto.
SAVED_MODEL_META_GRAPHS = 2
META_GRAPH_DEF, META_SAVER_DEF = 2, 3
SAVER_SAVE_TENSOR = 2
GRAPH_NODE, GRAPH_LIBRARY = 1, 2
LIBRARY_FUNCTION = 1
FUNCTION_SIGNATURE, FUNCTION_NODES = 1, 3
OPDEF_NAME = 1
NODE_NAME, NODE_OP, NODE_ATTR = 1, 2, 5
ATTR_KEY, ATTR_VALUE = 1, 2
ATTRVALUE_S, ATTRVALUE_LIST = 2, 1
LIST_S = 2
_OP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_>]*\Z")
"""What TensorFlow accepts as an op name when it registers ops."""
_TF1_SAVER = re.compile(r"save(?:_\d+)?")
_FILE_ATTRS = frozenset({"output_stream", "debug_urls", "filename", "logdir"})


@dataclass
class _Seen:
    """Distinct (op, scope) pairs with the first node and a count, so huge graphs give few facts."""

    ops: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)
    print_to_file: list[tuple[str, str, str]] = field(default_factory=list)
    nodes: int = 0
    invalid_ops: int = 0
    """Nodes whose op is not an op name TensorFlow could register (other protobufs parsed as a GraphDef)."""


class TensorFlowAnalyzer:
    """Reports every distinct op of a SavedModel or frozen GraphDef, and where it sits (graph or function)."""

    name = "tensorflow"
    kinds = frozenset({ArtifactKind.TF_SAVEDMODEL, ArtifactKind.PROTOBUF})
    provides: Mapping[str, str] = {
        "tf.op": "an op the graph runs; detail 'scope' is the function name, the saver scope or <graph>, "
                 "'node' the first node, 'count' how many nodes",
        "tf.print_to_file": "a PrintV2 or Debug op whose output goes to a file URL",
        "tf.node_count": "number of nodes in the graph and its functions",
        "tf.format": "the protobuf layout recognised (saved_model or graph_def)",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Read the message (bounded by max_read_bytes) and walk graphs and function libraries."""
        data = pw.load(source)
        layout = pw.classify(bytes(data[:65536]))
        seen = _Seen()
        if layout == "tf_savedmodel":
            for item in pw.iter_fields(data):
                if item.number == SAVED_MODEL_META_GRAPHS and item.wire_type == pw.LEN:
                    _meta_graph(data, item, seen)
            if not seen.ops and data[:1] == b"\x12":
                # Field 2 first is also a GraphDef whose function library comes before its nodes.
                layout, seen = "protobuf", _Seen()
        if layout not in ("tf_savedmodel", "protobuf"):
            return
        if layout == "protobuf":
            _graph(data, 0, len(data), seen, saver_scope="")
        if layout == "protobuf" and seen.invalid_ops and not seen.ops:
            return  # GraphDef-shaped but no op name is valid (e.g. keras_metadata.pb): some other message
        yield context.fact("tf.format", "saved_model" if layout == "tf_savedmodel" else "graph_def")
        yield context.fact("tf.node_count", seen.nodes, invalid_op_names=seen.invalid_ops)
        for (op, scope, function), (node, count) in sorted(seen.ops.items()):
            yield context.fact("tf.op", op, location=context.at(pointer=f"{function}/{node}" if function
                                                                 else node),
                               scope=scope, node=node, function=function, count=count)
        for op, node, target in seen.print_to_file:
            yield context.fact("tf.print_to_file", target, location=context.at(pointer=node), op=op, node=node)


def _meta_graph(data: pw.Buffer, meta: pw.Field, seen: _Seen) -> None:
    saver_scope = ""
    graphs = []
    for item in pw.iter_fields(data, meta.start, meta.end):
        if item.number == META_SAVER_DEF and item.wire_type == pw.LEN:
            for sub in pw.iter_fields(data, item.start, item.end):
                if sub.number == SAVER_SAVE_TENSOR and sub.wire_type == pw.LEN:
                    saver_scope = pw.text(data, sub).split("/", 1)[0]
        elif item.number == META_GRAPH_DEF and item.wire_type == pw.LEN:
            graphs.append(item)
    for graph in graphs:
        _graph(data, graph.start, graph.end, seen, saver_scope)


def _graph(data: pw.Buffer, start: int, end: int, seen: _Seen, saver_scope: str) -> None:
    for item in pw.iter_fields(data, start, end):
        if item.wire_type != pw.LEN:
            continue
        if item.number == GRAPH_NODE:
            _node(data, item, seen, function="", saver_scope=saver_scope)
        elif item.number == GRAPH_LIBRARY:
            for fn in pw.iter_fields(data, item.start, item.end):
                if fn.number == LIBRARY_FUNCTION and fn.wire_type == pw.LEN:
                    _function(data, fn, seen)


def _function(data: pw.Buffer, fn: pw.Field, seen: _Seen) -> None:
    name = ""
    nodes = []
    for item in pw.iter_fields(data, fn.start, fn.end):
        if item.number == FUNCTION_SIGNATURE and item.wire_type == pw.LEN:
            for sub in pw.iter_fields(data, item.start, item.end):
                if sub.number == OPDEF_NAME and sub.wire_type == pw.LEN:
                    name = pw.text(data, sub, 512)
        elif item.number == FUNCTION_NODES and item.wire_type == pw.LEN:
            nodes.append(item)
    for node in nodes:
        _node(data, node, seen, function=name or "<unnamed function>", saver_scope="")


def _node(data: pw.Buffer, node: pw.Field, seen: _Seen, *, function: str, saver_scope: str) -> None:
    name = op = ""
    files: list[str] = []
    for item in pw.iter_fields(data, node.start, node.end):
        if item.wire_type != pw.LEN:
            continue
        if item.number == NODE_NAME:
            name = pw.text(data, item, 512)
        elif item.number == NODE_OP:
            op = pw.text(data, item, 256)
        elif item.number == NODE_ATTR:
            files.extend(_file_attrs(data, item))
    seen.nodes += 1
    if not op:
        return
    if not _OP_NAME.match(op):
        seen.invalid_ops += 1
        return
    scope = function or _graph_scope(name, saver_scope)
    key = (op, scope, function)
    first, count = seen.ops.get(key, (name, 0))
    seen.ops[key] = (first, count + 1)
    for target in files:
        seen.print_to_file.append((op, f"{function}/{name}" if function else name, target))


def _graph_scope(name: str, saver_scope: str) -> str:
    """The scope of a top-level node: its saver scope when it has one, else one shared ``<graph>`` scope.

    Keeping every top-level name scope would make one fact per layer of a frozen graph; only saver-like scopes
    (the SaverDef's own, or TF1's default ``save``/``save_N``) matter to the rules, which decide via the policy.
    """
    top = name.split("/", 1)[0] if "/" in name else ""
    if top and (top == saver_scope or _TF1_SAVER.fullmatch(top)):
        return top
    return "<graph>"


def _file_attrs(data: pw.Buffer, entry: pw.Field) -> list[str]:
    """String attributes such as ``output_stream`` or ``debug_urls`` that name a file:// target."""
    key = ""
    values: list[str] = []
    for item in pw.iter_fields(data, entry.start, entry.end):
        if item.number == ATTR_KEY and item.wire_type == pw.LEN:
            key = pw.text(data, item, 256)
        elif item.number == ATTR_VALUE and item.wire_type == pw.LEN:
            for sub in pw.iter_fields(data, item.start, item.end):
                if sub.number == ATTRVALUE_S and sub.wire_type == pw.LEN:
                    values.append(pw.text(data, sub))
                elif sub.number == ATTRVALUE_LIST and sub.wire_type == pw.LEN:
                    values.extend(pw.text(data, s) for s in pw.iter_fields(data, sub.start, sub.end)
                                  if s.number == LIST_S and s.wire_type == pw.LEN)
    if key not in _FILE_ATTRS:
        return []
    return [v for v in values if v.startswith("file://")]
