"""OCI image layouts and docker save archives: blob digests verified, references checked, layers scanned."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import tarfile
from pathlib import Path

from gen_oci import docker_save, image  # fixtures/ is on sys.path (tests/analyzers/__init__.py)

from aisec.scan import scan

MODEL = pickle.dumps({"w": [1.0]}, protocol=2)


def write(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_a_tampered_layer_is_reported_in_a_folder_and_in_an_archive(tmp_path: Path) -> None:
    write(tmp_path / "layout", image(MODEL, tamper=True))
    (tmp_path / "image.tar").write_bytes(docker_save(MODEL, tamper=True))
    report = scan([tmp_path], policy="audit", jobs=0)
    hits = sorted((f.path, f.rule_id) for f in report.findings if f.rule_id == "AISEC-MDL-097")
    assert hits == [("image.tar", "AISEC-MDL-097"), ("layout", "AISEC-MDL-097")]
    assert not report.errors


def test_a_hostile_model_in_a_zstd_layer_is_found(tmp_path: Path) -> None:
    from backports import zstd

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os
            return os.system, ("true",)

    files = image(MODEL)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = pickle.dumps(Boom(), protocol=2)
        info = tarfile.TarInfo("models/model.pkl")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    layer = zstd.compress(buffer.getvalue())
    files[f"blobs/sha256/{hashlib.sha256(layer).hexdigest()}"] = layer
    report = scan([write(tmp_path, files)], policy="audit", jobs=0)
    critical = [f for f in report.findings if f.severity.name == "CRITICAL"]
    assert critical and all("<zstd>!/models/model.pkl" in (f.location.member or "") for f in critical)
    assert not [f for f in report.findings if f.rule_id == "AISEC-MDL-097"]


def test_missing_blobs_and_broken_indexes_are_not_fully_scanned(tmp_path: Path) -> None:
    files = image(MODEL)
    layer = next(name for name, data in files.items() if data[:2] == b"\x1f\x8b")
    del files[layer]
    report = scan([write(tmp_path / "a", files)], policy="audit", jobs=0)
    assert [e.reason for e in report.errors] == ["malformed"] and "referenced but not in the layout" in \
        report.errors[0].message
    files = image(MODEL)
    files["index.json"] = b'{"manifests": ['
    report = scan([write(tmp_path / "b", files)], policy="audit", jobs=0)
    assert any("index.json is not valid JSON" in e.message for e in report.errors)


def test_a_blob_name_that_is_no_digest_is_reported(tmp_path: Path) -> None:
    files = image(MODEL)
    files["blobs/sha256/latest"] = json.dumps({"schemaVersion": 2}).encode()
    report = scan([write(tmp_path, files)], policy="audit", jobs=0)
    assert [f.evidence.get("value") or f.message for f in report.findings if f.rule_id == "AISEC-MDL-097"]


def test_corrupt_zstd_is_not_fully_scanned(tmp_path: Path) -> None:
    from backports import zstd

    # With a content checksum (zstd -C, the CLI's default) a flipped byte is detected by the codec itself.
    data = bytearray(zstd.compress(MODEL * 50, options={zstd.CompressionParameter.checksum_flag: 1}))
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "layer").write_bytes(bytes(data))
    report = scan([tmp_path / "layer"], policy="audit", jobs=0)
    assert [e.reason for e in report.errors] == ["malformed"] and "zstd data is corrupt" in report.errors[0].message


def zstd_zip(name: str, data: bytes) -> bytes:
    """A one-member zip whose member uses method 93 (Zstandard; zipfile before 3.14 cannot write it)."""
    import struct
    import zlib

    from backports import zstd

    packed, raw = zstd.compress(data), name.encode()
    crc = zlib.crc32(data)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 63, 0, 93, 0, 0, crc, len(packed), len(data), len(raw), 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 63, 63, 0, 93, 0, 0, crc, len(packed), len(data),
                          len(raw), 0, 0, 0, 0, 0, 0) + raw
    body = local + raw + packed
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(body), 0)
    return body + central + end


def test_a_zstd_zip_member_is_opened(tmp_path: Path) -> None:
    from pickle_ops import system_call_p2

    (tmp_path / "weights.zip").write_bytes(zstd_zip("model.pkl", system_call_p2("true")))
    report = scan([tmp_path / "weights.zip"], policy="audit", jobs=0)
    assert not report.errors
    assert any(f.rule_id == "AISEC-MDL-001" and f.location.member == "model.pkl" for f in report.findings)
