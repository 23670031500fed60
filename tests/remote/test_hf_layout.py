"""A Hugging Face-like repository read through an fsspec filesystem (memory://): what hf:// does, offline.

``hf://`` itself needs the Hub (HfFileSystem resolves every revision with an API call), so these tests run the
same code path — listing, content sniffing, ranged reads, URIs — on fsspec's in-memory filesystem with a
repository laid out as the Hub lays it out, written by the real libraries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save

from aisec.remote.source import TRANSFERRED
from aisec.scan import scan
from tests.conftest import fixture_path

REPO = "memory://org/tiny-model@v1.0"


@pytest.fixture
def hub_repo() -> Iterator[Any]:
    """config, tokenizer config, safetensors weights, a malicious pytorch_model.bin, a dataset file, .git."""
    import fsspec

    fs = fsspec.filesystem("memory")
    root = "/org/tiny-model@v1.0"
    files = {
        "config.json": json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}).encode(),
        "tokenizer_config.json": json.dumps({"model_max_length": 512}).encode(),
        "model.safetensors": save({"w": np.arange(2 ** 20, dtype=np.float32).reshape(1024, 1024),
                                   "b": np.ones(1024, dtype=np.float32)}, metadata={"format": "pt"}),
        "pytorch_model.bin": fixture_path("AISEC-MDL-001", "fail", "torch_zip_data_pkl.pt").read_bytes(),
        "data/train.jsonl": fixture_path("AISEC-DAT-001", "fail", "notes.jsonl").read_bytes(),
        "README.md": b"---\nlicense: mit\n---\n# tiny\n",
        ".git/objects/evil.pkl": fixture_path("AISEC-MDL-001", "fail", "os_system_p4.pkl").read_bytes(),
    }
    for name, data in files.items():
        fs.pipe_file(f"{root}/{name}", data)
    yield fs
    fs.rm("/org", recursive=True)


def test_a_repository_is_listed_sniffed_and_scanned_with_its_uris(hub_repo: Any) -> None:
    report = scan([REPO], jobs=0)
    assert not report.errors
    kinds = {a.path.removeprefix(REPO + "/"): a.kind.value for a in report.artifacts}
    assert kinds == {"README.md": "text", "config.json": "json", "data/train.jsonl": "jsonl",
                     "model.safetensors": "safetensors", "pytorch_model.bin": "pytorch_zip",
                     "tokenizer_config.json": "json"}  # .git is never descended into, as on disk
    rules = {(f.rule_id, f.path.removeprefix(REPO + "/")) for f in report.findings}
    assert ("AISEC-MDL-001", "pytorch_model.bin") in rules
    assert ("AISEC-DAT-001", "data/train.jsonl") in rules
    assert not any(path == "model.safetensors" for _rule, path in rules)


def test_safetensors_weights_cost_their_header_not_their_tensors(hub_repo: Any) -> None:
    before = TRANSFERRED.bytes
    report = scan([f"{REPO}/model.safetensors"], jobs=0)
    fetched = TRANSFERRED.bytes - before
    [artifact] = report.artifacts
    assert not report.errors and artifact.kind.value == "safetensors" and artifact.size > 4 * 2 ** 20
    assert 0 < fetched < 256 * 1024, fetched


def test_hashes_of_remote_objects_are_their_sha256(hub_repo: Any) -> None:
    import hashlib

    report = scan([f"{REPO}/config.json", f"{REPO}/model.safetensors"], jobs=0, hashes=True)
    digests = {a.path.removeprefix(REPO + "/"): a.sha256 for a in report.artifacts}
    root = "/org/tiny-model@v1.0"
    assert digests == {name: hashlib.sha256(hub_repo.cat_file(f"{root}/{name}")).hexdigest()
                       for name in ("config.json", "model.safetensors")}
