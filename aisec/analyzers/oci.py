"""OCI image layouts and ``docker save`` archives (models shipped as containers): blob digests checked.

Every blob of an OCI image is named by the digest of its content (``blobs/sha256/<hex>``); a blob whose bytes
no longer match its name was changed after the image was built, and whatever vouched for the digest (a tag, a
signature, a pinned reference) no longer vouches for it. Layers themselves (tar, tar+gzip, tar+zstd) are files or
members like any other: the archive and compressed analyzers open them under the archive limits and every model
file inside is analysed. Nothing is pulled, loaded or run.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, cast

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.members import SliceSource
from aisec.model import ArtifactKind, Fact
from aisec.source import Source, buffered
from aisec.strictjson import strict_json

LAYOUT_FILE = "oci-layout"
MAX_JSON_BYTES = 4 * 1024 * 1024
"""Largest index or manifest read (real ones are kilobytes)."""
_ALGORITHMS = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[0-9a-f]+")
_BLOB = re.compile(r"^(?:\./)?blobs/(sha256|sha512)/([0-9a-f]+)$")
_CHUNK = 1024 * 1024
_MANIFEST_TYPES = ("manifest", "index")


class OciAnalyzer:
    """Checks an OCI image layout folder (``oci-layout``) or a ``docker save``/OCI tar: blob digests, references."""

    name = "oci"
    kinds = frozenset({ArtifactKind.DIRECTORY, ArtifactKind.TAR})
    provides: Mapping[str, str] = {
        "oci.layout": "the artifact is an OCI image layout (folder) or an image archive (docker save / OCI tar)",
        "oci.digest_mismatch": "a blob whose content does not hash to the digest it is named by (detail actual)",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """A folder with ``oci-layout``, or a tar holding ``oci-layout``/``manifest.json`` and ``blobs/``."""
        folder = context.fs_path
        if isinstance(folder, Path) and folder.is_dir():
            yield from self._folder(folder, context)
        elif source.size:
            yield from self._tar(source, context)

    def _folder(self, folder: Path, context: AnalysisContext) -> Iterator[Fact]:
        if not (folder / LAYOUT_FILE).is_file():
            return
        yield context.fact("oci.layout", "oci-layout", location=context.at(pointer=LAYOUT_FILE))
        _json(folder / LAYOUT_FILE, LAYOUT_FILE, context)
        blobs = folder / "blobs"
        present: set[str] = set()
        count = 0
        for algorithm in sorted(_ALGORITHMS):
            directory = blobs / algorithm
            try:
                names = sorted(os.listdir(directory)) if directory.is_dir() else []
            except OSError as exc:
                context.os_error(f"cannot list blobs/{algorithm}", exc)
                continue
            for name in names:
                count += 1
                if count > context.limits.max_archive_members:
                    context.error("limit", f"more than max_archive_members={context.limits.max_archive_members} "
                                  "blobs; the rest were not verified", limit="max_archive_members")
                    return
                present.add(f"{algorithm}:{name}")
                yield from _verify_file(directory / name, algorithm, name, context)
        self._references(folder, present, context)

    def _references(self, folder: Path, present: set[str], context: AnalysisContext) -> None:
        """Every descriptor the index and its manifests name must be a blob of the layout."""
        index = _json(folder / "index.json", "index.json", context)
        queue = list(_descriptors(index))
        seen: set[str] = set()
        while queue and len(seen) < context.limits.max_archive_members:
            digest, media_type = queue.pop(0)
            if digest in seen:
                continue
            seen.add(digest)
            if digest not in present:
                context.error("malformed", f"blob {digest} ({media_type or 'no media type'}) is referenced but not "
                              "in the layout: the image cannot be scanned whole", location=context.at())
                continue
            if any(kind in media_type for kind in _MANIFEST_TYPES):
                algorithm, _, hexdigest = digest.partition(":")
                queue.extend(_descriptors(_json(folder / "blobs" / algorithm / hexdigest,
                                                f"blobs/{algorithm}/{hexdigest}", context)))

    def _tar(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        import tarfile  # only a tar pays for it (a folder scan runs this analyzer on every folder)

        stream = buffered(source)
        try:
            archive = tarfile.TarFile(fileobj=cast(IO[bytes], stream), mode="r")
        except tarfile.TarError:
            return  # the tar analyzer reports an unreadable tar
        blobs: list[tuple[tarfile.TarInfo, str, str]] = []
        image = False
        count = 0
        try:
            while (info := archive.next()) is not None and count < context.limits.max_archive_members:
                count += 1  # past the limit: the tar analyzer reports it
                name = info.name.removeprefix("./")
                image = image or name in (LAYOUT_FILE, "manifest.json", "repositories")
                match = _BLOB.match(info.name)
                if match and info.isfile():
                    blobs.append((info, match.group(1), match.group(2)))
                archive.members.clear()  # type: ignore[attr-defined]  # headers only, as the tar analyzer does
        except tarfile.TarError:
            pass  # reported by the tar analyzer
        if not image or not blobs:
            return
        yield context.fact("oci.layout", "image-archive")
        for info, algorithm, hexdigest in blobs:
            if info.size > context.limits.max_hash_bytes:
                context.error("limit", f"blob {info.name} is larger than max_hash_bytes="
                              f"{context.limits.max_hash_bytes}: its digest was not verified",
                              location=context.at(pointer=info.name), limit="max_hash_bytes")
                continue
            digest = hashlib.new(algorithm)
            data = SliceSource(source, info.offset_data, info.size)
            for start in range(0, info.size, _CHUNK):
                digest.update(data.read_at(start, min(_CHUNK, info.size - start)))
            yield from _compare(info.name, algorithm, hexdigest, digest.hexdigest(), context)


def _verify_file(path: Path, algorithm: str, name: str, context: AnalysisContext) -> Iterator[Fact]:
    where = f"blobs/{algorithm}/{name}"
    if len(name) != _ALGORITHMS[algorithm] or not _HEX.fullmatch(name):
        yield context.fact("oci.digest_mismatch", where, location=context.at(pointer=where),
                           actual="not a digest name")
        return
    known = context.digests.get(os.path.realpath(path)) if algorithm == "sha256" else None
    if known is None:
        try:
            if path.stat().st_size > context.limits.max_hash_bytes:
                context.error("limit", f"{where} is larger than max_hash_bytes={context.limits.max_hash_bytes}: its "
                              "digest was not verified", location=context.at(pointer=where), limit="max_hash_bytes")
                return
            digest = hashlib.new(algorithm)
            with open(path, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
            known = digest.hexdigest()
        except OSError as exc:
            context.os_error(f"cannot read {where}", exc, location=context.at(pointer=where))
            return
    yield from _compare(where, algorithm, name, known, context)


def _compare(where: str, algorithm: str, named: str, actual: str, context: AnalysisContext) -> Iterator[Fact]:
    if actual != named:
        yield context.fact("oci.digest_mismatch", where, location=context.at(pointer=where),
                           actual=f"{algorithm}:{actual}")


def _json(path: Path, name: str, context: AnalysisContext) -> Any:
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            context.error("limit", f"{name} is larger than {MAX_JSON_BYTES} bytes and was not read",
                          location=context.at(pointer=name), limit="max_header_bytes")
            return None
        data = path.read_bytes()
    except OSError as exc:
        context.os_error(f"cannot read {name}", exc, location=context.at(pointer=name))
        return None
    try:
        return strict_json(data.decode("utf-8"), context.limits.max_json_depth)
    except (UnicodeDecodeError, ValueError) as exc:
        context.error("malformed", f"{name} is not valid JSON ({exc}): the image's references cannot be checked",
                      location=context.at(pointer=name))
        return None


def _descriptors(document: Any) -> Iterator[tuple[str, str]]:
    """(digest, mediaType) of an index's manifests and a manifest's config and layers."""
    if not isinstance(document, dict):
        return
    entries: list[Any] = []
    for key in ("manifests", "layers", "blobs"):
        value = document.get(key)
        if isinstance(value, list):
            entries.extend(value)
    if isinstance(document.get("config"), dict):
        entries.append(document["config"])
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("digest"), str):
            media = entry.get("mediaType")
            yield entry["digest"], media if isinstance(media, str) else ""
