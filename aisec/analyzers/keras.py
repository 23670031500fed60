"""Keras analyzer: walks model configs (H5 attribute, .keras v3 config.json, legacy JSON) for code and gadgets."""

from __future__ import annotations

import ast
import base64
import binascii
import contextlib
import json
import lzma
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.hf_folder import REMOTE_CODE_FACTS, UNIMPORTED_MODULES, code_facts
from aisec.errors import ArtifactError, LimitExceeded
from aisec.model import ArtifactKind, Fact, Location
from aisec.source import BytesSource, Source, buffered
from aisec.strictjson import strict_json

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{1,15}://\S+$")
_ABSOLUTE = re.compile(r"^(?:/[^\s/]|[A-Za-z]:[\\/]|\\\\[^\\\s]|~/)")
_PARENT = re.compile(r"(?:^|[\\/])\.\.(?:[\\/]|$)")
_MARSHAL_CODE = (0x63, 0xE3)  # TYPE_CODE, with and without FLAG_REF
_CODE_KEYS = frozenset({"function", "code", "module"})
"""Keys whose values are (base64) code or pickles, analyzed separately and not scanned as paths."""


class KerasAnalyzer:
    """Finds Lambda layers, serialized bytecode, foreign modules, custom objects and external paths."""

    name = "keras"
    kinds = frozenset({ArtifactKind.HDF5, ArtifactKind.KERAS_ZIP, ArtifactKind.JSON})
    provides: Mapping[str, str] = {
        "keras.lambda_layer": "a Lambda layer (arbitrary Python run on load or call); detail 'bytecode' says if "
                              "it carries marshalled code",
        "keras.object": "a serialized object's module.class_name (or module.function) the loader resolves",
        "keras.custom_object": "a registered custom object name (package>Name) the loader looks up",
        "keras.external_reference": "a URL or a path outside the model (absolute, ..) in a layer config",
        "keras.torch_module_wrapper": "a TorchModuleWrapper layer, which torch.load-s (unpickles) its module",
        "keras.config_source": "where the model config was read from (h5 attribute, config.json)",
        **REMOTE_CODE_FACTS,
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Read only the config: an HDF5 attribute, a zip member or the JSON file itself."""
        if source.size == 0:
            return
        kind = _kind_of(source)
        if kind == "hdf5":
            config, where = _h5_config(source, context), "h5:model_config"
        elif kind == "zip":
            config, where = _zip_config(source, context), "config.json"
        else:
            config, where = _json_config(source, context), "json"
        if config is None:
            return
        yield context.fact("keras.config_source", where)
        yield from _walk(config, "", 0, context)


def _kind_of(source: Source) -> str:
    head = source.head(8)
    if head.startswith(b"PK"):
        return "zip"
    if head == b"\x89HDF\r\n\x1a\n" or source.read_at(512, 8) == b"\x89HDF\r\n\x1a\n":
        return "hdf5"
    return "json"


def _parse(text: str | bytes, context: AnalysisContext, where: str) -> Any:
    try:
        raw = text.decode("utf-8") if isinstance(text, bytes) else text
        return strict_json(raw, context.limits.max_json_depth)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"Keras model config in {where} is not valid JSON: {exc}") from None


def _h5_config(source: Source, context: AnalysisContext) -> Any:
    import h5py  # only attributes are read; datasets (weights) are never touched

    try:
        with h5py.File(buffered(source), "r") as handle:
            if "model_config" not in handle.attrs:
                return None
            attr = handle.attrs.get_id("model_config")
            size = attr.get_storage_size()
            if size > context.limits.max_header_bytes:
                raise LimitExceeded("max_header_bytes", context.limits.max_header_bytes,
                                    f"model_config attribute is {size} bytes")
            value = handle.attrs["model_config"]
    except LimitExceeded:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ArtifactError(f"cannot read HDF5 attributes: {exc}") from None
    if hasattr(value, "tobytes") and not isinstance(value, (bytes, str)):
        value = value.tobytes() if getattr(value, "ndim", 1) == 0 else b"".join(bytes(v) for v in value.flat)
    if not isinstance(value, (bytes, str)):
        raise ArtifactError(f"model_config attribute has unexpected type {type(value).__name__}")
    return _parse(value, context, "the HDF5 model_config attribute")


def _zip_config(source: Source, context: AnalysisContext) -> Any:
    import zipfile  # only a .keras archive pays for it (this analyzer also reads every config.json)

    try:
        with zipfile.ZipFile(buffered(source)) as archive:
            try:
                info = archive.getinfo("config.json")
            except KeyError:
                return None
            limit = context.limits.max_header_bytes
            if info.file_size > limit:
                raise LimitExceeded("max_header_bytes", limit, f"config.json is {info.file_size} bytes")
            with archive.open(info) as member:
                data = member.read(limit + 1)
    except LimitExceeded:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError, zlib.error,
            lzma.LZMAError) as exc:  # zipfile lets codec errors of a corrupt member through
        raise ArtifactError(f"cannot read config.json from the .keras zip: {exc}") from None
    if len(data) > limit:
        raise LimitExceeded("max_header_bytes", limit, "config.json inflates past max_header_bytes")
    return _parse(data, context, "config.json")


def _json_config(source: Source, context: AnalysisContext) -> Any:
    """A JSON file is a Keras architecture only when it has Keras's shape; anything else is not ours."""
    if source.size > context.limits.max_header_bytes:
        return None
    head = source.head(4096)
    if b'"class_name"' not in head and b'"model_config"' not in head:
        return None
    data = source.read_at(0, source.size)
    try:
        value = _parse(data, context, "the JSON file")
    except ArtifactError:
        if _loader_accepts(data):
            # Keras's json.loads takes duplicate keys (last wins), NaN and deeper nesting: refusing what the
            # loader reads must be a scan error, never a silent pass.
            raise
        return None  # not JSON at all: not for this analyzer to judge
    if isinstance(value, dict) and isinstance(value.get("model_config"), (dict, str)):
        inner = value["model_config"]
        return _parse(inner, context, "model_config") if isinstance(inner, str) else inner
    if isinstance(value, dict) and isinstance(value.get("class_name"), str) and "config" in value:
        return value
    return None


def _loader_accepts(data: bytes) -> bool:
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


def _walk(node: Any, pointer: str, depth: int, context: AnalysisContext) -> Iterator[Fact]:
    """Depth-first over the config; nesting is already bounded by max_json_depth."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk(item, f"{pointer}/{i}", depth + 1, context)
        return
    if not isinstance(node, dict):
        return
    yield from _object(node, pointer, context)
    for key, value in node.items():
        child = f"{pointer}/{_escape(key)}"
        if isinstance(value, str):
            if key not in _CODE_KEYS:
                yield from _reference(key, value, child, context)
        else:
            yield from _walk(value, child, depth + 1, context)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _object(node: dict[str, Any], pointer: str, context: AnalysisContext) -> Iterator[Fact]:
    class_name = node.get("class_name")
    if not isinstance(class_name, str):
        return
    config = node.get("config")
    loc = context.at(pointer=pointer or "/")
    if class_name == "Lambda" and isinstance(config, dict):
        yield from _lambda(config, loc, context)
    if class_name == "TorchModuleWrapper":
        yield context.fact("keras.torch_module_wrapper", str(config.get("name", "")) if isinstance(config, dict)
                           else "", location=loc)
        payload = config.get("module") if isinstance(config, dict) else None
        data = _b64(payload, context) if isinstance(payload, str) else None
        if data:
            yield from context.analyze_member(f"{pointer or '/'}/config/module",
                                              BytesSource(data, budget=context.limits.max_read_bytes))
    module = node.get("module")
    if isinstance(module, str) and module:
        name = f"{module}.{config}" if class_name == "function" and isinstance(config, str) else \
            f"{module}.{class_name}"
        yield context.fact("keras.object", name, location=loc, module=module, class_name=class_name)
    registered = node.get("registered_name")
    if isinstance(registered, str) and ">" in registered:
        yield context.fact("keras.custom_object", registered, location=loc, class_name=class_name)


def _lambda(config: dict[str, Any], loc: Location, context: AnalysisContext) -> Iterator[Fact]:
    function = config.get("function")
    code: Any = None
    if isinstance(function, list) and function:
        code = function[0]  # Keras 2: [base64 marshal, defaults, closure]
    elif isinstance(function, dict):
        inner = function.get("config")
        code = inner.get("code") if isinstance(inner, dict) else None  # Keras 3: {"class_name": "__lambda__"}
    elif isinstance(function, str):
        code = function
    size = 0
    bytecode = False
    if isinstance(code, str):
        data = _b64(code, context)
        # Never unmarshal: only the marker byte of a marshalled code object is looked at.
        if data and data[0] in _MARSHAL_CODE:
            bytecode, size = True, len(data)
    described = function if isinstance(function, str) and not bytecode else ""
    name = str(config.get("name", ""))
    yield context.fact("keras.lambda_layer", name, location=loc, bytecode=bytecode, bytecode_bytes=size,
                       function=described[:200], function_type=str(config.get("function_type", "")))
    if isinstance(code, str) and not bytecode:
        yield from _lambda_source(code, name, loc, context)


def _lambda_source(code: str, name: str, loc: Location, context: AnalysisContext) -> Iterator[Fact]:
    """A Lambda stored as Python source (plain or base64 text) is analyzed like remote code: parsed, never run.

    A bare function name (``scale_inputs``) parses too and yields nothing: it names a registered function.
    """
    candidates = [code]
    data = _b64(code, context)
    if data:
        with contextlib.suppress(UnicodeDecodeError):
            candidates.append(data.decode("utf-8"))
    for text in candidates:
        if len(text) > context.limits.max_header_bytes:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        label = f"Lambda layer '{name}'"
        facts, _ = code_facts(tree, label, context, lambda _ctx, _file, line: replace(loc, line=line),
                              preset=UNIMPORTED_MODULES)
        yield from facts


def _b64(text: str, context: AnalysisContext) -> bytes | None:
    if len(text) < 8 or len(text) > context.limits.max_read_bytes:
        return None
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        try:
            return base64.urlsafe_b64decode(text.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            return None


def _reference(key: str, value: str, pointer: str, context: AnalysisContext) -> Iterator[Fact]:
    if len(value) > 4096:
        return
    kind = None
    if _URL.match(value):
        kind = "url"
    elif _ABSOLUTE.match(value):
        kind = "absolute"
    elif _PARENT.search(value):
        kind = "parent"
    elif "get_file" in value:
        kind = "get_file"
    if kind is not None:
        yield context.fact("keras.external_reference", value, location=context.at(pointer=pointer), kind=kind,
                           field=key)
