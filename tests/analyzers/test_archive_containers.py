"""Containers: PyTorch zip/legacy/tar checkpoints, TorchScript, joblib and compressed wrappers, .npy/.npz."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import gen_archive as ga
import gen_pickle as gp
import pickle_ops as ops
import pytest

from aisec.analyzers.zipread import read_listing
from aisec.limits import Limits
from aisec.source import BytesSource, FileSource
from tests.analyzers.pickle_helpers import analyze_bytes, rule_ids, values

EVIL = ops.system_call_p2("true")


def _medium_plus(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [f"{f.rule_id}: {f.message}" for f in findings if f.severity.rank >= 2]


def test_every_pickle_member_of_a_torch_zip_is_analyzed(tmp_path: Path) -> None:
    """Not only data.pkl: a pickle hidden in another member is found and located by member name."""
    data = ga.torch_zip(ops.state_dict_pickle([("w", ops.rebuild_tensor_ops())]), {"0": b"\x00" * 24},
                        extra=[("archive/extra/hook.pkl", EVIL)])
    facts, findings, _ = analyze_bytes(tmp_path, data, "model.pt")
    calls = [f for f in facts if f.key == "pickle.call" and f.value == "os.system"]
    assert calls and calls[0].location.member == "archive/extra/hook.pkl"
    assert "AISEC-MDL-001" in rule_ids(findings)


def test_tensor_data_members_are_never_read(tmp_path: Path) -> None:
    """Scanning costs the pickle, not the tensors: 4 MiB of stored tensor data stays unread."""
    blob = b"\x00" * (4 * 1024 * 1024)
    data = ga.torch_zip(ops.state_dict_pickle([("w", ops.rebuild_tensor_ops(numel=len(blob) // 4,
                                                                            size=(len(blob) // 4,),
                                                                            stride=(1,)))]), {"0": blob})
    path = tmp_path / "big.pt"
    path.write_bytes(data)
    from aisec.analyzers.archive import ZipArchiveAnalyzer
    from aisec.analyzers.base import AnalysisContext

    with FileSource(path, budget=1 << 40) as source:
        context = AnalysisContext(path="big.pt", limits=Limits())
        list(ZipArchiveAnalyzer().analyze(source, context))
        assert source.bytes_read < 200_000, source.bytes_read
    _, findings, _ = analyze_bytes(tmp_path, data, "big2.pt")
    assert not _medium_plus(findings)


def test_zip_quirks_do_not_stop_the_analysis(tmp_path: Path) -> None:
    """Bad CRC, odd flag bits and a local/central name mismatch: still analyzed, and reported as anomalies."""
    facts, findings, _ = analyze_bytes(tmp_path, ga._quirky_zip(EVIL), "quirky.pt")
    assert "name-mismatch" in values(facts, "archive.anomaly")
    assert {"AISEC-MDL-001", "AISEC-MDL-012"} <= rule_ids(findings)


def test_junk_before_the_archive_is_read_through(tmp_path: Path) -> None:
    """zipfile-based loaders accept a prefix: so does aisec (the file sniffs as binary, not zip)."""
    facts, findings, _ = analyze_bytes(tmp_path, b"JUNK" * 16 + ga.build_zip([("x.pkl", EVIL)]), "prefixed.bin")
    assert "junk-prefix" in values(facts, "archive.anomaly")
    assert "AISEC-MDL-001" in rule_ids(findings)


def test_local_headers_are_used_when_the_central_directory_is_gone() -> None:
    """Cut the central directory off: members are still listed from their local headers."""
    data = ga.build_zip([("a.pkl", EVIL), ("b.txt", b"hello")], compress=zipfile.ZIP_DEFLATED)
    cut = data[: data.find(b"PK\x01\x02")]
    listing = read_listing(BytesSource(cut, budget=1 << 30), Limits())
    assert [m.name for m in listing.members] == ["a.pkl", "b.txt"]
    assert ("no-central-directory" in {k for k, _ in listing.anomalies})


def test_legacy_torch_file_raw_storage_is_not_junk(tmp_path: Path) -> None:
    """torch.save(_use_new_zipfile_serialization=False): five pickles then raw bytes, no MDL-008."""
    data = gp.legacy_torch_file(gp._legacy_state_dict(), [("0", b"\xab" * 24)])
    facts, findings, errors = analyze_bytes(tmp_path, data, "legacy.pt")
    assert values(facts, "pickle.format") == {"torch-legacy"}
    assert not _medium_plus(findings) and not errors


def test_legacy_tar_checkpoint_pickle_member(tmp_path: Path) -> None:
    """The tar checkpoint's ``pickle`` member is analyzed; ``storages`` only up to its first pickle."""
    data = ga.tar_bytes([ga._file("sys_info", b"\x80\x02}q\x00."), ga._file("pickle", EVIL),
                         ga._file("storages", b"\x80\x02K\x00." + b"\x07" * 40),
                         ga._file("tensors", b"\x80\x02K\x00.")])
    _, findings, _ = analyze_bytes(tmp_path, data, "ckpt.tar")
    assert "AISEC-MDL-001" in rule_ids(findings)
    assert "AISEC-MDL-008" not in rule_ids(findings)


def test_storage_size_mismatch(tmp_path: Path) -> None:
    """pytorch/pytorch#170085: a storage claiming 1000 floats over a 40-byte record."""
    data = ga.torch_zip(ops.state_dict_pickle([("w", ops.rebuild_tensor_ops(numel=1000, size=(10,), stride=(1,)))]),
                        {"0": b"\x00" * 40})
    facts, findings, _ = analyze_bytes(tmp_path, data, "m.pt")
    assert "storage-size-mismatch" in values(facts, "torch.weights_only_hazard")
    assert "AISEC-MDL-007" in rule_ids(findings)


def test_torchscript_dangerous_op(tmp_path: Path) -> None:
    """GHSA-53q9-r3pm-6pq6 (CVE-2025-32434): torch.load sent TorchScript archives to torch.jit.load."""
    data = ga.torchscript_zip("def forward(self, x):\n    return torch.from_file('/etc/passwd', False, 1)\n")
    facts, findings, _ = analyze_bytes(tmp_path, data, "ts.pt")
    assert "torch.from_file" in values(facts, "torchscript.op")
    assert {"AISEC-MDL-014", "AISEC-MDL-015"} <= rule_ids(findings)


@pytest.mark.parametrize("compress", [("zlib", 3), ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3), ("lz4", 3), 0])
def test_real_joblib_dumps_of_sklearn_are_quiet(tmp_path: Path, compress: object) -> None:
    """Real joblib output (arrays inline after each wrapper's BUILD) produces nothing at medium or above."""
    data = gp.joblib_dump(gp._sklearn_model(), compress=compress)
    facts, findings, errors = analyze_bytes(tmp_path, data, "model.joblib")
    assert "joblib" in values(facts, "pickle.format")
    assert not _medium_plus(findings) and not errors


def test_real_sklearn_pickle_is_quiet(tmp_path: Path) -> None:
    """A real pickled scikit-learn pipeline and tree: classes allowlisted, nothing at medium or above."""
    _, findings, errors = analyze_bytes(tmp_path, gp.sklearn_model_pickle(), "model.pkl")
    assert not _medium_plus(findings) and not errors


@pytest.mark.parametrize("method", ["gzip", "bz2", "xz", "lzma_alone", "zlib", "lz4"])
def test_compressed_wrappers_are_opened(tmp_path: Path, method: str) -> None:
    """A pickle inside any supported compression wrapper is analyzed."""
    import bz2
    import gzip
    import lzma
    import zlib

    import lz4.frame

    pack = {"gzip": lambda d: gzip.compress(d, mtime=0), "bz2": bz2.compress, "xz": lzma.compress,
            "lzma_alone": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE), "zlib": zlib.compress,
            "lz4": lz4.frame.compress}[method]
    _, findings, _ = analyze_bytes(tmp_path, pack(EVIL), "x.joblib")
    assert "AISEC-MDL-001" in rule_ids(findings)


def test_decompression_bomb_is_cut_and_reported(tmp_path: Path) -> None:
    """Ratio above max_compression_ratio: decompression stops, MDL-011 and GEN-001 fire."""
    _, findings, errors = analyze_bytes(tmp_path, ga._bomb_zip(), "bomb.zip")
    assert {"AISEC-MDL-011", "AISEC-GEN-001"} <= rule_ids(findings)
    assert any(e.limit == "max_compression_ratio" for e in errors)


def test_archive_member_count_limit(tmp_path: Path) -> None:
    """More members than max_archive_members is a limit error (GEN-001), not a silent partial pass."""
    data = ga.build_zip([(f"m{i}.txt", b"x") for i in range(12)])
    _, findings, errors = analyze_bytes(tmp_path, data, "many.zip", limits=Limits(max_archive_members=5))
    assert any(e.limit == "max_archive_members" for e in errors)
    assert "AISEC-GEN-001" in rule_ids(findings)


def test_nesting_depth_limit(tmp_path: Path) -> None:
    """Zip in zip in zip … deeper than max_nesting_depth is reported."""
    data = ga.build_zip([("x.pkl", EVIL)])
    for _ in range(4):
        data = ga.build_zip([("inner.zip", data)])
    _, _, errors = analyze_bytes(tmp_path, data, "deep.zip", limits=Limits(max_nesting_depth=2))
    assert any(e.limit == "max_nesting_depth" for e in errors)


def test_traversal_and_links(tmp_path: Path) -> None:
    """Zip slip names, absolute tar names and symlink/hardlink members."""
    _, f1, _ = analyze_bytes(tmp_path, ga.build_zip([("../../x", b"1")]), "slip.zip")
    _, f2, _ = analyze_bytes(tmp_path, ga.tar_bytes([ga._link("l", "/etc/passwd", b"2")]), "l.tar")
    _, f3, _ = analyze_bytes(tmp_path, ga.build_zip([("l", b"/etc")], symlinks=frozenset({"l"})), "l.zip")
    assert "AISEC-MDL-009" in rule_ids(f1)
    assert {"AISEC-MDL-010", "AISEC-MDL-009"} <= rule_ids(f2)
    assert "AISEC-MDL-010" in rule_ids(f3)


def test_npy_object_array_pickle_is_analyzed_and_numeric_is_quiet(tmp_path: Path) -> None:
    """Object dtype: MDL-013 plus the embedded pickle's own findings; a numeric array: nothing."""
    _, bad, _ = analyze_bytes(tmp_path, ga.npy_bytes("|O", (1,), EVIL), "o.npy")
    assert {"AISEC-MDL-013", "AISEC-MDL-001"} <= rule_ids(bad)
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.arange(12, dtype=np.float32).reshape(3, 4))
    facts, good, _ = analyze_bytes(tmp_path, buffer.getvalue(), "a.npy")
    assert values(facts, "numpy.dtype") == {"<f4"} and not _medium_plus(good)


def test_npz_members_are_analyzed(tmp_path: Path) -> None:
    """.npz is a zip of .npy files: an object member inside is found."""
    data = ga.build_zip([("a.npy", ga.npy_bytes("<f4", (1,), struct.pack("<f", 1))),
                         ("b.npy", ga.npy_bytes("|O", (1,), EVIL))], compress=zipfile.ZIP_DEFLATED)
    _, findings, _ = analyze_bytes(tmp_path, data, "x.npz")
    assert {"AISEC-MDL-013", "AISEC-MDL-001"} <= rule_ids(findings)


def test_extension_mismatch(tmp_path: Path) -> None:
    """A pickle named .safetensors is a mismatch; pickles named .bin/.pt are not."""
    benign = ops.ordered_dict_p2([("a", 1)])
    assert "AISEC-GEN-002" in rule_ids(analyze_bytes(tmp_path, benign, "m.safetensors")[1])
    for name in ("m.bin", "m.pt", "m.pkl"):
        assert "AISEC-GEN-002" not in rule_ids(analyze_bytes(tmp_path, benign, name)[1])


def _with_zip64_end_records(data: bytes) -> bytes:
    """Insert a zip64 end record and locator before the EOCD, as torch.save always does."""
    eocd = data.rfind(b"PK\x05\x06")
    _sig, _d, _cd, n_here, n_total, cd_size, cd_offset, _c = struct.unpack("<4sHHHHIIH", data[eocd:eocd + 22])
    z64 = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, n_here, n_total, cd_size, cd_offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, eocd, 1)
    return data[:eocd] + z64 + locator + data[eocd:]


def test_zip64_end_records_are_followed_not_taken_for_junk(tmp_path: Path) -> None:
    """torch.save writes zip64 end records: they are not a junk prefix and every member is listed."""
    data = _with_zip64_end_records(ga.benign_state_dict_zip())
    listing = read_listing(BytesSource(data, budget=1 << 30), Limits())
    assert not listing.anomalies
    assert "archive/data.pkl" in [m.name for m in listing.members]
    _, findings, errors = analyze_bytes(tmp_path, data, "zip64.pt")
    assert not _medium_plus(findings) and not errors
