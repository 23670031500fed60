"""Dataset manifests: SHA-256, size, row count and label distribution per file, written and compared later."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aisec.datasets import MANIFEST_NAME
from aisec.datasets.settings import DatasetSettings
from aisec.errors import AisecError
from aisec.limits import Limits
from aisec.model import ArtifactKind
from aisec.sniff import SNIFF_BYTES, sniff

if TYPE_CHECKING:
    from aisec.datasets.reading import ReadResult

MANIFEST_VERSION = 1
SIBLING_NAME = MANIFEST_NAME
"""A manifest with this name beside a dataset file is compared automatically when the policy names none."""
DATASET_KINDS = frozenset({ArtifactKind.CSV, ArtifactKind.JSONL, ArtifactKind.PARQUET, ArtifactKind.JSON_RECORDS})


@dataclass(frozen=True, kw_only=True)
class FileSummary:
    """What a manifest records about one dataset file."""

    sha256: str
    size: int
    kind: str
    rows: int
    label_column: str | None = None
    labels: Mapping[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Plain, sorted JSON form."""
        return {"sha256": self.sha256, "size": self.size, "kind": self.kind, "rows": self.rows,
                "label_column": self.label_column, "labels": dict(sorted(self.labels.items()))}


@dataclass(frozen=True, kw_only=True)
class Change:
    """One difference between a manifest and the files on disk."""

    path: str
    change: str
    """``added``, ``removed``, ``sha256``, ``rows``, ``labels``."""
    message: str


def summarise(result: ReadResult, kind: ArtifactKind) -> FileSummary:
    """A summary from one streaming read."""
    return FileSummary(sha256=result.sha256, size=result.bytes_read, kind=kind.value, rows=result.rows,
                       label_column=result.label_column, labels=dict(result.label_counts))


def dataset_files(root: Path) -> Iterator[tuple[str, Path, ArtifactKind]]:
    """Dataset files below ``root`` (or ``root`` itself), identified by content, in sorted order."""
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
                                                 and ".git" not in p.parts)
    for path in paths:
        with open(path, "rb") as handle:
            kind = sniff(handle.read(SNIFF_BYTES), name=path.name)
        if kind in DATASET_KINDS and path.name != SIBLING_NAME:
            rel = path.name if root.is_file() else path.relative_to(root).as_posix()
            yield rel, path, kind


def build_manifest(root: Path, *, settings: DatasetSettings | None = None, limits: Limits | None = None,
                   ) -> dict[str, Any]:
    """Summarise every dataset file below ``root``."""
    settings = settings or DatasetSettings()
    limits = limits or Limits()
    files = {}
    from aisec.datasets.reading import read_dataset  # the readers (pyarrow) load only when files are read

    for rel, path, kind in dataset_files(root):
        result = read_dataset(path, kind, settings=settings, limits=limits)
        files[rel] = summarise(result, kind).as_json()
    return {"format": "aisec-dataset-manifest", "version": MANIFEST_VERSION, "files": files}


def load_manifest(path: Path) -> dict[str, Any]:
    """Read and minimally validate a manifest; problems are :class:`AisecError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AisecError(f"cannot read dataset manifest {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != "aisec-dataset-manifest" or \
            not isinstance(data.get("files"), dict):
        raise AisecError(f"{path} is not an aisec dataset manifest")
    return data


def compare_entry(rel: str, old: Mapping[str, Any], new: FileSummary) -> list[Change]:
    """Differences for one file present in both."""
    changes = []
    if old.get("sha256") != new.sha256:
        before = str(old.get("sha256"))[:12]
        changes.append(Change(path=rel, change="sha256",
                              message=f"content changed (sha256 {before}… → {new.sha256[:12]}…)"))
    if old.get("rows") != new.rows:
        changes.append(Change(path=rel, change="rows", message=f"row count changed ({old.get('rows')} → {new.rows})"))
    old_labels = {str(k): v for k, v in (old.get("labels") or {}).items()}
    if old_labels != dict(new.labels):
        diff = sorted(set(old_labels) | set(new.labels))
        shown = ", ".join(f"{k}: {old_labels.get(k, 0)} → {new.labels.get(k, 0)}" for k in diff
                          if old_labels.get(k, 0) != new.labels.get(k, 0))
        changes.append(Change(path=rel, change="labels", message=f"label distribution changed ({shown})"))
    return changes


def compare(manifest: Mapping[str, Any], current: Mapping[str, FileSummary]) -> list[Change]:
    """Every difference between a manifest and the current files."""
    old_files: Mapping[str, Any] = manifest["files"]
    changes: list[Change] = []
    for rel in sorted(set(old_files) | set(current)):
        if rel not in current:
            changes.append(Change(path=rel, change="removed", message="file listed in the manifest is missing"))
        elif rel not in old_files:
            changes.append(Change(path=rel, change="added", message="file is not in the manifest"))
        else:
            changes.extend(compare_entry(rel, old_files[rel], current[rel]))
    return changes


def check_directory(root: Path, manifest_path: Path, *, settings: DatasetSettings | None = None,
                    limits: Limits | None = None) -> list[Change]:
    """Compare the dataset files below ``root`` against a manifest."""
    manifest = load_manifest(manifest_path)
    settings = settings or DatasetSettings()
    limits = limits or Limits()
    from aisec.datasets.reading import read_dataset

    current = {rel: summarise(read_dataset(path, kind, settings=settings, limits=limits), kind)
               for rel, path, kind in dataset_files(root)}
    return compare(manifest, current)


def entry_for(manifest: Mapping[str, Any], artifact_path: str) -> tuple[str, Mapping[str, Any]] | None:
    """The manifest entry naming this artifact: exact path, else the longest path suffix match."""
    files: Mapping[str, Any] = manifest["files"]
    if artifact_path in files:
        return artifact_path, files[artifact_path]
    best = None
    for rel in files:
        if artifact_path.endswith("/" + rel) and (best is None or len(rel) > len(best)):
            best = rel
    return (best, files[best]) if best is not None else None


def dump(manifest: Mapping[str, Any]) -> str:
    """Deterministic JSON text."""
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def resolve(path_text: str) -> Path:
    """A manifest path from the policy, relative to the working directory."""
    return Path(os.path.expanduser(path_text))


__all__ = ["Change", "FileSummary", "build_manifest", "check_directory", "compare", "compare_entry",
           "dump", "entry_for", "load_manifest"]
