"""Run one fuzz target for a while: ``python fuzz/run.py TARGET --seconds N`` (``--list`` names the targets).

Engines: ``atheris`` (coverage-guided libFuzzer, ``pip install atheris``; the default when it imports) and
``mutate`` (seeded byte mutations of the same seeds, no extra dependency). A crashing input is written to
``fuzz/crashes/<target>/`` with its traceback; turn it into a regression with ``--promote FILE`` (copies it to
``tests/hardening/regressions/<target>/``, which the test suite replays).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if not {"--list", "--promote", "mutate", "--engine=mutate", "-h", "--help"} & set(sys.argv):
    try:  # instrument aisec for coverage feedback: only aisec, not numpy/sklearn (fast start, focused)
        import atheris  # type: ignore[import-untyped]

        with atheris.instrument_imports(include=["aisec"]):
            import aisec.analysis
            import aisec.analyzers
            import aisec.baseline
            import aisec.signing.bundle  # noqa: F401
    except ImportError:
        pass

from fuzz.mutate import OPERATIONS, mutate  # noqa: E402
from fuzz.targets import TARGETS, Target  # noqa: E402

CRASHES = ROOT / "fuzz" / "crashes"
CORPUS = ROOT / "fuzz" / "corpus"
REGRESSIONS = ROOT / "tests" / "hardening" / "regressions"


def _save_crash(target: Target, data: bytes, error: BaseException) -> Path:
    folder = CRASHES / target.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{hashlib.sha256(data).hexdigest()[:16]}"
    path.write_bytes(data)
    path.with_suffix(".txt").write_text("".join(traceback.format_exception(error)), encoding="utf-8")
    return path


class _Timeout(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise _Timeout("execution exceeded the per-input timeout")


def run_mutate(target: Target, seconds: float, seed: int, timeout: float) -> int:
    """Seeded mutation loop; returns the number of crashes found."""
    rng = random.Random(seed)  # noqa: S311 - reproducible mutations, not secrets
    seeds = target.seeds()
    executions = crashes = 0
    deadline = time.monotonic() + seconds
    signal.signal(signal.SIGALRM, _alarm)
    while time.monotonic() < deadline:
        base = rng.choice(seeds)
        ops = [(rng.randrange(len(OPERATIONS)), rng.randrange(1 << 20), rng.randrange(1 << 16))
               for _ in range(rng.randint(1, 8))]
        data = mutate(base, ops, rng.choice(seeds))
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            target.run(data)
        except Exception as exc:
            crashes += 1
            print(f"crash: {type(exc).__name__}: {exc} -> {_save_crash(target, data, exc)}", flush=True)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        executions += 1
    print(f"target={target.name} engine=mutate seconds={seconds:g} executions={executions} crashes={crashes}")
    return crashes


def run_atheris(target: Target, seconds: float, seed: int, timeout: float) -> int:  # pragma: no cover - by hand
    """Coverage-guided run; libFuzzer prints its own statistics and stops at the first crash."""
    import atheris

    corpus = CORPUS / target.name  # kept between runs (ignored by git): later runs start where this one ended
    corpus.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(target.seeds()):
        (corpus / f"seed-{i}").write_bytes(data)

    def one(data: bytes) -> None:
        try:
            target.run(data)
        except Exception as exc:
            _save_crash(target, data, exc)
            raise

    crashes = CRASHES / target.name
    crashes.mkdir(parents=True, exist_ok=True)
    argv = [sys.argv[0], f"-max_total_time={int(seconds)}", f"-artifact_prefix={crashes}/", f"-seed={seed}",
            f"-timeout={int(timeout)}",
            "-rss_limit_mb=4096", "-print_final_stats=1", str(corpus)]
    print(f"target={target.name} engine=atheris seconds={seconds:g} (libFuzzer prints the execution count)",
          flush=True)
    atheris.Setup(argv, one)
    atheris.Fuzz()  # exits the process: libFuzzer's final stats include number_of_executed_units
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("target", nargs="?", choices=sorted(TARGETS))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10, help="per-input timeout in seconds")
    parser.add_argument("--engine", choices=("atheris", "mutate", "auto"), default="auto")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--promote", type=Path, help="copy a crash input into the regression folder and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, target in sorted(TARGETS.items()):
            print(f"{name:12} {target.description}")
        return 0
    if args.target is None:
        parser.error("a target is required")
    target = TARGETS[args.target]
    if args.promote:
        dest = REGRESSIONS / target.name / args.promote.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.promote, dest)
        print(dest)
        return 0
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "mutate"
    runner = run_atheris if engine == "atheris" else run_mutate
    return 1 if runner(target, args.seconds, args.seed, args.timeout) else 0


if __name__ == "__main__":
    sys.exit(main())
