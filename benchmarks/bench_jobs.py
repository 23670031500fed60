"""Time `aisec scan --jobs 1` against `--jobs N` on a folder of many models, and check the reports agree.

    .venv/bin/python benchmarks/bench_jobs.py [--models 120] [--items 60000] [--jobs 2] [--rounds 3] [--dask]

Each model is a torch-style zip checkpoint whose pickle holds ``--items`` memoized entries (CPU-bound to walk),
so the folder measures analysis, not disk. Prints best-of-rounds wall times, the speedup, and whether the two
SARIF reports are identical apart from invocation times. ``--dask`` adds a line for ``--executor dask`` on a
``distributed.LocalCluster`` of ``--jobs`` worker processes (one thread each) started once before the rounds, as a
long-running cluster would be (its start-up is printed apart), against ``--jobs N``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "fixtures"))

from pickle_ops import frame_wrap, proto, stop, unicode  # noqa: E402


def _state_dict_pickle(items: int, seed: int) -> bytes:
    # One join, not += per entry: appending to bytes copies the whole body each time (minutes at 60,000 entries).
    entries = (unicode(f"layer{seed}.{i}.weight") + b"\x94" + b"K" + bytes([i % 256]) for i in range(items))
    body = b"".join([b"}" + b"\x94" + b"(", *entries, b"u"])
    return proto(4) + frame_wrap(body) + stop()


def build(folder: Path, models: int, items: int) -> None:
    for n in range(models):
        target = folder / f"model_{n:03d}" / "pytorch_model.bin"
        target.parent.mkdir(parents=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("archive/data.pkl", _state_dict_pickle(items, n))
            archive.writestr("archive/version", b"3\n")
            archive.writestr("archive/data/0", b"\0" * 4096)


def run(folder: Path, jobs: int, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "aisec", "scan", str(folder), "--jobs", str(jobs), "-q", "-f", "sarif",
                    "-o", str(out), *extra], check=False, capture_output=True)
    return time.perf_counter() - start


def local_cluster(jobs: int) -> tuple[Any, float]:
    """A ``distributed.LocalCluster`` of ``jobs`` worker processes (one thread each) and its start-up wall."""
    from distributed import LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=":0")
    return cluster, time.perf_counter() - start


def cpu_seconds(cluster: Any = None) -> float:
    """CPU seconds used so far by finished child processes (an ``aisec scan`` and the workers it waited for) and,
    with a ``cluster``, by this process (the LocalCluster's scheduler runs here) and the cluster's processes (the
    bounded children a worker waited for included)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = children.ru_utime + children.ru_stime
    if cluster is not None:
        import psutil  # a dependency of distributed

        me = psutil.Process()
        own = me.cpu_times()
        total += own.user + own.system
        for process in me.children(recursive=True):
            try:
                t = process.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system + t.children_user + t.children_system
    return total


def _without_times(path: Path) -> str:
    log = json.loads(path.read_text(encoding="utf-8"))
    for inv in log["runs"][0]["invocations"]:
        inv.pop("startTimeUtc", None)
        inv.pop("endTimeUtc", None)
    return json.dumps(log, sort_keys=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=120)
    parser.add_argument("--items", type=int, default=60000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dask", action="store_true", help="also time --executor dask on a LocalCluster")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aisec-bench-jobs-"))
    try:
        folder = work / "models"
        build(folder, args.models, args.items)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"{args.models} models, {size / 1e6:.1f} MB, {args.items} pickle entries each")
        best = {1: float("inf"), args.jobs: float("inf")}
        cluster, started = local_cluster(args.jobs) if args.dask else (None, 0.0)
        dask, cpu = float("inf"), {"jobs": float("inf"), "dask": float("inf")}
        for _ in range(args.rounds):  # interleaved, so background load hits all alike
            for jobs in best:
                before = cpu_seconds()
                best[jobs] = min(best[jobs], run(folder, jobs, work / f"jobs{jobs}.sarif"))
                if jobs == args.jobs:
                    cpu["jobs"] = min(cpu["jobs"], cpu_seconds() - before)
            if cluster is not None:
                before = cpu_seconds(cluster)
                dask = min(dask, run(folder, args.jobs, work / "dask.sarif", "--executor", "dask", "--scheduler",
                                     cluster.scheduler_address))
                cpu["dask"] = min(cpu["dask"], cpu_seconds(cluster) - before)
        same = _without_times(work / "jobs1.sarif") == _without_times(work / f"jobs{args.jobs}.sarif")
        print(f"--jobs 1: {best[1]:.2f} s   --jobs {args.jobs}: {best[args.jobs]:.2f} s   "
              f"speedup {best[1] / best[args.jobs]:.2f}x   reports identical: {same}")
        if cluster is not None:
            cluster.close()
            same = _without_times(work / "jobs1.sarif") == _without_times(work / "dask.sarif")
            print(f"--executor dask on a LocalCluster of {args.jobs} workers (its start-up, {started:.1f} s, not "
                  f"counted): {dask:.2f} s   {dask / best[args.jobs]:.2f}x the wall of --jobs {args.jobs}; "
                  f"CPU {cpu['dask']:.2f} s (client, scheduler, workers) vs {cpu['jobs']:.2f} s = "
                  f"{cpu['dask'] / cpu['jobs']:.2f}x   reports identical: {same}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
