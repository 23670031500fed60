"""Run per-artifact analysis in worker processes, with a per-file time budget and deterministic order.

The work unit is "analyze this artifact under this policy, return facts and findings as plain data"
(:func:`aisec.analysis.analyze_artifact` → :class:`ArtifactResult`), so another engine (Dask, Ray) can
implement :class:`Executor` without touching analyzers or rules.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import signal
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aisec import file_progress
from aisec.analysis import ArtifactResult, analyze_artifact, failed_result
from aisec.analyzers import analyzers_for
from aisec.discovery import Discovered
from aisec.engine.evaluate import BoundRule
from aisec.engine.policy import Policy
from aisec.forked import Channel, ForkedProcess, wait
from aisec.threads import cap_native_threads

Progress = Callable[[ArtifactResult], None]
"""Called in the parent once per finished artifact (in completion order). A progress object may also have
``in_file(path, rows, bytes_read, size)``: executors call it while a large file is analysed."""
IN_FILE_MIN_BYTES = 64 * 1024 * 1024
"""Files at least this large report rows and bytes while they are analysed …"""
IN_FILE_AFTER_SECONDS = 1.0
"""… once they have taken this long."""
BATCH_MAX_FILES = 32
"""At most this many files go to a worker in one message (small files: one round trip per file would leave the
workers waiting on the parent more than analysing) …"""
BATCH_FILE_BYTES = 1024 * 1024
"""… and only files up to this size are batched (a large file is a message of its own)."""
_COUNTER = struct.Struct("qq")


def _in_file(progress: Progress | None, item: Discovered, started: float) -> Callable[[int, int], None] | None:
    """The in-file progress callback for ``item``, or ``None`` when nobody shows it or the file is small."""
    shown = getattr(progress, "in_file", None)
    if shown is None or item.artifact.size < IN_FILE_MIN_BYTES:
        return None

    def report(rows: int, bytes_read: int) -> None:
        if time.monotonic() - started >= IN_FILE_AFTER_SECONDS:
            shown(item.artifact.path, rows, bytes_read, item.artifact.size)
    return report


class Executor(Protocol):
    """Analyzes many artifacts; returns results in the order of ``items`` whatever order they finish in."""

    def run(self, items: Sequence[Discovered], rules: Sequence[BoundRule], policy: Policy,
            progress: Progress | None = None) -> list[ArtifactResult]:
        """Analyze every item."""
        ...


class InProcessExecutor:
    """Analyzes in the calling process, one artifact after another (no time budget: for debugging)."""

    def run(self, items: Sequence[Discovered], rules: Sequence[BoundRule], policy: Policy,
            progress: Progress | None = None) -> list[ArtifactResult]:
        """Analyze every item in order."""
        results = []
        try:
            for item in items:
                file_progress.set_sink(_in_file(progress, item, time.monotonic()))
                result = analyze_artifact(item, rules, policy)
                if progress is not None:
                    progress(result)
                results.append(result)
        finally:
            file_progress.set_sink(None)
        return results


@dataclass(kw_only=True)
class _Worker:
    process: ForkedProcess
    conn: Channel
    counter: mmap.mmap
    """Shared (rows, bytes read) of the file the worker is analysing, for the progress display."""
    batch: list[int] = field(default_factory=list)
    """The items sent to this worker and not yet answered, in the order it analyses them."""
    started: float = 0.0
    """When the worker started on ``task`` (its batch was sent, or the previous file's result arrived)."""

    @property
    def task(self) -> int | None:
        """The item the worker is analysing now, if any."""
        return self.batch[0] if self.batch else None


def _worker_main(conn: Channel, rules: Sequence[BoundRule], policy: Policy, counter: mmap.mmap) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _cap_memory(policy.limits.max_worker_memory_bytes)
    cap_native_threads()

    def report(rows: int, bytes_read: int) -> None:
        _COUNTER.pack_into(counter, 0, rows, bytes_read)
    file_progress.set_sink(report)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        for index, item in message:  # a batch: each result goes back as soon as it is ready
            _COUNTER.pack_into(counter, 0, 0, 0)
            conn.send((index, analyze_artifact(item, rules, policy)))


def _cap_memory(limit: int) -> None:
    # A hostile file must not take the machine's memory: past the cap, allocations fail with MemoryError,
    # which the analysis reports as a hit limit (or the worker dies and the parent reports that).
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):
        pass  # not available on this platform; the named parser limits still apply


class ProcessExecutor:
    """A pool of forked worker processes; a worker that exceeds ``max_seconds_per_file`` is killed and replaced.

    Forking keeps the loaded rules and policy in the workers without re-loading or pickling them; results
    come back as pickled :class:`ArtifactResult` values produced by aisec's own code (never artifact bytes).
    Small files go out in batches (see :func:`_next_batch`) and come back one result at a time, so the budget
    still applies to each file: a file's clock starts when the previous result of its batch arrives, and a
    file over budget fails alone while the rest of its batch goes back to the queue.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)

    def run(self, items: Sequence[Discovered], rules: Sequence[BoundRule], policy: Policy,
            progress: Progress | None = None) -> list[ArtifactResult]:
        """Analyze every item across the pool."""
        results: dict[int, ArtifactResult] = {}
        pending = list(range(len(items)))[::-1]
        workers: list[_Worker] = []
        budget = policy.limits.max_seconds_per_file
        for kind in sorted({item.artifact.kind for item in items}, key=lambda k: k.value):
            analyzers_for(kind)  # import them once here, so forked workers share them instead of each importing
        try:
            for _ in range(min(self.jobs, len(items))):
                workers.append(self._spawn(rules, policy, workers))
            while len(results) < len(items):
                for worker in workers:
                    if worker.task is None and pending:
                        worker.batch = _next_batch(pending, items, len(workers))
                        worker.started = time.monotonic()
                        _COUNTER.pack_into(worker.counter, 0, 0, 0)
                        worker.conn.send([(index, items[index]) for index in worker.batch])
                busy = [w for w in workers if w.task is not None]
                # Poll more often while someone shows in-file progress (a worker only updates shared counters).
                poll = 0.25 if getattr(progress, "in_file", None) is not None else 0.5
                ready = wait([w.conn for w in busy], timeout=poll)
                for worker in busy:
                    assert worker.task is not None
                    shown = _in_file(progress, items[worker.task], worker.started)
                    if shown is not None:
                        shown(*_COUNTER.unpack_from(worker.counter, 0))
                for i, worker in enumerate(workers):
                    answered = worker.conn in ready
                    # Take every result a batch worker has already sent, not just one per wait.
                    while worker.task is not None:
                        result = self._collect(worker, answered, items, rules, budget)
                        if result is None:
                            break
                        results[worker.batch.pop(0)] = result
                        worker.started = time.monotonic()
                        if progress is not None:
                            progress(result)
                        if not worker.process.is_alive():
                            pending.extend(reversed(worker.batch))  # the rest of its batch goes to another
                            workers[i] = self._spawn(rules, policy, workers)
                            break
                        answered = worker.conn.poll()
        finally:
            for worker in workers:
                self._stop(worker)
        return [results[i] for i in range(len(items))]

    @staticmethod
    def _spawn(rules: Sequence[BoundRule], policy: Policy, siblings: Sequence[_Worker]) -> _Worker:
        counter = mmap.mmap(-1, _COUNTER.size)  # anonymous and shared: the forked worker writes, the parent reads
        open_fds = [fd for w in siblings if not w.conn.closed for fd in (w.conn.read_fd, w.conn.write_fd)]
        process = ForkedProcess(lambda conn: _worker_main(conn, rules, policy, counter), close_in_child=open_fds)
        return _Worker(process=process, conn=process.conn, counter=counter)

    def _collect(self, worker: _Worker, answered: bool, items: Sequence[Discovered],
                 rules: Sequence[BoundRule], budget: float) -> ArtifactResult | None:
        assert worker.task is not None
        item = items[worker.task]
        if not answered and time.monotonic() - worker.started > budget:
            answered = worker.conn.poll()  # a result that arrived since the wait is not a timeout
        if answered:
            try:
                index, result = worker.conn.recv()
            except (EOFError, OSError):
                worker.process.join(timeout=1)
                code = worker.process.exitcode
                self._kill(worker)
                return failed_result(item, rules, reason="internal",
                                     message=f"the analysis worker died (exit code {code}); the file may "
                                             "exhaust memory or crash a parser")
            assert index == worker.task
            return result  # type: ignore[no-any-return]
        if time.monotonic() - worker.started > budget:
            self._kill(worker)
            return failed_result(item, rules, reason="timeout", limit="max_seconds_per_file",
                                 message=f"analysis took longer than max_seconds_per_file={budget:g}s and "
                                         "was stopped")
        return None

    @staticmethod
    def _kill(worker: _Worker) -> None:
        # A killed worker is not alive afterwards: ``run`` replaces it and re-queues the rest of its batch.
        worker.process.kill()
        worker.conn.close()

    @staticmethod
    def _stop(worker: _Worker) -> None:
        if worker.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
            worker.process.join(timeout=2)
        if worker.process.is_alive():
            ProcessExecutor._kill(worker)
        else:
            worker.conn.close()


def _next_batch(pending: list[int], items: Sequence[Discovered], workers: int) -> list[int]:
    """The next items for an idle worker, taken from the end of ``pending`` (which is in reverse order).

    One large file alone; else consecutive small files, at most ``BATCH_MAX_FILES`` and a share of what is
    left small enough that every worker still gets work at the end of the scan.
    """
    share = max(1, min(BATCH_MAX_FILES, len(pending) // (2 * workers)))
    batch = [pending.pop()]
    while (pending and len(batch) < share and items[batch[0]].artifact.size <= BATCH_FILE_BYTES
           and items[pending[-1]].artifact.size <= BATCH_FILE_BYTES):
        batch.append(pending.pop())
    return batch


def default_jobs() -> int:
    """One worker per available CPU."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
