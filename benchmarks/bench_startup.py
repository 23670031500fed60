"""Start-up and small-input speed of aisec against picklescan and modelscan, measured in one run (by hand).

    .venv/bin/python benchmarks/bench_startup.py [--rounds 7] [--files 150] [--gb 2] [--workdir DIR]

Builds, in a scratch folder: one small pickle, a folder of ``--files`` small model files (state-dict pickles,
.npy arrays, a config), and a ``--gb`` GB PyTorch-style checkpoint (tensor blobs written as file holes).
Every tool runs as a child process, all tools interleaved round by round; the tables print the median wall
time and CPU time (user+sys of the child, from ``wait4``) and each tool's ratio to aisec's. Then:

* ``aisec --version``: wall, and the import time of ``aisec.cli`` (``-X importtime``, median);
* bytes read (``rchar``) by ``aisec scan -j 0`` of the checkpoint, against the pickle plus zip directory;
* ``--jobs 2`` over ``--jobs 1`` on a folder of CPU-bound pickles (see ``bench_jobs.py``).

aisec's bytecode is compiled first, as ``pip install`` of a wheel does (picklescan and modelscan come from
wheels with their ``.pyc`` files; a checkout run with ``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile every
aisec module on every run), and its configuration cache is warmed (the first run after an install or an edit
validates the rules).
Wall times are noisy on a loaded machine: compare rows of the same run, and the CPU columns.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "fixtures"))

import bench_jobs  # noqa: E402
import bench_models  # noqa: E402
import pickle_ops as ops  # noqa: E402

BIN = Path(sys.executable).parent
DEVNULL = subprocess.DEVNULL


def aisec_cmd(*args: str) -> list[str]:
    """``aisec`` as installed next to this interpreter."""
    return [str(BIN / "aisec"), *args]


def scanners(target: Path) -> dict[str, list[str]]:
    """Each scanner's command line for ``target`` (aisec as a user runs it: default jobs, text report)."""
    return {
        "aisec": aisec_cmd("scan", "-q", str(target)),
        "picklescan": [str(BIN / "picklescan"), "-p", str(target)],
        "modelscan": [str(BIN / "modelscan"), "scan", "-p", str(target)],
    }


def timed(cmd: Sequence[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user+sys, the child and its workers), exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=DEVNULL, stderr=DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    # Linux's wait4 usage covers the child and every descendant it waited for (aisec joins its workers).
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def compare(label: str, commands: dict[str, list[str]], rounds: int) -> dict[str, tuple[float, float]]:
    """Run every command ``rounds`` times, interleaved; print and return the medians."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    codes: dict[str, int] = {}
    for _ in range(rounds):
        for name, cmd in commands.items():
            wall, cpu, code = timed(cmd)
            walls[name].append(wall)
            cpus[name].append(cpu)
            codes[name] = code
    medians = {name: (statistics.median(walls[name]), statistics.median(cpus[name])) for name in commands}
    base_wall, base_cpu = medians[next(iter(commands))]
    print(f"\n== {label} (median of {rounds} interleaved rounds)")
    print(f"{'tool':<12}{'wall s':>9}{'cpu s':>9}{'exit':>6}{'wall/aisec':>12}{'cpu/aisec':>11}")
    for name, (wall, cpu) in medians.items():
        print(f"{name:<12}{wall:>9.3f}{cpu:>9.3f}{codes[name]:>6}{wall / base_wall:>12.2f}{cpu / base_cpu:>11.2f}")
    return medians


def version_imports(rounds: int) -> None:
    """``aisec --version``: wall against a bare interpreter, and the import time of ``aisec.cli``."""
    bare = statistics.median(timed([sys.executable, "-c", "pass"])[0] for _ in range(rounds))
    version = statistics.median(timed(aisec_cmd("--version"))[0] for _ in range(rounds))
    imports = []
    for _ in range(rounds):
        run = subprocess.run([sys.executable, "-X", "importtime", "-m", "aisec", "--version"], capture_output=True,
                             text=True, check=True)
        total = sum(int(m.group(1)) for m in re.finditer(r"import time:\s+\d+ \|\s+(\d+) \| (?=\S)", run.stderr))
        imports.append(total / 1e6)
    cli = []
    for _ in range(rounds):
        run = subprocess.run([sys.executable, "-X", "importtime", "-c", "import aisec.cli"], capture_output=True,
                             text=True, check=True)
        match = re.search(r"\|\s+(\d+) \| aisec\.cli\n", run.stderr)
        cli.append(int(match.group(1)) / 1e6 if match else float("nan"))
    print(f"\n== aisec --version (median of {rounds})")
    print(f"wall {version:.3f} s (bare interpreter {bare:.3f} s); every import "
          f"{statistics.median(imports) * 1000:.0f} ms, of which aisec.cli {statistics.median(cli) * 1000:.0f} ms "
          "(target: <= 100 ms)")


_READ_PROBE = """
import sys
from aisec.cli import main

def rchar():
    return int([ln for ln in open('/proc/self/io') if ln.startswith('rchar')][0].split()[1])

checkpoint, tiny = sys.argv[1], sys.argv[2]
main(['scan', '-q', '-j', '0', checkpoint])  # imports every module the checkpoint needs
r0 = rchar()
main(['scan', '-q', '-j', '0', tiny])
r1 = rchar()
main(['scan', '-q', '-j', '0', checkpoint])
r2 = rchar()
print(r1 - r0, r2 - r1)
"""


def bytes_read(checkpoint: Path, tiny: Path) -> None:
    """What a warm ``aisec scan -j 0`` reads of a large checkpoint, against its pickle plus zip directory
    (``rchar`` of the process; a run on a one-line file gives the per-run cost of reading the configuration)."""
    run = subprocess.run([sys.executable, "-c", _READ_PROBE, str(checkpoint), str(tiny)], capture_output=True,
                         text=True, check=True)
    per_run, with_checkpoint = (int(v) for v in run.stdout.split()[-2:])
    used = with_checkpoint - per_run
    with zipfile.ZipFile(checkpoint) as archive:
        pickle_size = archive.getinfo("archive/data.pkl").compress_size
        directory = sum(46 + len(i.filename.encode()) + len(i.extra) + len(i.comment) for i in archive.infolist())
    size = checkpoint.stat().st_size
    print(f"\n== bytes read scanning {checkpoint.name} ({size / 1e9:.2f} GB)")
    print(f"aisec read {used / 1e3:.1f} KB of it ({used / size:.2e} of the file; pickle {pickle_size / 1e3:.1f} KB + "
          f"zip directory {directory / 1e3:.1f} KB = {(pickle_size + directory) / 1e3:.1f} KB), beside "
          f"{per_run / 1e3:.1f} KB that every run reads (rule and policy files, the configuration cache)")


_JOBS_PROBE = """
import json, resource, sys, time
from aisec.cli import main
self0, kids0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
start = time.perf_counter()
code = main(["scan", sys.argv[1], "-q", "-j", sys.argv[2], "-f", "sarif", "-o", sys.argv[3]])
wall = time.perf_counter() - start
self1, kids1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = lambda a, b: b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime
print(json.dumps({"wall": wall, "parent": cpu(self0, self1), "workers": cpu(kids0, kids1), "code": code}))
"""


def jobs_speedup(work: Path, rounds: int) -> None:
    """``--jobs 2`` over ``--jobs 1`` on CPU-bound pickles: wall speedup, and the bound the parent's serial
    CPU leaves (Amdahl: the speedup two free cores would give), which a loaded machine cannot hide."""
    import json

    folder = work / "cpu_bound"
    bench_jobs.build(folder, 40, 60_000)
    runs: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for _ in range(rounds):
        for jobs in (1, 2):
            probe = [sys.executable, "-c", _JOBS_PROBE, str(folder), str(jobs), str(work / f"j{jobs}.sarif")]
            out = subprocess.run(probe, capture_output=True, text=True, check=True)
            runs[jobs].append(json.loads(out.stdout.splitlines()[-1]))
    one = min(runs[1], key=lambda r: r["wall"])
    two = min(runs[2], key=lambda r: r["wall"])
    serial, parallel = two["parent"], two["workers"]
    same = bench_jobs._without_times(work / "j1.sarif") == bench_jobs._without_times(work / "j2.sarif")
    print(f"\n== --jobs 2 over --jobs 1, 40 CPU-bound checkpoints (best of {rounds}; target >= 1.8x)")
    print(f"jobs 1: {one['wall']:.2f} s wall; jobs 2: {two['wall']:.2f} s wall; speedup "
          f"{one['wall'] / two['wall']:.2f}x on this machine (load {os.getloadavg()[0]:.1f})")
    print(f"jobs 2 CPU: parent {serial:.2f} s, workers {parallel:.2f} s; with two free cores the speedup is at "
          f"most {(serial + parallel) / (serial + parallel / 2):.2f}x (Amdahl); reports identical: {same}")


def write_folder(folder: Path, files: int) -> None:
    """``files`` small model files: state-dict pickles, .npy arrays and a config, as a model zoo folder has."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bench"}')
    state = ops.state_dict_pickle([("w", ops.rebuild_tensor_ops())])
    for i in range(files - 1):
        if i % 3 == 2:
            header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (16,), }"
            header += b" " * (63 - len(header) % 64) + b"\n"
            (folder / f"array_{i:04d}.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                                                        + header + bytes(64))
        else:
            (folder / f"shard_{i:04d}.bin").write_bytes(state if i % 2 else pickle.dumps({"step": i}, protocol=4))


def main() -> None:
    """Build the inputs, warm the cache, run every comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--files", type=int, default=150)
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-jobs", action="store_true", help="leave out the --jobs comparison")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="aisec-startup-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        one = work / "one.pkl"
        one.write_bytes(pickle.dumps({"weights": [0.5] * 64, "step": 3}, protocol=4))
        folder = work / "zoo"
        write_folder(folder, args.files)
        checkpoint = work / "checkpoint.pt"
        bench_models.write_sparse_checkpoint(checkpoint, int(args.gb * 1e9))
        import aisec

        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(aisec.__file__).parent)], check=True,
                       stdout=DEVNULL)
        timed(aisec_cmd("scan", "-q", str(one)))  # fills the configuration cache if this install has none yet
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
              f"workdir {work}")
        version_imports(args.rounds)
        compare("one small pickle", scanners(one), args.rounds)
        compare(f"folder of {args.files} small model files", scanners(folder), args.rounds)
        compare(f"{args.gb:g} GB PyTorch checkpoint", scanners(checkpoint), max(3, args.rounds // 2))
        bytes_read(checkpoint, one)
        if not args.skip_jobs:
            jobs_speedup(work, max(2, args.rounds // 3))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
