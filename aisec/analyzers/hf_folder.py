"""Hugging Face model folders: remote-code references (auto_map), their Python files, chat templates, formats."""

from __future__ import annotations

import ast
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.jinja_facts import TEMPLATE_FACTS
from aisec.model import ArtifactKind, Fact, Location
from aisec.source import Source
from aisec.strictjson import strict_json

CONFIG_FILES = ("config.json", "tokenizer_config.json", "processor_config.json", "preprocessor_config.json",
                "feature_extractor_config.json", "image_processor_config.json")
"""Files whose ``auto_map`` transformers resolves with ``trust_remote_code=True``."""
TEMPLATE_FILES = ("tokenizer_config.json", "chat_template.json", "processor_config.json")
UNSAFE_KINDS = frozenset({ArtifactKind.PICKLE, ArtifactKind.PYTORCH_ZIP, ArtifactKind.TORCHSCRIPT_ZIP,
                          ArtifactKind.ZLIB, ArtifactKind.GZIP, ArtifactKind.BZIP2, ArtifactKind.XZ,
                          ArtifactKind.LZ4})
"""Kinds that deserialize with pickle (directly or once decompressed)."""
REMOTE_CODE_FACTS: Mapping[str, str] = {
    "hf.remote_code_import": "a module imported by remote code (auto_map modules, Keras Lambda source)",
    "hf.remote_code_call": "a call (resolved through imports) made by remote code (auto_map modules, Keras Lambda "
                           "source)",
    "hf.remote_code_obfuscation": "remote code that decodes data and runs or imports it (exec/eval/compile/"
                                  "__import__ of base64, zlib, codecs, hex, chr or reversed-string output)",
}
"""Facts of the Python source analysis shared by every analyzer that meets source code (parsed, never run)."""
MAX_YAML_BYTES = 4 * 1024 * 1024
"""Largest YAML config whose strings are analyzed as templates."""
MAX_YAML_STRINGS = 100_000
"""Most YAML nodes visited per file (aliases can repeat a subtree many times)."""
MAX_MODULES = 64
"""Most remote-code modules (referenced plus their relative imports) parsed per folder."""
MAX_SNIFFED_FILES = 1000
_BUILTIN_CALLS = frozenset({"exec", "eval", "compile", "__import__", "open", "getattr", "setattr", "globals",
                            "breakpoint", "input"})


class HFFolderAnalyzer:
    """Reads a model folder's configs (bounded) and the remote code they point to (parsed with ``ast`` only)."""

    name = "hf_folder"
    kinds = frozenset({ArtifactKind.DIRECTORY})
    provides: Mapping[str, str] = {
        **TEMPLATE_FACTS,
        "hf.remote_code": "an auto_map entry that makes transformers import code from the repository "
                          "(trust_remote_code); detail 'exists' says if the module file is present",
        **REMOTE_CODE_FACTS,
        "hf.unsafe_format_with_safetensors": "a pickle-based weights file in a folder that also has safetensors",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Everything is read from ``context.fs_path`` (the folder); the empty source is ignored."""
        del source
        if context.fs_path is None:
            return
        folder = Path(context.fs_path)
        modules: list[tuple[str, str]] = []
        for name in CONFIG_FILES:
            config = self._config(folder, name, context)
            if isinstance(config, dict):
                yield from self._auto_map(folder, name, config, modules, context)
        for name in _template_configs(folder, context):
            config = self._config(folder, name, context, report=False)
            if isinstance(config, dict):
                yield from self._templates(name, config, context)
        for name in _yaml_configs(folder):
            yield from self._yaml_templates(folder, name, context)
        yield from self._remote_code(folder, modules, context)
        yield from self._formats(folder, context)

    def _where(self, context: AnalysisContext, name: str, **fields: Any) -> Location:
        return Location(path=f"{context.path}/{name}" if context.path not in ("", ".") else name, **fields)

    def _config(self, folder: Path, name: str, context: AnalysisContext, *, report: bool = True) -> Any:
        data = _read(_inside(folder, name), context.limits.max_header_bytes)
        if data is None:
            return None
        try:
            return strict_json(data.decode("utf-8"), context.limits.max_json_depth)
        except (UnicodeDecodeError, ValueError) as exc:
            if report:
                context.error("malformed", f"{name} is not valid JSON: {exc}", location=self._where(context, name))
            return None

    def _auto_map(self, folder: Path, config_name: str, config: dict[str, Any], modules: list[tuple[str, str]],
                  context: AnalysisContext) -> Iterator[Fact]:
        auto_map = config.get("auto_map")
        if not isinstance(auto_map, dict):
            return
        for auto_class, target in auto_map.items():
            refs = target if isinstance(target, list) else [target]
            for ref in refs:
                if not isinstance(ref, str) or not ref:
                    continue
                other_repo, _, local = ref.rpartition("--")
                module = local.rsplit(".", 1)[0] if "." in local else local
                file_name = module.replace(".", "/") + ".py"
                exists = not other_repo and _is_file(_inside(folder, file_name))
                if exists:
                    modules.append((file_name, config_name))
                yield context.fact("hf.remote_code", ref, location=self._where(
                    context, config_name, pointer=f"/auto_map/{auto_class}"), auto_class=str(auto_class),
                    module_file=file_name, exists=exists, other_repo=other_repo)

    def _templates(self, name: str, config: dict[str, Any], context: AnalysisContext) -> Iterator[Fact]:
        template = config.get("chat_template")
        if isinstance(template, str):
            yield from _template_facts(template, context, source=f"{name}:chat_template",
                                      location=self._where(context, name, pointer="/chat_template"))
        elif isinstance(template, list):
            for i, entry in enumerate(template):
                text = entry.get("template") if isinstance(entry, dict) else None
                if isinstance(text, str):
                    label = entry.get("name", i)
                    yield from _template_facts(text, context, source=f"{name}:chat_template.{label}",
                                              location=self._where(context, name,
                                                                   pointer=f"/chat_template/{i}/template"))

    def _yaml_templates(self, folder: Path, name: str, context: AnalysisContext) -> Iterator[Fact]:
        """Jinja inside a YAML config (``chat_template: |``): parsed with safe_load, strings analyzed as templates.

        A string under a key that names a template is a template; any other string is analyzed only for
        escapes and obfuscation (ordinary YAML that merely contains ``{%`` is not a broken template).
        """
        data = _read(_inside(folder, name), context.limits.max_header_bytes)
        if data is None or (b"{%" not in data and b"{{" not in data):
            return
        if len(data) > MAX_YAML_BYTES:
            context.error("limit", f"{name} holds Jinja but is larger than {MAX_YAML_BYTES} bytes; its templates "
                          "were not analyzed", location=self._where(context, name), limit="max_header_bytes")
            return
        import yaml  # only a YAML config that holds Jinja is parsed

        try:
            document = yaml.safe_load(data)
        except (yaml.YAMLError, ValueError, RecursionError):
            return  # not YAML a loader would read either
        budget = [MAX_YAML_STRINGS]  # aliases can make a small document a huge tree: visit a bounded number
        for pointer, key, text in _strings(document, "", "", 0, budget):
            if "{%" not in text and "{{" not in text:
                continue
            templated = "template" in key.lower()
            for fact in _template_facts(text, context, source=f"{name}:{pointer.lstrip('/').replace('/', '.')}",
                                       location=self._where(context, name, pointer=pointer or "/")):
                if templated or fact.key in ("template.escape", "template.obfuscation"):
                    yield fact

    def _remote_code(self, folder: Path, modules: list[tuple[str, str]], context: AnalysisContext,
                     ) -> Iterator[Fact]:
        queue = list(dict.fromkeys(m for m, _ in modules))
        done: set[str] = set()
        while queue and len(done) < MAX_MODULES:
            file_name = queue.pop(0)
            if file_name in done:
                continue
            done.add(file_name)
            data = _read(_inside(folder, file_name), context.limits.max_header_bytes)
            if data is None:
                continue
            try:
                tree = ast.parse(data, filename=file_name)
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                context.error("malformed", f"remote code {file_name} does not parse: {exc}",
                              location=self._where(context, file_name))
                continue
            facts, relatives = code_facts(tree, file_name, context, self._where)
            yield from facts
            base = file_name.rsplit("/", 1)[0] + "/" if "/" in file_name else ""
            queue.extend(f"{base}{r.replace('.', '/')}.py" for r in relatives
                         if _is_file(_inside(folder, f"{base}{r.replace('.', '/')}.py")))
        if queue and len(done) >= MAX_MODULES:
            context.error("limit", f"more than {MAX_MODULES} remote-code modules; the rest were not parsed",
                          location=self._where(context, queue[0]), limit="max_archive_members")

    def _formats(self, folder: Path, context: AnalysisContext) -> Iterator[Fact]:
        from aisec.discovery import zip_names
        from aisec.sniff import SNIFF_BYTES, sniff

        kinds: dict[str, ArtifactKind] = {}
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)[:MAX_SNIFFED_FILES]
        except OSError as exc:
            context.os_error("cannot list the folder", exc)
            return
        for entry in entries:
            if not entry.is_file(follow_symlinks=False):
                continue
            try:
                with open(entry.path, "rb") as handle:
                    head = handle.read(SNIFF_BYTES)
                    names = zip_names(handle, context.limits) if head.startswith(b"PK") else ()
            except OSError:
                continue
            kinds[entry.name] = sniff(head, zip_names=names, name=entry.name)
        safe = [n for n, k in kinds.items() if k is ArtifactKind.SAFETENSORS]
        if not safe:
            return
        for name, kind in kinds.items():
            if kind in UNSAFE_KINDS:
                yield context.fact("hf.unsafe_format_with_safetensors", name, location=self._where(context, name),
                                   kind=kind.value, safetensors=safe[0])


def _template_facts(text: str, context: AnalysisContext, **where: Any) -> Iterator[Fact]:
    from aisec.analyzers.jinja_template import template_facts  # Jinja loads only when a folder has a template

    return template_facts(text, context, **where)


def _template_configs(folder: Path, context: AnalysisContext) -> list[str]:
    """The known template files, then every other top-level JSON file that has a ``chat_template`` key."""
    names = list(TEMPLATE_FILES)
    for name in _listing(folder, (".json",)):
        if name in names or (name in CONFIG_FILES and name not in TEMPLATE_FILES):
            pass
        if name not in names:
            data = _read(_inside(folder, name), context.limits.max_header_bytes)
            if data is not None and b'"chat_template"' in data:
                names.append(name)
    return names


def _yaml_configs(folder: Path) -> list[str]:
    return _listing(folder, (".yaml", ".yml"))


def _listing(folder: Path, suffixes: tuple[str, ...]) -> list[str]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)[:MAX_SNIFFED_FILES]
    except OSError:
        return []
    return [e.name for e in entries if e.name.lower().endswith(suffixes) and e.is_file(follow_symlinks=False)]


def _strings(node: Any, pointer: str, key: str, depth: int, budget: list[int]) -> Iterator[tuple[str, str, str]]:
    """(JSON pointer, nearest key, text) of the strings in a parsed YAML document (depth- and count-bounded)."""
    budget[0] -= 1
    if depth > 64 or budget[0] < 0:
        return
    if isinstance(node, str):
        yield pointer, key, node
    elif isinstance(node, dict):
        for k, v in node.items():
            name = str(k)
            yield from _strings(v, f"{pointer}/{name.replace('~', '~0').replace('/', '~1')}", name, depth + 1,
                                budget)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, f"{pointer}/{i}", key, depth + 1, budget)


def _inside(folder: Path, name: str) -> Path | None:
    """``folder/name`` if it stays inside the folder once symlinks are resolved, else None.

    Names come from the folder's own configs (``auto_map`` module paths such as ``.tmp.x.Model`` become
    ``/tmp/x.py``): they must never make aisec open a file outside the scanned folder.
    """
    try:
        real_folder = os.path.realpath(folder)
        real = os.path.realpath(os.path.join(real_folder, name))
        if os.path.isabs(name) or os.path.commonpath([real_folder, real]) != real_folder:
            return None
    except (OSError, ValueError):  # NUL bytes, over-long names
        return None
    return Path(real)


def _read(path: Path | None, limit: int) -> bytes | None:
    """A small regular file's bytes (None when absent, outside the folder, not a file, or larger than ``limit``)."""
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the scan
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return os.read(fd, info.st_size)
    finally:
        os.close(fd)


def _is_file(path: Path | None) -> bool:
    if path is None:
        return False
    try:
        return path.is_file()
    except OSError:
        return False


def code_facts(tree: ast.Module, file_name: str, context: AnalysisContext, where: Any, *,
               preset: Mapping[str, str] | None = None) -> tuple[list[Fact], list[str]]:
    """Imports, resolved calls and obfuscated execution of one module, and the relative modules it imports.

    ``where(context, file_name, line=...)`` builds each fact's location; ``preset`` names the code can use
    without importing them (a Lambda runs with its defining module's globals).
    """
    aliases: dict[str, str] = dict(preset or {})
    facts: list[Fact] = []
    relatives: list[str] = []
    seen: set[tuple[str, str]] = set()

    def add(key: str, value: str, line: int) -> None:
        if (key, value) not in seen:
            seen.add((key, value))
            facts.append(context.fact(key, value, location=where(context, file_name, line=line), file=file_name,
                                      line=line))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                    alias.name.split(".")[0]
                add("hf.remote_code_import", alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.module:
                    relatives.append(node.module)
                else:
                    relatives.extend(a.name for a in node.names)
                continue
            module = node.module or ""
            add("hf.remote_code_import", module, node.lineno)
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is None:
                continue
            root, _, rest = name.partition(".")
            if root in aliases:
                resolved = aliases[root] + (f".{rest}" if rest else "")
            elif root in _BUILTIN_CALLS and not rest:
                resolved = f"builtins.{root}"
            else:
                continue
            add("hf.remote_code_call", resolved, node.lineno)
            if resolved in _RUNS_CODE and any(_decodes(arg, aliases) for arg in node.args):
                add("hf.remote_code_obfuscation", resolved, node.lineno)
    return facts, relatives


UNIMPORTED_MODULES: Mapping[str, str] = {name: name for name in (
    "os", "sys", "subprocess", "socket", "shutil", "ctypes", "pty", "marshal", "pickle", "runpy", "requests",
    "urllib", "importlib", "builtins", "codecs", "base64", "zlib")}
"""Module names a Lambda's source may use bare: Keras rebuilds it with its module's globals, which often hold them."""
_RUNS_CODE = frozenset({"builtins.exec", "builtins.eval", "builtins.compile", "builtins.__import__",
                        "importlib.import_module", "marshal.loads", "pickle.loads"})
_DECODERS = frozenset({"b64decode", "b32decode", "b16decode", "a85decode", "b85decode", "standard_b64decode",
                       "urlsafe_b64decode", "decodebytes", "decompress", "unhexlify", "fromhex", "decode",
                       "loads", "rot13", "translate"})


def _decodes(node: ast.expr, aliases: dict[str, str]) -> bool:
    """True when an argument is computed by decoding: a decoder call, ``chr``-built text or a reversed string."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in _DECODERS or (name == "chr" and "chr" not in aliases):
                return True
        if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Slice) and \
                isinstance(sub.slice.step, ast.UnaryOp) and isinstance(sub.slice.step.op, ast.USub):
            return True  # "metsys.so"[::-1]
    return False


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
