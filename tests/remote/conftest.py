"""Session fixtures: one moto S3 server on 127.0.0.1 for the whole run, a bucket of real model files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.remote.servers import BUCKET, moto_s3, s3_env


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's real S3 API, started once and stopped at the end of the session."""
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real s3fs filesystem on the local endpoint (credentials and endpoint from the environment, as users
    set them) and the bucket; each test writes under its own prefix."""
    import s3fs

    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "FSSPEC_S3_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in s3_env(s3_endpoint).items():
        monkeypatch.setenv(key, value)
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    yield fs
    s3fs.S3FileSystem.clear_instance_cache()
