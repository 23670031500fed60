"""Which scan targets are remote URIs, and how a URI maps to an fsspec protocol and path (standard library only)."""

from __future__ import annotations

import re
from dataclasses import dataclass

PROTOCOLS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "hf": "hf", "http": "http", "https": "https",
             "memory": "memory"}
"""URI scheme → fsspec protocol. ``memory://`` is fsspec's in-process filesystem (library use and tests)."""
BACKEND_MODULES = {"s3": "s3fs", "gcs": "gcsfs", "hf": "huggingface_hub", "http": "aiohttp", "https": "aiohttp",
                   "memory": "fsspec"}
"""The package each protocol needs (all in the ``aisec[remote]`` extra)."""
EXTRA = "aisec[remote]"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True, kw_only=True)
class RemoteObject:
    """One remote file to analyze: plain data a worker (or another machine) can open by itself."""

    uri: str
    """How the report names it (the scheme kept: ``s3://bucket/models/a.pt``)."""
    protocol: str
    """The fsspec protocol (``s3``, ``gcs``, ``hf``, ``https``, ``memory``)."""
    path: str
    """The path inside that filesystem (``bucket/models/a.pt``)."""
    anonymous: bool = False
    """Read without credentials (public buckets and repositories)."""
    size: int = 0


def scheme_of(target: object) -> str | None:
    """The lower-cased URI scheme of ``target`` (``s3``), or None for a local path (``C:\\x`` has no ``://``)."""
    if not isinstance(target, str):
        return None
    match = _SCHEME.match(target)
    return match.group(1).lower() if match else None


def is_remote(target: object) -> bool:
    """Whether ``target`` is a URI with a scheme other than ``file`` (an unknown scheme is remote: it is
    refused with a message, never treated as a local folder named ``x:``)."""
    scheme = scheme_of(target)
    return scheme is not None and scheme != "file"


def protocol_of(uri: str) -> str | None:
    """The fsspec protocol for ``uri``, or None when aisec does not read that scheme."""
    scheme = scheme_of(uri)
    return PROTOCOLS.get(scheme) if scheme else None


def fs_path_of(uri: str) -> str:
    """The path fsspec expects for ``uri``: everything after ``scheme://`` (http keeps the whole URL)."""
    scheme = scheme_of(uri)
    if scheme in ("http", "https"):
        return uri
    return uri.split("://", 1)[1]


def join(base_uri: str, base_path: str, found_path: str) -> str:
    """The report URI of ``found_path`` listed under a target: the target as typed plus the relative part."""
    if found_path.startswith(base_path.rstrip("/") + "/"):
        return base_uri.rstrip("/") + "/" + found_path[len(base_path.rstrip("/")) + 1:]
    if found_path == base_path:
        return base_uri
    scheme = scheme_of(base_uri) or ""
    return f"{scheme}://{found_path.lstrip('/')}"
