"""TorchServe model archives (``.mar``): the handler and every Python file that TorchServe imports at serve time.

A ``.mar`` is a zip with ``MAR-INF/MANIFEST.json`` (written by ``torch-model-archiver``). TorchServe extracts it,
puts the folder on ``sys.path`` and imports the handler module the manifest names (unless it is one of its
built-in handlers), so the handler and any extra ``.py`` file are remote code. They are parsed with ``ast`` and
checked as Hugging Face ``auto_map`` modules are; the serialized model (pickle, TorchScript) is a member the zip
analyzer already analyses as a nested artifact. Nothing is imported or run.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import IO, Any, cast

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.members import SliceSource
from aisec.analyzers.zipread import MemberUnreadable, ZipMember, find_eocd, read_listing, read_member
from aisec.model import ArtifactKind, Fact, Location
from aisec.source import Source, buffered
from aisec.strictjson import strict_json

Reader = Callable[[int], "bytes | None"]
"""Reads one member (at most the given number of bytes; None after recording why it could not)."""
MANIFEST = "MAR-INF/MANIFEST.json"
MAX_MANIFEST_BYTES = 1024 * 1024
"""Largest manifest read (the archiver writes a few hundred bytes)."""
MAX_CODE_BYTES = 4 * 1024 * 1024
"""Largest Python member or requirements file parsed; a larger one is reported as not fully scanned."""
MAX_CODE_FILES = 200
"""Python members parsed per archive; the rest are reported as not fully scanned."""
_REQUIREMENT_OPTIONS = re.compile(r"^(?:-e|--editable|-i|--index-url|--extra-index-url|-f|--find-links|"
                                  r"--trusted-host|-r|--requirement|-c|--constraint)\b")
_URL = re.compile(r"(?:^|[\s@])(?:[a-z][a-z0-9+.-]*://|git\+|hg\+|svn\+|bzr\+|file:)", re.I)
_LOCAL_PATH = re.compile(r"^(?:\.{1,2}/|/|~|[A-Za-z]:\\)|\.(?:whl|tar\.gz|zip|tgz)$")


class TorchServeAnalyzer:
    """Reads a ``.mar``'s manifest, its handler and extra Python files, and its requirements file."""

    name = "torchserve"
    kinds = frozenset({ArtifactKind.ZIP, ArtifactKind.TAR, ArtifactKind.DIRECTORY})
    provides: Mapping[str, str] = {
        "torchserve.handler": "the handler a TorchServe archive's manifest names; detail builtin (one of "
                              "TorchServe's default handlers) and exists (its module is a member of the archive)",
        "torchserve.code_import": "a module a Python file in a TorchServe archive imports (detail file, line)",
        "torchserve.code_call": "a call a Python file in a TorchServe archive makes, resolved through its imports "
                                "(detail file, line)",
        "torchserve.code_obfuscation": "a Python file in a TorchServe archive passes decoded data to exec/eval/"
                                       "import/unpickling (detail file, line)",
        "torchserve.requirement": "a line of the archive's requirements file, which TorchServe pip-installs when "
                                  "install_py_dep_per_model is on; detail origin: index, url, path or option",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """A zip (the default format), a tar (``--archive-format tgz``, once ungzipped) or a folder
        (``no-archive``) with ``MAR-INF/MANIFEST.json``; anything else is not a TorchServe archive."""
        folder = context.fs_path
        if isinstance(folder, Path) and folder.is_dir():
            files = _folder_files(folder, context)
        elif source.head(4) == b"PK\x03\x04" or (source.size and find_eocd(source) is not None):
            files = _zip_files(source, context)
        elif source.size >= 512 and source.read_at(257, 5) == b"ustar":
            files = _tar_files(source, context)
        else:
            return
        roots = sorted(name[:-len(MANIFEST)] for name in files if name.endswith(MANIFEST) and
                       name[:-len(MANIFEST)].count("/") <= 1)
        if not roots:
            return
        root = roots[0]  # "" for zip and folder layouts, "<model name>/" for tgz
        members = {name[len(root):]: read for name, read in files.items() if name.startswith(root)}
        yield from self._archive(root, members, context)

    def _archive(self, root: str, members: dict[str, Reader], context: AnalysisContext) -> Iterator[Fact]:
        manifest = self._manifest(root, members[MANIFEST], context)
        if manifest is None:
            return
        model = manifest.get("model")
        if not isinstance(model, dict):
            context.error("malformed", f"{MANIFEST} has no 'model' object: the handler cannot be checked",
                          location=context.at(pointer=root + MANIFEST))
            return
        handler = model.get("handler")
        if isinstance(handler, str) and handler:
            module = handler.split(":", 1)[0]
            file_name = module if module.endswith(".py") else module.replace(".", "/") + ".py"
            yield context.fact("torchserve.handler", handler,
                               location=context.at(pointer=f"{root}{MANIFEST}#/model/handler"),
                               builtin=_builtin(module), exists=file_name in members, module_file=root + file_name)
        elif handler is not None:
            context.error("malformed", f"{MANIFEST}: the handler is not a name",
                          location=context.at(pointer=root + MANIFEST))
        requirements = model.get("requirementsFile")
        if isinstance(requirements, str) and requirements in members:
            yield from self._requirements(root + requirements, members[requirements], context)
        yield from self._code(root, members, context)

    def _manifest(self, root: str, read: Reader, context: AnalysisContext) -> dict[str, Any] | None:
        data = read(MAX_MANIFEST_BYTES)
        if data is None:
            return None
        try:
            manifest = strict_json(data.decode("utf-8"), context.limits.max_json_depth)
        except (UnicodeDecodeError, ValueError) as exc:
            context.error("malformed", f"{MANIFEST} is not valid JSON ({exc}): the archive's handler cannot be "
                          "checked", location=context.at(pointer=root + MANIFEST))
            return None
        if not isinstance(manifest, dict):
            context.error("malformed", f"{MANIFEST} is not a JSON object",
                          location=context.at(pointer=root + MANIFEST))
            return None
        return manifest

    def _requirements(self, name: str, read: Reader, context: AnalysisContext) -> Iterator[Fact]:
        data = read(MAX_CODE_BYTES)
        if data is None:
            return
        for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            yield context.fact("torchserve.requirement", line[:300], location=context.at(pointer=name, line=number),
                               origin=_origin(line), file=name, line=number)

    def _code(self, root: str, members: dict[str, Reader], context: AnalysisContext) -> Iterator[Fact]:
        from aisec.analyzers.hf_folder import code_facts  # shared with auto_map remote code

        python = sorted(name for name in members if name.endswith(".py"))
        for relative in python[:MAX_CODE_FILES]:
            name = root + relative
            data = members[relative](MAX_CODE_BYTES)
            if data is None:
                continue
            try:
                tree = ast.parse(data, filename=name)
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                context.error("malformed", f"Python file {name} does not parse ({exc}); TorchServe may still "
                              "import it", location=context.at(pointer=name))
                continue
            facts, _relatives = code_facts(tree, name, context, _where)
            for fact in facts:
                yield replace(fact, key=fact.key.replace("hf.remote_code", "torchserve.code"))
        if len(python) > MAX_CODE_FILES:
            context.error("limit", f"more than {MAX_CODE_FILES} Python files; the rest were not parsed",
                          location=context.at(pointer=root + python[MAX_CODE_FILES]), limit="max_archive_members")


def _zip_files(source: Source, context: AnalysisContext) -> dict[str, Reader]:
    listing = read_listing(source, context.limits)
    return {m.name: partial(_read, source, m, context=context) for m in listing.members if not m.is_dir}


def _tar_files(source: Source, context: AnalysisContext) -> dict[str, Reader]:
    import tarfile  # only a tar .mar pays for it (a folder scan runs this analyzer on every folder)

    files: dict[str, Reader] = {}
    try:
        archive = tarfile.TarFile(fileobj=cast(IO[bytes], buffered(source)), mode="r")
        while (info := archive.next()) is not None and len(files) < context.limits.max_archive_members:
            if info.isfile():
                files[info.name.removeprefix("./")] = partial(_slice, SliceSource(source, info.offset_data, info.size),
                                                              info.name, context=context)
            archive.members.clear()  # type: ignore[attr-defined]  # headers only, as the tar analyzer does
    except tarfile.TarError:
        pass  # the tar analyzer reports a broken tar
    return files


def _folder_files(folder: Path, context: AnalysisContext) -> dict[str, Reader]:
    if not (folder / MANIFEST).is_file():
        return {}
    files: dict[str, Reader] = {}
    for path in sorted(folder.rglob("*"))[:context.limits.max_archive_members]:
        if path.is_file() and not path.is_symlink():
            name = path.relative_to(folder).as_posix()
            files[name] = partial(_file, path, name, context=context)
    return files


def _slice(data: Source, name: str, cap: int, *, context: AnalysisContext) -> bytes | None:
    if data.size > cap:
        context.error("limit", f"{name} could not be read ({data.size} bytes, cap {cap})",
                      location=context.at(pointer=name), limit="max_read_bytes")
        return None
    return data.read_at(0, data.size)


def _file(path: Path, name: str, cap: int, *, context: AnalysisContext) -> bytes | None:
    try:
        if path.stat().st_size > cap:
            context.error("limit", f"{name} could not be read ({path.stat().st_size} bytes, cap {cap})",
                          location=context.at(pointer=name), limit="max_read_bytes")
            return None
        return path.read_bytes()
    except OSError as exc:
        context.os_error(f"cannot read {name}", exc, location=context.at(pointer=name))
        return None


BUILTIN_HANDLERS = frozenset({"image_classifier", "text_classifier", "object_detector", "image_segmenter"})
"""The default handlers ``torch-model-archiver --handler`` accepts by name (they ship inside TorchServe)."""


def _builtin(module: str) -> bool:
    return module in BUILTIN_HANDLERS or module.removeprefix("ts.torch_handler.") in BUILTIN_HANDLERS


def _origin(line: str) -> str:
    """Where pip would take a requirement from: the configured index, a URL/VCS, a local path, or an option."""
    if _REQUIREMENT_OPTIONS.match(line):
        return "option"
    if _URL.search(line):
        return "url"
    if _LOCAL_PATH.search(line.split(";", 1)[0].strip()):
        return "path"
    return "index"


def _where(context: AnalysisContext, file_name: str, **fields: Any) -> Location:
    return context.at(pointer=file_name, **fields)


def _read(source: Source, member: ZipMember, cap: int, *, context: AnalysisContext) -> bytes | None:
    """A small member's bytes, or None with a scan error (too large, encrypted, unsupported, corrupt, a bomb)."""
    try:
        return read_member(source, member, limits=context.limits, cap=cap)
    except MemberUnreadable as exc:
        context.error(exc.reason, str(exc), location=context.at(pointer=member.name), limit=exc.limit)
        return None
