"""A SHA-256 is computed only when asked for (``--hashes``, ``--attest``), by the workers, and is then exact."""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from aisec.model import ArtifactKind
from aisec.scan import scan

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    (root / "config.json").write_text('{"model_type": "bert"}')
    for i in range(3):
        (root / f"shard_{i}.pkl").write_bytes(pickle.dumps({"layer": list(range(i * 50))}))
    (root / "big.bin").write_bytes(b"\0" * 5000)
    return root


def test_no_hashes_unless_asked(folder: Path) -> None:
    report = scan([folder], jobs=0)
    assert report.artifacts and all(a.sha256 == "" for a in report.artifacts if a.kind is not ArtifactKind.DIRECTORY)


@pytest.mark.parametrize("jobs", [0, 2])
def test_asked_hashes_are_exact_and_bounded_by_max_hash_bytes(folder: Path, tmp_path: Path, jobs: int) -> None:
    policy = tmp_path / "small.yaml"
    policy.write_text("name: small\nextends: default\nlimits: {max_hash_bytes: 4096}\n")
    report = scan([folder], jobs=jobs, hashes=True, policy=policy)
    files = {Path(a.path).name: a for a in report.artifacts if a.kind is not ArtifactKind.DIRECTORY}
    assert set(files) == {"config.json", "shard_0.pkl", "shard_1.pkl", "shard_2.pkl", "big.bin"}
    for name, artifact in files.items():
        expected = "" if name == "big.bin" else hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert artifact.sha256 == expected, name
    assert not report.errors


def test_cli_hashes_flag_fills_sarif_artifacts(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.sarif"
    for flags, hashed in (([], False), (["--hashes"], True)):
        run = subprocess.run([sys.executable, "-m", "aisec", "scan", str(folder), "-q", "-j", "0", "-f", "sarif",
                              "-o", str(out), *flags], capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert run.returncode in (0, 1), run.stderr
        artifacts = json.loads(out.read_text())["runs"][0]["artifacts"]
        with_hash = {Path(a["location"]["uri"]).name for a in artifacts
                     if "hashes" in a and a["properties"]["aisec/kind"] != "directory"}
        assert with_hash == ({"config.json", "shard_0.pkl", "shard_1.pkl", "shard_2.pkl", "big.bin"}
                             if hashed else set())
