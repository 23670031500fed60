"""Short, seeded fuzz runs of every parser target: only the declared error family escapes, facts are well-formed.

Inputs are generated seeds (small valid files) put through byte-level mutations; hypothesis runs derandomized
with a bounded number of examples, so the suite is deterministic. A per-example watchdog turns a hang into a
failure instead of a stuck test. Longer runs: ``python fuzz/run.py TARGET --seconds N``.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.mutate import mutate
from fuzz.targets import TARGETS, Target

EXAMPLES = {"sniffed": 120, "dataset": 60, "keras": 80}
"""Examples per target (default 150): a few seconds for the whole module on two cores."""
WATCHDOG_SECONDS = 10
"""Far above any single execution (milliseconds); only a hang or runaway work reaches it."""
REGRESSIONS = Path(__file__).parent / "regressions"


class Hang(Exception):
    """An execution ran past the watchdog."""


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    def alarm(_signum: int, _frame: object) -> None:
        raise Hang(f"no result after {seconds}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _seeds(target: Target) -> list[bytes]:
    seeds = target.seeds()
    assert seeds, f"target {target.name} has no seeds"
    return seeds


ops = st.lists(st.tuples(st.integers(0, 255), st.integers(0, 2 ** 20), st.integers(0, 2 ** 16)), max_size=6)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target(name: str) -> None:
    target = TARGETS[name]
    seeds = _seeds(target)

    @settings(max_examples=EXAMPLES.get(name, 150), derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(index=st.integers(0, len(seeds) - 1), other=st.integers(0, len(seeds) - 1), mutations=ops)
    def run(index: int, other: int, mutations: list[tuple[int, int, int]]) -> None:
        data = mutate(seeds[index], mutations, seeds[other])
        with watchdog(WATCHDOG_SECONDS):
            target.run(data)

    run()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_seed_runs_clean(name: str) -> None:
    """The unmutated seeds are the baseline: a target that fails on valid input is not fuzzing anything."""
    for seed in _seeds(TARGETS[name]):
        with watchdog(WATCHDOG_SECONDS):
            TARGETS[name].run(seed)


def _regressions() -> list[Path]:
    return sorted(p for p in REGRESSIONS.glob("*/*") if p.is_file())


@pytest.mark.parametrize("path", _regressions(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_regression_inputs(path: Path) -> None:
    """Inputs that once broke a target (``regressions/<target>/<name>``) stay fixed."""
    with watchdog(WATCHDOG_SECONDS):
        TARGETS[path.parent.name].run(path.read_bytes())
