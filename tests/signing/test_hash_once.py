"""With ``--hashes`` a signed model folder is hashed once per scan: the signature check takes the workers' digests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aisec.report.json import render_json
from aisec.scan import scan
from aisec.signing import hashing, sign_model
from aisec.signing.hashing import HashOutcome, HashTask

Keys = dict[str, tuple[Path, Path]]


@pytest.fixture
def signed(model: Path, ec_keys: Keys, tmp_path: Path) -> tuple[Path, Path]:
    sign_model(model, private_key=ec_keys["p256"][0])
    policy = tmp_path / "trust.yaml"
    policy.write_text(f"name: trust\nextends: default\nsettings:\n  signature:\n    public_keys: "
                      f"['{ec_keys['p256'][1]}']\n")
    return model, policy


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the signature check reads to hash them (in this process: ``jobs=0``)."""
    seen: list[str] = []
    real = hashing._hash_one

    def counting(task: HashTask, hash_type: str) -> HashOutcome:
        seen.append(Path(task.path).name)
        return real(task, hash_type)

    monkeypatch.setattr(hashing, "_hash_one", counting)
    return seen


def test_with_hashes_the_signature_check_reads_no_file_again(signed: tuple[Path, Path], hashed: list[str]) -> None:
    model, policy = signed
    report = scan([model], jobs=0, hashes=True, policy=policy)
    assert hashed == []
    assert not report.findings and not report.errors  # verified, with the workers' digests
    files = {a.path: a.sha256 for a in report.artifacts if a.kind.value not in ("directory",)}
    assert files["weights.bin"] and files["nested/adapter/x"]
    without = scan([model], jobs=0, policy=policy)  # without --hashes the check hashes the signed files itself
    assert sorted(hashed) == ["config.json", "empty", "nested-notes.txt", "weights.bin", "x"]
    assert not without.findings and not without.errors


def test_a_file_changed_after_signing_still_fails_through_the_reused_digest(
        signed: tuple[Path, Path], hashed: list[str]) -> None:
    model, policy = signed
    (model / "weights.bin").write_bytes(b"swapped")
    report = scan([model], jobs=0, hashes=True, policy=policy)
    assert hashed == []
    failed = [f for f in report.findings if f.rule_id.startswith("AISEC-SIG")]
    assert [(f.path, f.evidence.get("value")) for f in failed] == [("weights.bin", "file-modified")]


def test_reused_digests_give_the_same_report_in_workers(signed: tuple[Path, Path]) -> None:
    model, policy = signed
    (model / "config.json").write_text('{"hidden": 9}\n')
    reports = [json.loads(render_json(scan([model], jobs=jobs, hashes=hashes, policy=policy)))
               for jobs, hashes in ((0, True), (2, True), (0, False))]
    for doc in reports:
        doc.pop("started_utc"), doc.pop("finished_utc")
        for artifact in doc["artifacts"]:
            artifact.pop("sha256")
    assert reports[0] == reports[1] == reports[2]
    assert [f["path"] for f in reports[0]["findings"] if f["rule_id"].startswith("AISEC-SIG")] == ["config.json"]
