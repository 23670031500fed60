"""Start-up cost of aisec against picklescan in instructions (callgrind), a figure the machine's load does not move.

    .venv/bin/python benchmarks/bench_instructions.py [--files 150] [--workdir DIR]

Wall and CPU seconds on a shared machine vary by 2x with its load; the number of instructions a run executes
does not (it moves by well under 1 % between runs). Each command runs once under ``valgrind --tool=callgrind``
(about 50x slower than natively: a few minutes in all): ``python -c pass`` (the interpreter alone), ``aisec
--version``, and aisec (``-j 0``: analysed in the one process callgrind counts) and picklescan on one small
pickle and on a folder of ``--files`` small model files (the same inputs as ``bench_startup.py``).
aisec's bytecode is compiled and its configuration cache warmed first, as in ``bench_startup.py``.
Needs valgrind; prints millions of instructions and each tool's ratio to aisec's.
"""

from __future__ import annotations

import argparse
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_startup  # noqa: E402

BIN = Path(sys.executable).parent


def instructions(cmd: list[str]) -> float:
    """Millions of instructions the command executed (user space, the process itself)."""
    run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
                         capture_output=True, text=True, check=False)
    match = re.search(r"Collected : (\d+)", run.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count for {cmd}: {run.stderr[-500:]}")
    return int(match.group(1)) / 1e6


def main() -> None:
    """Build the inputs, warm aisec, count every command."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=150)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("bench_instructions needs valgrind")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="aisec-instructions-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        one = work / "one.pkl"
        one.write_bytes(pickle.dumps({"weights": [0.5] * 64, "step": 3}, protocol=4))
        folder = work / "zoo"
        bench_startup.write_folder(folder, args.files)
        import aisec

        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(aisec.__file__).parent)], check=True,
                       stdout=subprocess.DEVNULL)
        aisec_cmd = [str(BIN / "aisec"), "scan", "-q", "-j", "0"]
        subprocess.run([*aisec_cmd, str(folder)], stdout=subprocess.DEVNULL, check=False)  # fills the cache
        time.sleep(4)  # past the cache's racy window, so the runs below key it by stat as a later run would
        subprocess.run([*aisec_cmd, str(one)], stdout=subprocess.DEVNULL, check=False)
        bare = instructions([sys.executable, "-c", "pass"])
        print(f"python -c pass: {bare:.1f} M instructions (every command below includes it)")
        print(f"aisec --version: {instructions([str(BIN / 'aisec'), '--version']):.1f} M")
        for label, target in (("one small pickle", one), (f"folder of {args.files} small model files", folder)):
            counts = {"aisec": instructions([*aisec_cmd, str(target)]),
                      "picklescan": instructions([str(BIN / "picklescan"), "-p", str(target)])}
            print(f"\n== {label}")
            for name, count in counts.items():
                print(f"{name:<12}{count:>9.1f} M{count / counts['aisec']:>8.2f} of aisec's"
                      f"{(count - bare) / (counts['aisec'] - bare):>8.2f} beyond the interpreter")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
