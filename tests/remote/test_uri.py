"""Which targets are remote, how URIs map to fsspec, and the message when the remote extra is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aisec.cli.main import main
from aisec.remote.fs import storage_options
from aisec.remote.uri import fs_path_of, is_remote, join, protocol_of


def test_only_uris_with_a_scheme_are_remote() -> None:
    assert is_remote("s3://bucket/x") and is_remote("hf://org/repo@v1") and is_remote("https://h/f.pt")
    assert is_remote("ftp://h/x")  # refused with a message, never read as a local folder named "ftp:"
    assert not is_remote("models/x.pt") and not is_remote("C:\\models") and not is_remote(Path("s3:/x"))
    assert not is_remote("file:///tmp/x")


def test_schemes_map_to_fsspec_protocols_and_paths() -> None:
    assert [protocol_of(u) for u in ("s3://b/k", "S3A://b/k", "gs://b/k", "gcs://b/k", "hf://o/r", "https://h/f",
                                     "ftp://h/f")] == ["s3", "s3", "gcs", "gcs", "hf", "https", None]
    assert fs_path_of("hf://org/repo@v1.0/model.bin") == "org/repo@v1.0/model.bin"
    assert fs_path_of("https://host/a/b.pt?x=1") == "https://host/a/b.pt?x=1"


def test_listed_paths_become_uris_spelt_as_the_target() -> None:
    # HfFileSystem lists a revision's files as "org/repo@rev/…" (its unresolve()); the URI keeps hf:// and @rev.
    assert join("hf://org/repo@v1.0", "org/repo@v1.0", "org/repo@v1.0/sub/model.bin") == \
        "hf://org/repo@v1.0/sub/model.bin"
    assert join("gs://bucket/models/", "bucket/models", "bucket/models/a.pt") == "gs://bucket/models/a.pt"
    assert join("s3://bucket/a.pt", "bucket/a.pt", "bucket/a.pt") == "s3://bucket/a.pt"


def test_anonymous_and_endpoint_options(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FSSPEC_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    assert storage_options("s3", anonymous=True)["anon"] is True
    assert "endpoint_url" not in storage_options("s3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://aws:1")
    assert storage_options("s3")["endpoint_url"] == "http://aws:1"
    monkeypatch.setenv("FSSPEC_S3_ENDPOINT_URL", "http://fsspec:2")
    assert storage_options("s3")["endpoint_url"] == "http://fsspec:2"
    assert storage_options("gcs", anonymous=True) == {"token": "anon"} and storage_options("gcs") == {}
    assert storage_options("hf", anonymous=True) == {"token": False} and storage_options("hf") == {}


def test_a_uri_without_the_remote_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch, work: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # what an install without aisec[remote] looks like
    code = main(["scan", "-q", "s3://bucket/models"])
    err = capsys.readouterr().err
    assert code == 2
    assert "pip install 'aisec[remote]'" in err and "s3fs" in err


def test_real_backends_take_the_options_and_strip_uris_to_the_same_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    # Offline: constructing HfFileSystem and S3FileSystem makes no request; listing hf:// would need the Hub.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from aisec.remote.fs import filesystem

    hf = filesystem("hf", anonymous=True)
    assert type(hf).__name__ == "HfFileSystem"
    uri = "hf://org/repo@v1.0/sub/model.bin"
    assert hf._strip_protocol(uri) == fs_path_of(uri) == "org/repo@v1.0/sub/model.bin"
    s3 = filesystem("s3", anonymous=True)
    assert type(s3).__name__ == "S3FileSystem" and s3.anon is True
    assert s3._strip_protocol("s3://bucket/models/a.pt") == fs_path_of("s3://bucket/models/a.pt")
