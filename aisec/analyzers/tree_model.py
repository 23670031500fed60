"""Native tree-model files (xgboost JSON/UBJSON/``binf``, LightGBM text, CatBoost ``.cbm``): structure and payloads.

These formats exist so that a model can be shared without pickle: their loaders parse numbers and names and run
no Python. What can go wrong is that a file is not what it claims (a pickle under a model's name is caught by
sniffing: GEN-002, MDL-101), carries a pickle stream inside (a string, a byte array, bytes after the model), or
does not parse. The structure is checked with bounded readers; hidden pickles are handed to the pickle analyzer.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator, Mapping

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.analyzers.embedded_pickle import decode_base64_pickle, find_pickles
from aisec.analyzers.ubjson_reader import read_document
from aisec.model import ArtifactKind, Fact
from aisec.source import BytesSource, Source

MAX_UBJSON_ITEMS = 50_000_000
"""UBJSON values read per model (a large forest has a few million; each costs at least one byte)."""
XGBOOST_BOOSTERS = frozenset({"gbtree", "gblinear", "dart"})
XGBOOST_TOP_KEYS = frozenset({"learner", "version", "Config"})
XGBOOST_LEARNER_KEYS = frozenset({"attributes", "feature_names", "feature_types", "gradient_booster",
                                  "learner_model_param", "objective"})
LIGHTGBM_START = re.compile(rb"\A\s*tree\r?\nversion=v\d")
_LIGHTGBM_LINE = re.compile(r"(?:[A-Za-z_][\w]*(?:=.*)?|Tree=\d+|end of trees|feature_importances:|parameters:|"
                            r"\[[^\]\n]*\]|end of parameters|pandas_categorical:.*|[^=\s][^=]*=-?[\d.e+\-]+|)")
"""Every line shape LightGBM's ``SaveModelToString`` writes (``key=value``, sections, ``[param: value]``)."""
CBM_MAGIC = b"CBM1"
BINF_MAGIC = b"binf"
_BINF_PARAM_BYTES = 136
"""xgboost's ``LearnerModelParamLegacy`` (base_score, num_feature, num_class, …, 25 reserved ints)."""
_NAMED_CLAIMS = {".ubj": "xgboost UBJSON", ".cbm": "CatBoost"}
"""Extensions that name one tree-model format: a file wearing them that is not that format is reported."""


class TreeModelAnalyzer:
    """Checks the structure of xgboost, LightGBM and CatBoost model files and finds pickles hidden in them."""

    name = "tree_model"
    kinds = frozenset({ArtifactKind.JSON, ArtifactKind.TEXT, ArtifactKind.BINARY})
    provides: Mapping[str, str] = {
        "treemodel.format": "a native tree-model format recognised by its structure (xgboost-json, xgboost-ubjson, "
                            "xgboost-binary, lightgbm-text, catboost-cbm)",
        "treemodel.embedded_pickle": "a pickle stream (raw or base64) found inside a tree-model file; offset and "
                                     "where it sits are in the details, and it is analyzed as a nested pickle",
        "treemodel.trailing_data": "bytes after the end of a tree-model document (its loader ignores them); value "
                                   "is their count",
        "treemodel.oddity": "a structural oddity of a tree-model file its loader tolerates (an unknown booster or "
                            "section, an unexpected key or line)",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Recognise the format from the first bytes; anything else returns at once."""
        head = source.head(256)
        name = (context.member or context.path).rsplit("!/", 1)[-1].lower()
        if head.startswith(CBM_MAGIC):
            yield from _catboost(source.read_at(0, source.size), context)
        elif head.startswith(BINF_MAGIC):
            yield from _xgboost_binary(source.read_at(0, source.size), context)
        elif head[:1] == b"{" and (b"learner" in head[:32] or name.endswith(".ubj")) and head[1:2] in b"iUIlL":
            yield from _xgboost_ubjson(source.read_at(0, source.size), context)
        elif LIGHTGBM_START.match(head):
            yield from _lightgbm(source.read_at(0, source.size), context)
        elif head.lstrip()[:1] == b"{" and b'"learner"' in head[:64]:
            yield from _xgboost_json(source.read_at(0, source.size), context)
        else:
            claim = next((fmt for ext, fmt in _NAMED_CLAIMS.items() if name.endswith(ext)), None)
            if claim is not None:
                context.error("malformed", f"named as a {claim} model, but its bytes are not one",
                              location=context.at(offset=0))


def _pickles(data: bytes, where: str, context: AnalysisContext, *, base: int = 0) -> Iterator[Fact]:
    for start, end in find_pickles(data):
        yield context.fact("treemodel.embedded_pickle", where, location=context.at(offset=base + start),
                           length=end - start, at=f"byte {base + start}")
        yield from context.analyze_member(f"pickle@{base + start}",
                                          BytesSource(data[start:end], budget=context.limits.max_read_bytes))


def _string_pickles(strings: Iterator[tuple[str, str]], context: AnalysisContext) -> Iterator[Fact]:
    """Pickles inside decoded string values (raw latin-1 or base64), located by their JSON pointer."""
    for pointer, text in strings:
        raw = decode_base64_pickle(text)
        payload = raw if raw is not None else text.encode("latin-1", "replace")
        for start, end in find_pickles(payload):
            yield context.fact("treemodel.embedded_pickle", "base64 string" if raw is not None else "string",
                               location=context.at(pointer=pointer), length=end - start, at=pointer)
            yield from context.analyze_member(f"pickle@{pointer}",
                                              BytesSource(payload[start:end],
                                                          budget=context.limits.max_read_bytes))


def _strings(value: object, pointer: str = "") -> Iterator[tuple[str, str]]:
    stack: list[tuple[str, object]] = [(pointer, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where or "/", item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield where + "/" + _escape(key), key
                stack.append((where + "/" + _escape(key), child))
        elif isinstance(item, list):
            stack.extend((f"{where}/{index}", child) for index, child in enumerate(item))


def _check_xgboost(document: object, fmt: str, context: AnalysisContext) -> Iterator[Fact]:
    """Oddities of an xgboost model document; AnalyzerError when it is not one at all."""
    if not isinstance(document, dict) or not isinstance(document.get("learner"), dict):
        raise AnalyzerError(f"{fmt} document has no 'learner' object: not an xgboost model")
    yield context.fact("treemodel.format", fmt)
    version = document.get("version")
    if not (isinstance(version, list) and len(version) == 3 and all(isinstance(v, int) for v in version)):
        yield context.fact("treemodel.oddity", "version is not [major, minor, patch]",
                           location=context.at(pointer="/version"))
    for key in sorted(set(document) - XGBOOST_TOP_KEYS):
        yield context.fact("treemodel.oddity", f"unexpected top-level key {key[:80]!r}",
                           location=context.at(pointer="/" + _escape(key)))
    learner = document["learner"]
    for key in sorted(set(learner) - XGBOOST_LEARNER_KEYS):
        yield context.fact("treemodel.oddity", f"unexpected learner key {key[:80]!r}",
                           location=context.at(pointer="/learner/" + _escape(key)))
    booster = learner.get("gradient_booster")
    booster_name = booster.get("name") if isinstance(booster, dict) else None
    if booster_name not in XGBOOST_BOOSTERS:
        yield context.fact("treemodel.oddity", f"unknown gradient booster {str(booster_name)[:80]!r}",
                           location=context.at(pointer="/learner/gradient_booster/name"))


def _xgboost_json(data: bytes, context: AnalysisContext) -> Iterator[Fact]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AnalyzerError(f"xgboost JSON model does not parse: {exc}") from None
    except RecursionError:
        raise AnalyzerError("xgboost JSON model nested too deeply to parse") from None
    if not isinstance(document, dict) or "learner" not in document:
        return  # a JSON document that mentions "learner" near its start, not a model
    yield from _check_xgboost(document, "xgboost-json", context)
    yield from _string_pickles(_strings(document), context)


def _xgboost_ubjson(data: bytes, context: AnalysisContext) -> Iterator[Fact]:
    document, end = read_document(data, max_depth=context.limits.max_json_depth, max_items=MAX_UBJSON_ITEMS)
    yield from _check_xgboost(document, "xgboost-ubjson", context)
    if end < len(data):
        yield context.fact("treemodel.trailing_data", len(data) - end, location=context.at(offset=end), at=end)
    yield from _pickles(data, "UBJSON bytes", context)
    yield from _string_pickles(((p, s) for p, s in _strings(document) if decode_base64_pickle(s) is not None),
                               context)


def _xgboost_binary(data: bytes, context: AnalysisContext) -> Iterator[Fact]:
    """The deprecated binary format: ``binf``, the learner parameters, then the objective and booster names."""
    pos = len(BINF_MAGIC) + _BINF_PARAM_BYTES
    names: list[str] = []
    for _ in range(2):
        if pos + 8 > len(data):
            raise AnalyzerError("xgboost binary model ends inside its header")
        (length,) = struct.unpack_from("<Q", data, pos)
        if length > 256 or pos + 8 + length > len(data):
            raise AnalyzerError(f"xgboost binary model has a name of {length} bytes at offset {pos}")
        names.append(data[pos + 8:pos + 8 + length].decode("ascii", "replace"))
        pos += 8 + length
    yield context.fact("treemodel.format", "xgboost-binary", objective=names[0], booster=names[1])
    if names[1] not in XGBOOST_BOOSTERS:
        yield context.fact("treemodel.oddity", f"unknown gradient booster {names[1][:80]!r}",
                           location=context.at(offset=pos))
    context.error("unsupported", "xgboost's deprecated binary model: only the header and names are parsed; the "
                  "trees were searched for pickles, not checked", location=context.at(offset=pos))
    yield from _pickles(data, "binary model", context)


def _lightgbm(data: bytes, context: AnalysisContext) -> Iterator[Fact]:
    text = data.decode("utf-8", "replace")
    yield context.fact("treemodel.format", "lightgbm-text")
    lines = text.split("\n")
    ended = None
    odd = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if ended is not None:
            if line.strip():
                offset = len("\n".join(lines[:number - 1]).encode("utf-8", "replace")) + 1
                yield context.fact("treemodel.trailing_data", len(data) - offset,
                                   location=context.at(line=number, offset=offset), at=offset)
                break
            continue
        if line.startswith("pandas_categorical:"):
            ended = number
            value = line.partition(":")[2]
            try:
                json.loads(value)
            except (ValueError, RecursionError):
                yield context.fact("treemodel.oddity", "pandas_categorical is not JSON",
                                   location=context.at(line=number))
        elif not _LIGHTGBM_LINE.fullmatch(line) and odd < 10:
            odd += 1
            yield context.fact("treemodel.oddity", f"line LightGBM does not write: {line[:80]!r}",
                               location=context.at(line=number))
    if "end of trees" not in text:
        context.error("malformed", "LightGBM model has no 'end of trees' line: truncated or not a model",
                      location=context.at())
    yield from _pickles(data, "text model", context)


def _catboost(data: bytes, context: AnalysisContext) -> Iterator[Fact]:
    """``CBM1``, the core's size, a flatbuffers ``TModelCore`` (root table and vtable checked), optional CTR data."""
    if len(data) < 16:
        raise AnalyzerError("CatBoost model ends inside its header")
    (core_size,) = struct.unpack_from("<I", data, 4)
    core_end = 8 + core_size
    if core_end > len(data) or core_size < 8:
        raise AnalyzerError(f"CatBoost model core of {core_size} bytes does not fit the file")
    (root,) = struct.unpack_from("<I", data, 8)
    table = 8 + root
    if table + 4 > core_end:
        raise AnalyzerError(f"CatBoost flatbuffer root offset {root} points outside the model core")
    (vtable_delta,) = struct.unpack_from("<i", data, table)
    vtable = table - vtable_delta
    if not 8 <= vtable <= core_end - 4:
        raise AnalyzerError(f"CatBoost flatbuffer vtable at {vtable} lies outside the model core")
    vtable_size, table_size = struct.unpack_from("<HH", data, vtable)
    if vtable_size < 4 or vtable_size % 2 or vtable + vtable_size > core_end or table + table_size > core_end:
        raise AnalyzerError("CatBoost flatbuffer vtable sizes do not fit the model core")
    yield context.fact("treemodel.format", "catboost-cbm", core_bytes=core_size, extra_bytes=len(data) - core_end)
    yield from _pickles(data, "CatBoost model", context)


def _escape(key: str) -> str:
    """JSON-pointer escaping of one key."""
    return key.replace("~", "~0").replace("/", "~1")
