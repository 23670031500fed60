"""The Dask executor on a real local cluster: the same report as ``--jobs 1`` (sharded datasets included), the
per-file time budget and memory cap hold on the workers, and a dead worker or a silent cluster is a
not-fully-scanned file, never a hang or a lost file."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aisec.cli import main
from aisec.executors.bounded import close_idle_children
from aisec.executors.dask_executor import DaskExecutor
from aisec.report.json import render_json
from aisec.report.sarif import render_sarif
from aisec.scan import scan
from tests.conftest import FIXTURES, slow_and_evil, without_times

pytestmark = pytest.mark.xdist_group("dask-local-cluster")  # one cluster start-up under -n 2, not one per worker

MODEL_RULES = ("AISEC-MDL-003", "AISEC-MDL-010", "AISEC-GEN-001", "AISEC-SIG-001")


def _sharded(folder: Path) -> None:
    """Parquet and JSONL shard groups whose duplicates and label conflicts exist only across shards."""
    texts = [f"review {i}: the plot of film {i} was {'great' if i % 3 else 'dull'} and the cast {i % 7}"
             for i in range(240)]
    labels = ["pos" if i % 3 else "neg" for i in range(240)]
    texts[200], labels[200] = texts[10], ("neg" if labels[10] == "pos" else "pos")  # a conflict across shards
    (folder / "pq").mkdir(parents=True)
    for part in range(3):
        pq.write_table(pa.table({"text": texts[part * 80:part * 80 + 80], "label": labels[part * 80:part * 80 + 80]}),
                       folder / "pq" / f"train-{part:05d}-of-00003.parquet")
    (folder / "jsonl").mkdir()
    for part in range(2):
        (folder / "jsonl" / f"part-{part:05d}.jsonl").write_text(
            "".join(json.dumps({"text": t, "label": lab}) + "\n"
                    for t, lab in zip(texts[part * 120:part * 120 + 120], labels[part * 120:part * 120 + 120],
                                      strict=True)),
            encoding="utf-8")


def test_reports_match_jobs_1_with_sharded_datasets(tmp_path: Path, dask_client: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for rule in MODEL_RULES:
        shutil.copytree(FIXTURES / rule, tmp_path / "scan" / "models" / rule)
    shutil.copyfile(FIXTURES / "AISEC-MDL-001" / "fail" / "os_system_p4.pkl", tmp_path / "scan" / "models" / "evil.pkl")
    _sharded(tmp_path / "scan" / "data")
    serial = scan(["scan"], policy="audit", jobs=1)
    clustered = scan(["scan"], policy="audit", executor=DaskExecutor(client=dask_client))
    assert without_times(render_sarif(clustered)) == without_times(render_sarif(serial))
    assert without_times(render_json(clustered)) == without_times(render_json(serial))
    assert not {e.reason for e in clustered.errors} & {"timeout", "internal"}
    found = {f.rule_id for f in clustered.findings}
    assert {"AISEC-MDL-001", "AISEC-DAT-046"} <= found  # models scanned, shard groups merged on the client
    conflicts = [f for f in clustered.findings if f.rule_id == "AISEC-DAT-020"]
    assert {f.evidence["dataset_group"] for f in conflicts} == {"scan/data/pq/train-*-of-00003.parquet",
                                                                "scan/data/jsonl/part-*.jsonl"}


def _worker_pids(client: Any) -> dict[str, int]:
    return dict(client.run(os.getpid))


def test_time_budget_and_memory_cap_hold_on_workers(tmp_path: Path, dask_client: Any) -> None:
    pids = _worker_pids(dask_client)
    folder = slow_and_evil(tmp_path, 3_000_000)
    tight = tmp_path / "tight.yaml"
    tight.write_text("name: tight\nextends: default\nlimits: {max_seconds_per_file: 2, "
                     "max_pickle_opcodes: 100000000}\n")
    report = scan([folder], policy=tight, executor=DaskExecutor(client=dask_client))
    assert [(Path(e.path).name, e.reason, e.limit) for e in report.errors] == [
        ("slow.pkl", "timeout", "max_seconds_per_file")]
    rules = {(Path(f.path).name, f.rule_id) for f in report.findings}
    assert {("slow.pkl", "AISEC-GEN-001"), ("evil.pkl", "AISEC-MDL-001")} <= rules

    (folder / "slow.pkl").unlink()
    blob = b"\0" * (32 * 1024 * 1024)  # a 32 MiB bytes constant: decoding it needs fresh memory
    (folder / "big.pkl").write_bytes(b"\x80\x04\x8e" + len(blob).to_bytes(8, "little") + blob + b".")
    starved = tmp_path / "starved.yaml"
    starved.write_text("name: starved\nextends: default\nlimits: {max_worker_memory_bytes: 1000000}\n")
    report = scan([folder], policy=starved, executor=DaskExecutor(client=dask_client))
    assert {Path(e.path).name for e in report.errors} >= {"big.pkl"}
    assert {e.reason for e in report.errors} <= {"limit", "internal"}, report.errors
    assert ("big.pkl", "AISEC-GEN-001") in {(Path(f.path).name, f.rule_id) for f in report.findings}
    assert _worker_pids(dask_client) == pids  # the bounded children paid, the workers did not
    assert set(dask_client.run(close_idle_children).values()) == {0}  # the executor already ended them


def test_cli_runs_on_the_scheduler_from_the_environment(tmp_path: Path, dask_client: Any,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """With ``--hashes`` a scan runs the executor twice (signed folders after their files): same report."""
    monkeypatch.chdir(tmp_path)
    for rule in ("AISEC-MDL-003", "AISEC-SIG-001"):
        shutil.copytree(FIXTURES / rule, tmp_path / "m" / rule)
    shutil.copyfile(FIXTURES / "AISEC-MDL-001" / "fail" / "os_system_p4.pkl", tmp_path / "m" / "evil.pkl")
    assert main(["scan", "m", "--hashes", "-j", "1", "-f", "json", "-q"]) == 1
    serial = capsys.readouterr().out
    monkeypatch.setenv("AISEC_DASK_SCHEDULER", dask_client.scheduler.address)
    code = main(["scan", "m", "--hashes", "--executor", "dask", "-f", "json", "-q"])
    clustered = capsys.readouterr().out
    assert code == 1 and without_times(clustered) == without_times(serial)
    doc = json.loads(clustered)
    files = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / "m").rglob("*") if p.is_file()}
    assert {a["path"] for a in doc["artifacts"] if a["kind"] != "directory"} == files
    assert all(a["sha256"] for a in doc["artifacts"] if a["kind"] != "directory")
    assert dask_client.status == "running"  # the CLI closed its own connection, not the cluster


def test_workers_read_s3_objects_themselves(dask_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A task carries the object's URI, not its bytes: workers fetch it with their own credentials (here the
    endpoint and keys set on the workers, as a real cluster has them in its environment or instance role)."""
    import s3fs

    from tests.remote.servers import BUCKET, moto_s3, s3_env, upload

    with moto_s3() as endpoint:
        env = s3_env(endpoint)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem(endpoint_url=endpoint)
        fs.mkdir(BUCKET)
        for name in ("os_system_p4.pkl", "posix_system_p0.pkl", "pickle_in_keras_assets.keras"):
            upload(fs, FIXTURES / "AISEC-MDL-001" / "fail" / name, f"{BUCKET}/dask/{name}")
        before = dict(dask_client.run(_set_env, env))
        try:
            serial = scan([f"s3://{BUCKET}/dask"], jobs=1)
            clustered = scan([f"s3://{BUCKET}/dask"], executor=DaskExecutor(client=dask_client))
        finally:
            for worker, replaced in before.items():
                dask_client.run(_restore_env, replaced, workers=[worker])
    assert without_times(render_json(clustered)) == without_times(render_json(serial))
    assert not clustered.errors and clustered.artifacts[0].path.startswith(f"s3://{BUCKET}/dask/")
    assert "AISEC-MDL-001" in {f.rule_id for f in clustered.findings}


def _set_env(env: dict[str, str]) -> dict[str, str | None]:
    """On a worker: set ``env``, return what it replaced."""
    before = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    return before


def _restore_env(before: dict[str, str | None]) -> None:
    """On a worker: put back what :func:`_set_env` replaced."""
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_a_cluster_without_workers_reports_files_instead_of_hanging(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    shutil.copytree(FIXTURES / "AISEC-MDL-001", tmp_path / "m")
    policy = tmp_path / "quick.yaml"
    policy.write_text("name: quick\nextends: default\nlimits: {max_seconds_per_file: 0.5}\n")
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster, Client(cluster) as client:
        report = scan([tmp_path / "m"], policy=policy, executor=DaskExecutor(client=client, stall_grace_seconds=0.5))
    assert len(report.errors) == len(report.artifacts) > 0
    assert {e.reason for e in report.errors} == {"timeout"}
    assert not report.trustworthy


def test_a_worker_that_dies_mid_task_is_a_not_fully_scanned_file(tmp_path: Path, dask_client: Any) -> None:
    """Last in the module: the nanny restarts the killed worker in the background."""
    folder = slow_and_evil(tmp_path, 10_000_000)
    policy = tmp_path / "patient.yaml"
    policy.write_text("name: patient\nextends: default\nlimits: {max_seconds_per_file: 120, "
                      "max_pickle_opcodes: 100000000, max_read_bytes: 50000000, max_file_bytes: 50000000}\n")
    pids = _worker_pids(dask_client)
    done: list[str] = []
    reports: list[Any] = []

    def progress(_files: int, _size: int) -> Any:
        return lambda result: done.append(Path(result.artifact.path).name)

    runner = threading.Thread(target=lambda: reports.append(
        scan([folder], policy=policy, executor=DaskExecutor(client=dask_client), progress=progress)))
    runner.start()
    busy: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    while not ("evil.pkl" in done and len(busy) == 1) and time.monotonic() < deadline:
        time.sleep(0.1)  # evil.pkl is quick: once it is done, the one busy worker holds slow.pkl
        busy = {worker: keys for worker, keys in dask_client.processing().items() if keys}
    assert "evil.pkl" in done and len(busy) == 1 and "slow.pkl" not in done, (done, busy)
    os.kill(pids[next(iter(busy))], signal.SIGKILL)
    runner.join(timeout=60)
    assert not runner.is_alive() and reports
    report = reports[0]
    assert sorted(Path(a.path).name for a in report.artifacts if a.kind.value != "directory") == [
        "evil.pkl", "slow.pkl"]
    assert [(Path(e.path).name, e.reason) for e in report.errors] == [("slow.pkl", "internal")]
    assert "died" in report.errors[0].message
    assert ("evil.pkl", "AISEC-MDL-001") in {(Path(f.path).name, f.rule_id) for f in report.findings}

