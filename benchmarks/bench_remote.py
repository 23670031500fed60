"""Scan a folder of checkpoints in S3 with ranged reads, against downloading it first and scanning locally.

    .venv/bin/python benchmarks/bench_remote.py [--models 8] [--mb 64]

One run, one local S3 endpoint (moto's standalone server on 127.0.0.1, real s3fs): ``--models`` torch-style
checkpoints of ``--mb`` MiB each (one of them with an ``os.system`` pickle) are uploaded, then

* ``ranged``: ``aisec scan s3://bench/ckpt`` (the CLI, worker processes reading the objects themselves);
* ``download+scan``: ``s3fs.get`` of the prefix to a scratch folder, then ``aisec scan`` of that folder.

Bytes are counted on the wire by a TCP proxy between the clients and the server (response bytes, headers
included), so they do not depend on which process made a request. Wall times and CPU seconds are printed too: the
client's (the aisec processes, and the s3fs download in a child process) and the server's (this process: moto
and the proxy). Wall is noisy on a loaded machine; CPU seconds are not. moto reads a whole object from its store
for every ranged GET, which real S3 does not, so the ranged line's server CPU is pessimistic here. The two
reports must have the same findings.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "fixtures"))

from benchmarks.bench_models import write_sparse_checkpoint  # noqa: E402
from tests.remote.servers import counting_proxy, moto_s3, s3_env  # noqa: E402

BUCKET = "bench"


def _evil_checkpoint(path: Path) -> None:
    import zipfile

    from pickle_ops import global_op, proto, stop, unicode  # type: ignore[import-not-found]

    payload = proto(2) + global_op("os", "system") + unicode("id") + b"\x85R" + stop()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", b"3\n")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _scan(target: str, env: dict[str, str]) -> tuple[float, float, dict[str, object]]:
    started, cpu = time.monotonic(), _children_cpu()
    done = subprocess.run([sys.executable, "-m", "aisec", "scan", target, "-q", "-f", "json"], env=env,
                          capture_output=True, text=True, check=False)
    wall, cpu = time.monotonic() - started, _children_cpu() - cpu
    if done.returncode not in (0, 1):
        raise SystemExit(f"aisec scan {target} failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, cpu, json.loads(done.stdout)


def _download(prefix: str, folder: Path, env: dict[str, str]) -> tuple[float, float]:
    """``s3fs.get`` of the prefix in a child process (its CPU is the client's, apart from the server's)."""
    started, cpu = time.monotonic(), _children_cpu()
    code = f"import s3fs; s3fs.S3FileSystem().get({prefix!r}, {str(folder) + '/'!r}, recursive=True)"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    return time.monotonic() - started, _children_cpu() - cpu


def _findings(report: dict[str, object], prefix: str) -> list[tuple[str, str]]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return sorted((f["rule_id"], f["path"].removeprefix(prefix).lstrip("/")) for f in findings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--mb", type=int, default=64, help="size of each checkpoint in MiB")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    try:
        local = scratch / "models"
        local.mkdir()
        for i in range(args.models - 1):
            write_sparse_checkpoint(local / f"model_{i:02d}.pt", args.mb * 1024 * 1024)
        _evil_checkpoint(local / "model_evil.pt")
        total = sum(p.stat().st_size for p in local.iterdir())
        with moto_s3() as endpoint:
            os.environ.update(s3_env(endpoint))
            import s3fs

            fs = s3fs.S3FileSystem()
            fs.mkdir(BUCKET)
            for path in sorted(local.iterdir()):
                fs.put_file(str(path), f"{BUCKET}/ckpt/{path.name}")
            with counting_proxy(endpoint) as (proxy, received):
                env = {**os.environ, **s3_env(proxy), "PYTHONPATH": str(REPO)}
                before, server_cpu = received[0], time.process_time()
                ranged_wall, ranged_cpu, ranged = _scan(f"s3://{BUCKET}/ckpt", env)
                ranged_bytes, ranged_server = received[0] - before, time.process_time() - server_cpu

                before, server_cpu = received[0], time.process_time()
                get_wall, get_cpu = _download(f"{BUCKET}/ckpt/", scratch / "download", env)
                download_bytes, download_server = received[0] - before, time.process_time() - server_cpu
                scan_wall, scan_cpu, downloaded = _scan(str(scratch / "download"), env)
        same = _findings(ranged, f"s3://{BUCKET}/ckpt") == _findings(downloaded, str(scratch / "download"))
        print(f"{args.models} checkpoints, {total / 2**20:,.1f} MiB in s3://{BUCKET}/ckpt (moto on 127.0.0.1)")
        print(f"{'method':<16}{'bytes on the wire':>20}{'of the data':>13}{'wall s':>9}{'client CPU-s':>14}"
              f"{'server CPU-s':>14}")
        print(f"{'ranged':<16}{ranged_bytes:>20,}{ranged_bytes / total:>13.5f}{ranged_wall:>9.2f}{ranged_cpu:>14.2f}"
              f"{ranged_server:>14.2f}")
        print(f"{'download+scan':<16}{download_bytes:>20,}{download_bytes / total:>13.5f}"
              f"{get_wall + scan_wall:>9.2f}{get_cpu + scan_cpu:>14.2f}{download_server:>14.2f}"
              f"  (download {get_wall:.2f} s wall, {get_cpu:.2f} CPU-s; scan {scan_wall:.2f} s, {scan_cpu:.2f} CPU-s)")
        print(f"transfer ratio download/ranged: {download_bytes / max(1, ranged_bytes):,.0f}x; "
              f"same findings: {same} ({len(_findings(ranged, ''))} findings)")
        return 0 if same else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
