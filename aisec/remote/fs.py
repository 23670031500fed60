"""Open the fsspec filesystem for a protocol: credentials from the backend's own chain, never from the scan."""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from aisec.errors import TargetError
from aisec.remote.uri import BACKEND_MODULES, EXTRA

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

CONNECT_TIMEOUT = 10
"""Seconds to connect: an unreachable endpoint is a reported error, not a hang."""
READ_TIMEOUT = 60
"""Seconds a read may stall (the per-file time budget still bounds a whole analysis in a worker)."""
RETRIES = 3
"""Attempts per request before a network error is reported."""


class RemoteUnavailable(TargetError):
    """A remote URI was given but the packages to read it are not installed."""


def filesystem(protocol: str, *, anonymous: bool = False) -> AbstractFileSystem:
    """The (cached, per-process) fsspec filesystem for ``protocol``."""
    module = BACKEND_MODULES[protocol]
    try:
        fsspec = importlib.import_module("fsspec")
        importlib.import_module(module)
    except ImportError as exc:
        raise RemoteUnavailable(f"reading {protocol}:// needs the optional remote dependencies "
                                f"(missing Python package {exc.name or module}): pip install '{EXTRA}'") from None
    return fsspec.filesystem(protocol, **storage_options(protocol, anonymous=anonymous))  # type: ignore[no-any-return]


def storage_options(protocol: str, *, anonymous: bool = False) -> dict[str, Any]:
    """Keyword arguments for the backend: anonymous access, the custom S3 endpoint, timeouts and retries.

    Credentials are left to each backend's standard chain (AWS environment/profile/instance role, Google
    application-default credentials, the Hugging Face token); ``anonymous`` turns them off.
    """
    if protocol == "s3":
        options: dict[str, Any] = {"anon": anonymous,
                                   "config_kwargs": {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT,
                                                     "retries": {"max_attempts": RETRIES}}}
        endpoint = s3_endpoint()
        if endpoint:
            options["endpoint_url"] = endpoint
        return options
    if protocol == "gcs":
        return {"token": "anon"} if anonymous else {}
    if protocol == "hf":
        return {"token": False} if anonymous else {}
    if protocol in ("http", "https"):
        import aiohttp

        return {"client_kwargs": {"timeout": aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT,
                                                                   sock_read=READ_TIMEOUT)}}
    return {}


def s3_endpoint() -> str | None:
    """A custom S3 endpoint (MinIO, Ceph, a local server), set the standard ways: fsspec's
    ``FSSPEC_S3_ENDPOINT_URL`` first (the more specific), then AWS's ``AWS_ENDPOINT_URL_S3`` and
    ``AWS_ENDPOINT_URL``."""
    for name in ("FSSPEC_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None
