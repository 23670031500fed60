"""Hydra/OmegaConf YAML configs (loose, or inside NeMo ``.nemo`` archives): what ``instantiate`` would call.

``hydra.utils.instantiate`` imports the dotted name in every ``_target_`` and calls it with the sibling keys as
arguments (NeMo's ``restore_from`` does this with the archive's ``model_config.yaml``: CVE-2025-23304). The YAML
is composed into nodes with PyYAML's safe composer and walked; nothing is constructed, resolved or imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.model import ArtifactKind, Fact, Location
from aisec.source import Source

MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""Largest YAML config parsed (real model configs are kilobytes; a NeMo config rarely reaches 100 KB)."""
MAX_NODES = 200_000
"""YAML nodes visited per file; an alias is visited once (an alias bomb cannot multiply the walk)."""
YAML_SUFFIXES = (".yaml", ".yml")
TARGET_KEY = "_target_"
"""The key ``hydra.utils.instantiate`` imports and calls."""
LEGACY_TARGET_KEYS = frozenset({"target", "cls"})
"""Hydra 0.11's keys, still instantiated by NeMo when the mapping also has ``params``."""
NEMO_CONFIG = "model_config.yaml"
"""The config inside a ``.nemo``: NeMo imports its top-level ``target`` class and calls it with the config."""
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_INTERPOLATION = re.compile(r"\$\{\s*([A-Za-z_][\w.\-]*)\s*:")
"""``${resolver:...}``: a resolver call (``${eval:...}`` is commonly registered as Python's eval)."""
PYTHON_TAG = "tag:yaml.org,2002:python/"
_MARKERS = ("_target_", "!!python", "${", "target:", "cls:")
"""Text that makes an unparsable YAML file a config that could not be checked (a scan error, not a pass)."""


class HydraConfigAnalyzer:
    """Reports every ``_target_``, resolver interpolation and PyYAML python tag of a YAML config."""

    name = "hydra"
    kinds = frozenset({ArtifactKind.TEXT})
    provides: Mapping[str, str] = {
        "hydra.target": "a literal Hydra _target_ (the dotted callable hydra.utils.instantiate imports and calls); "
                        "location pointer is the YAML path",
        "hydra.target_unresolved": "a Hydra _target_ that is not a literal dotted name (an interpolation, a "
                                   "non-string): what it calls is decided at load time",
        "hydra.resolver": "an OmegaConf ${resolver:...} interpolation (the resolver name); resolvers such as "
                          "eval run code when the config is resolved",
        "yaml.python_tag": "a PyYAML python/* tag (object/apply, object/new, name, module) that "
                           "yaml.unsafe_load turns into an import or a call",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Only files named ``*.yaml``/``*.yml`` (in a folder or an archive) are read."""
        name = (context.member or context.path).rsplit("!/", 1)[-1].lower()
        if not name.endswith(YAML_SUFFIXES):
            return
        if source.size > MAX_CONFIG_BYTES:
            context.error("limit", f"YAML config larger than {MAX_CONFIG_BYTES} bytes was not parsed",
                          location=context.at(), limit="max_read_bytes")
            return
        text = source.read_at(0, source.size).decode("utf-8", "replace")
        yield from _walk_documents(text, context, nemo=name.rsplit("/", 1)[-1] == NEMO_CONFIG)


@dataclass
class _Walk:
    context: AnalysisContext
    nemo: bool = False
    seen: set[int] = field(default_factory=set)
    visited: int = 0


def _walk_documents(text: str, context: AnalysisContext, *, nemo: bool) -> Iterator[Fact]:
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_cls(text)
    walk = _Walk(context=context, nemo=nemo)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield from _walk(node, "", walk)
    except yaml.YAMLError as exc:
        if not any(marker in text for marker in _MARKERS):
            return  # no loader accepts it, and it holds nothing to instantiate (a Helm or Jinja template)
        raise AnalyzerError(f"malformed YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
            from None
    except RecursionError:
        raise AnalyzerError("YAML nested too deeply to walk") from None
    finally:
        loader.dispose()


def _walk(node: object, pointer: str, walk: _Walk) -> Iterator[Fact]:
    import yaml

    if id(node) in walk.seen:
        return  # an alias of a node already walked: once is enough, and bounds alias bombs
    walk.seen.add(id(node))
    walk.visited += 1
    if walk.visited > MAX_NODES:
        raise AnalyzerError(f"YAML config has more than {MAX_NODES} nodes")
    if len(pointer) > 4096 or pointer.count("/") > walk.context.limits.max_json_depth:
        raise AnalyzerError(f"YAML nested deeper than max_json_depth={walk.context.limits.max_json_depth}")
    assert isinstance(node, yaml.Node)
    tag = str(node.tag or "")
    if tag.startswith(PYTHON_TAG):
        yield walk.context.fact("yaml.python_tag", tag[len(PYTHON_TAG) - len("python/"):],
                                location=_where(walk, node, pointer))
    if isinstance(node, yaml.ScalarNode):
        for match in _INTERPOLATION.finditer(str(node.value)):
            yield walk.context.fact("hydra.resolver", match.group(1), location=_where(walk, node, pointer),
                                    excerpt=str(node.value)[:200])
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, f"{pointer}/{index}", walk)
    elif isinstance(node, yaml.MappingNode):
        keys = {str(k.value) for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
        # Old-style targets count only where they are instantiated: beside "params", or NeMo's top-level class.
        legacy = LEGACY_TARGET_KEYS if "params" in keys or (walk.nemo and not pointer) else frozenset()
        for key, value in node.value:
            key_text = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            child = f"{pointer}/{_escape(key_text)}"
            if key_text == TARGET_KEY or key_text in legacy:
                yield _target(value, child, walk)
            yield from _walk(key, child, walk) if not isinstance(key, yaml.ScalarNode) else iter(())
            yield from _walk(value, child, walk)


def _target(node: object, pointer: str, walk: _Walk) -> Fact:
    import yaml

    where = _where(walk, node, pointer)
    if isinstance(node, yaml.ScalarNode) and str(node.tag).endswith(":str"):
        value = str(node.value).strip()
        if _DOTTED.fullmatch(value):
            return walk.context.fact("hydra.target", value, location=where)
        return walk.context.fact("hydra.target_unresolved", value[:200], location=where)
    kind = type(node).__name__.removesuffix("Node").lower()
    return walk.context.fact("hydra.target_unresolved", f"<{kind}>", location=where)


def _where(walk: _Walk, node: object, pointer: str) -> Location:
    mark = getattr(node, "start_mark", None)
    line = mark.line + 1 if mark is not None else None
    return walk.context.at(pointer=pointer or "/", line=line)


def _escape(key: str) -> str:
    """JSON-pointer escaping of one key."""
    return key.replace("~", "~0").replace("/", "~1")
