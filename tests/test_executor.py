"""Parallel scanning: the same report whatever the number of workers, and a per-file time budget that holds."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from aisec import executor
from aisec.discovery import Discovered
from aisec.model import Report
from aisec.report.json import render_json
from aisec.report.sarif import render_sarif
from aisec.scan import scan
from tests.conftest import FIXTURES, ReadmeRun, long_pickle, slow_and_evil, without_times


def test_reports_are_identical_in_process_serial_and_parallel(corpus_reports: dict[int, Report],
                                                             readme_run: ReadmeRun) -> None:
    """Every fixture scanned in-process, by one worker process and, by the README's command, by one worker per CPU
    (tests/conftest.py scans once for the suite)."""
    reports = corpus_reports
    sarif = {jobs: without_times(render_sarif(r)) for jobs, r in reports.items()}
    js = {jobs: without_times(render_json(r)) for jobs, r in reports.items()}
    assert sarif[0] == sarif[1] == without_times(readme_run.sarif.read_text(encoding="utf-8"))
    assert js[0] == js[1]
    assert reports[1].findings


def test_a_file_over_the_time_budget_is_killed_and_reported(tmp_path: Path) -> None:
    folder = slow_and_evil(tmp_path, 3_000_000)
    policy = tmp_path / "tight.yaml"
    policy.write_text("name: tight\nextends: default\nlimits: {max_seconds_per_file: 0.3, "
                      "max_pickle_opcodes: 100000000}\n")
    report = scan([folder], policy=policy, jobs=2)
    timeouts = [e for e in report.errors if e.reason == "timeout"]
    assert [Path(e.path).name for e in timeouts] == ["slow.pkl"]
    assert timeouts[0].limit == "max_seconds_per_file"
    rules = {(Path(f.path).name, f.rule_id) for f in report.findings}
    assert ("slow.pkl", "AISEC-GEN-001") in rules
    assert ("evil.pkl", "AISEC-MDL-001") in rules  # the other file is still analyzed
    assert not report.trustworthy


def test_a_worker_over_its_memory_cap_reports_instead_of_crashing(tmp_path: Path) -> None:
    """Run in a fresh process: a test runner's own heap may hold freed memory a forked worker could reuse."""
    folder = tmp_path / "models"
    folder.mkdir()
    blob = b"\0" * (32 * 1024 * 1024)  # a 32 MiB bytes constant: decoding it needs fresh memory
    (folder / "big.pkl").write_bytes(b"\x80\x04\x8e" + len(blob).to_bytes(8, "little") + blob + b".")
    policy = tmp_path / "starved.yaml"
    # Far below what the forked worker already maps: every new mapping in it fails.
    policy.write_text("name: starved\nextends: default\nlimits: {max_worker_memory_bytes: 1000000}\n")
    run = subprocess.run([sys.executable, "-m", "aisec", "scan", str(folder), "--policy", str(policy), "-j", "1",
                          "-f", "json"], capture_output=True, text=True, check=False)
    assert run.returncode == 2, run.stderr
    doc = json.loads(run.stdout)
    assert doc["errors"], "the starved worker must report the file as not fully scanned"
    assert {e["reason"] for e in doc["errors"]} <= {"limit", "internal"}, doc["errors"]
    assert any(f["rule_id"] == "AISEC-GEN-001" for f in doc["findings"])


def test_memory_cap_makes_large_allocations_fail() -> None:
    code = ("from aisec.executor import _cap_memory\n_cap_memory(1 << 30)\n"
            "try:\n    bytearray(2 << 30)\nexcept MemoryError:\n    print('capped')\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.stdout.strip() == "capped", run.stderr


def test_a_slow_file_inside_a_batch_fails_alone_and_the_rest_of_its_batch_is_scanned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small files go to a worker in batches; the per-file budget still holds for each one of them."""
    folder = tmp_path / "models"
    folder.mkdir()
    evil = (FIXTURES / "AISEC-MDL-001" / "fail" / "os_system_p4.pkl").read_bytes()
    for i in range(7):
        (folder / f"m{i}.pkl").write_bytes(long_pickle(3_000_000) if i == 1 else evil)
    policy = tmp_path / "tight.yaml"
    policy.write_text("name: tight\nextends: default\nlimits: {max_seconds_per_file: 0.3, "
                      "max_pickle_opcodes: 100000000}\n")
    monkeypatch.setattr(executor, "BATCH_FILE_BYTES", 1 << 30)  # the slow pickle (9 MB) is batched too
    batches: list[list[str]] = []
    real = executor._next_batch

    def recorded(pending: list[int], items: Sequence[Discovered], workers: int) -> list[int]:
        batch = real(pending, items, workers)
        batches.append([items[i].artifact.path for i in batch])
        return batch

    monkeypatch.setattr(executor, "_next_batch", recorded)
    report = scan([folder], policy=policy, jobs=1)
    assert batches[0] == [".", "m0.pkl", "m1.pkl", "m2.pkl"]  # the slow file shares a batch with others
    assert batches[1][0] == "m2.pkl"  # the rest of the killed worker's batch went back to the queue first
    timeouts = [e for e in report.errors if e.reason == "timeout"]
    assert [Path(e.path).name for e in timeouts] == ["m1.pkl"]
    flagged = {Path(f.path).name for f in report.findings if f.rule_id == "AISEC-MDL-001"}
    assert flagged == {f"m{i}.pkl" for i in range(7) if i != 1}
    assert sorted(Path(a.path).name for a in report.artifacts if a.kind.value == "pickle") == \
        [f"m{i}.pkl" for i in range(7)]
