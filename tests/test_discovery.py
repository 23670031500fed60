"""Discovery identifies files by content, never by name, and never follows symlinks out of the scanned root."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import pytest

from aisec.discovery import discover
from aisec.limits import Limits
from aisec.model import ArtifactKind
from aisec.scan import scan
from aisec.sniff import sniff
from tests.conftest import fixture_path

MALICIOUS = fixture_path("AISEC-MDL-001", "fail", "os_system_p4.pkl").read_bytes()


@pytest.mark.parametrize("name", ["weights.txt", "model.safetensors", "noextension", "data.csv", "model.pt"])
def test_malicious_pickle_is_found_whatever_its_name(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(MALICIOUS)
    report = scan([tmp_path])
    assert [a.kind for a in report.artifacts if a.path == name] == [ArtifactKind.PICKLE]
    assert [f.rule_id for f in report.findings if f.rule_id == "AISEC-MDL-001"] == ["AISEC-MDL-001"]
    mismatch = [f for f in report.findings if f.rule_id == "AISEC-GEN-002"]
    assert bool(mismatch) is (name not in ("noextension", "model.pt"))


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_pickles_of_every_protocol_are_sniffed(protocol: int) -> None:
    data = pickle.dumps({"weights": [1.0, 2.0], "name": "layer"}, protocol=protocol)
    assert sniff(data) is ArtifactKind.PICKLE


@pytest.mark.parametrize(("head", "kind"), [
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 16, ArtifactKind.HDF5),
    (b"GGUF\x03\x00\x00\x00" + b"\0" * 16, ArtifactKind.GGUF),
    (b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'", ArtifactKind.NPY),
    (b"PAR1\x15\x04", ArtifactKind.PARQUET),
    (b"\x1f\x8b\x08\x00", ArtifactKind.GZIP),
    (b"BZh91AY&SY", ArtifactKind.BZIP2),
    (b"\xfd7zXZ\x00\x00", ArtifactKind.XZ),
    (b"x\x9c\xcbH\xcd", ArtifactKind.ZLIB),
    (len(b'{"a":{}}').to_bytes(8, "little") + b'{"a":{}}', ArtifactKind.SAFETENSORS),
    (b'{"a": 1, "b": [1, 2]}', ArtifactKind.JSON),
    (b'{"text": "a", "label": 1}\n{"text": "b", "label": 0}\n', ArtifactKind.JSONL),
    (b"text,label\nhello,1\nworld,0\n", ArtifactKind.CSV),
    (b"just some words\n", ArtifactKind.TEXT),
    (b"", ArtifactKind.EMPTY),
])
def test_sniff_by_magic_and_structure(head: bytes, kind: ArtifactKind) -> None:
    assert sniff(head) is kind


def test_zip_layouts_are_told_apart(tmp_path: Path) -> None:
    layouts = {
        "torch": ["archive/data.pkl", "archive/data/0", "archive/version"],
        "keras": ["config.json", "metadata.json", "model.weights.h5"],
        "npz": ["a.npy", "b.npy"],
        "plain": ["readme.md", "x/y.txt"],
    }
    kinds = {}
    for name, members in layouts.items():
        path = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for member in members:
                archive.writestr(member, b"x")
        kinds[name] = discover([path], Limits()).items[0].artifact.kind
    assert kinds == {"torch": ArtifactKind.PYTORCH_ZIP, "keras": ArtifactKind.KERAS_ZIP,
                     "npz": ArtifactKind.NPZ, "plain": ArtifactKind.ZIP}


def test_symlinks_never_leave_the_scanned_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.pkl").write_bytes(MALICIOUS)
    root = tmp_path / "models"
    root.mkdir()
    (root / "inside.pkl").write_bytes(MALICIOUS)
    os.symlink(outside / "evil.pkl", root / "link.pkl")
    os.symlink(outside, root / "linkdir")
    os.symlink(root / "inside.pkl", root / "alias.pkl")
    found = discover([root], Limits())
    paths = sorted(item.artifact.path for item in found.items if item.artifact.kind is ArtifactKind.PICKLE)
    assert all("evil" not in p for p in paths)
    assert any(p.endswith("alias.pkl") for p in paths)  # an in-root link is scanned
    reasons = {(Path(e.path).name, e.reason) for e in found.errors}
    assert ("link.pkl", "symlink") in reasons and ("linkdir", "symlink") in reasons


def test_missing_target_and_unreadable_file_are_errors_not_crashes(tmp_path: Path) -> None:
    good = tmp_path / "good.pkl"
    good.write_bytes(MALICIOUS)
    unreadable = tmp_path / "secret.pkl"
    unreadable.write_bytes(MALICIOUS)
    unreadable.chmod(0)
    try:
        report = scan([good, unreadable, tmp_path / "missing.pkl"])
    finally:
        unreadable.chmod(0o600)
    reasons = {e.reason for e in report.errors}
    assert "not-found" in reasons
    if os.geteuid() != 0:  # root can read a mode-0 file
        assert "io" in reasons
    assert any(f.rule_id == "AISEC-MDL-001" and f.path.endswith("good.pkl") for f in report.findings)
    assert any(f.rule_id == "AISEC-GEN-001" and "missing.pkl" in f.path for f in report.findings)


def test_file_limit_is_reported(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_text("hello")
    found = discover([tmp_path], Limits(max_files=3))
    assert len(found.items) == 3
    assert [e.limit for e in found.errors] == ["max_files"]


def test_vcs_folders_are_skipped_and_order_is_sorted(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "obj.pkl").write_bytes(MALICIOUS)
    for name in ("b.txt", "a.txt", "c/d.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    paths = [item.artifact.path for item in discover([tmp_path], Limits()).items]
    assert paths == sorted(paths)
    assert not any(".git" in p for p in paths)


def test_hugging_face_cache_is_scanned_under_snapshot_names(tmp_path: Path) -> None:
    repo = tmp_path / "hub" / "models--acme--tiny"
    blobs = repo / "blobs"
    blobs.mkdir(parents=True)
    (blobs / "aaaa").write_bytes(MALICIOUS)
    (blobs / "bbbb").write_text('{"model_type": "bert"}')
    for rev in ("1111", "2222"):
        snap = repo / "snapshots" / rev
        snap.mkdir(parents=True)
        os.symlink(Path("../../blobs/aaaa"), snap / "pytorch_model.bin")
        os.symlink(Path("../../blobs/bbbb"), snap / "config.json")
    report = scan([tmp_path / "hub"])
    evil = sorted(Path(f.path).as_posix().split("models--acme--tiny/")[1] for f in report.findings
                  if f.rule_id == "AISEC-MDL-001")
    assert evil == ["snapshots/1111/pytorch_model.bin", "snapshots/2222/pytorch_model.bin"]
    assert not any("blobs/" in a.path for a in report.artifacts)
    assert not report.errors


def test_two_targets_outside_the_working_directory_never_share_report_paths(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for team in ("a", "b"):
        (tmp_path / team / "model").mkdir(parents=True)
        (tmp_path / team / "model" / "weights.pkl").write_bytes(MALICIOUS)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = scan([tmp_path / "a" / "model", tmp_path / "b" / "model"], jobs=0)
    evil = sorted(f.path for f in report.findings if f.rule_id == "AISEC-MDL-001")
    assert evil == ["a/model/weights.pkl", "b/model/weights.pkl"]


def test_python_source_holding_templates_is_python_and_a_bare_template_is_jinja() -> None:
    source = b'"""Chat templates."""\nimport json\n\nTEMPLATE = "{% for m in messages %}{{ m.content }}{% endfor %}"\n'
    template = b"{% for m in messages %}{{ m.content }}{% endfor %}"
    assert sniff(source, name="templates.py") is ArtifactKind.PYTHON
    assert sniff(template, name="templates.py") is ArtifactKind.JINJA  # the name does not decide
    assert sniff(template, name="chat_template.jinja") is ArtifactKind.JINJA


def test_special_files_are_reported_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.pkl")
    (tmp_path / "ok.txt").write_text("fine\n")
    found = discover([tmp_path], Limits())
    assert [(Path(e.path).name, e.reason) for e in found.errors] == [("pipe.pkl", "special")]
    assert [Path(i.artifact.path).name for i in found.items] == ["ok.txt"]
