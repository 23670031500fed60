"""Analyze artifacts in a forked child under the memory cap, killed and replaced past the per-file time budget.

Engines that run tasks in long-lived worker processes they manage themselves (Dask, Ray) call
:func:`analyze_bounded` inside each task, so ``max_seconds_per_file`` and ``max_worker_memory_bytes`` hold there as
they do in :class:`aisec.executor.ProcessExecutor`, and a parser that crashes takes down the child, not the worker.
The child lives on between tasks of one configuration (modules it imported stay imported), one per worker thread,
until :func:`close_idle_children`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from aisec import file_progress
from aisec.analysis import ArtifactResult, analyze_artifact, failed_result
from aisec.analyzers import analyzers_for
from aisec.discovery import Discovered
from aisec.engine.evaluate import BoundRule
from aisec.engine.policy import Policy
from aisec.executor import _cap_memory
from aisec.threads import cap_native_threads

Configuration = tuple[Sequence[BoundRule], Policy]
"""The rules and the policy a task analyses under (one object per scan on a worker)."""
_HEADER = 8
_lock = threading.Lock()
_idle: dict[int, BoundedChild] = {}
"""Each worker thread's child between two tasks (a thread runs one task at a time)."""


class _Died(Exception):
    """The child ended (or its pipe broke) before answering."""


class BoundedChild:
    """A forked child that analyses one artifact at a time for one configuration."""

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration  # held, so its id is never reused while this child serves it
        rules, policy = configuration
        from_parent, to_child = os.pipe()  # (read end, write end)
        from_child, to_parent = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child ends in os._exit
            os.close(to_child)
            os.close(from_child)
            _serve(from_parent, to_parent, rules, policy)
        os.close(from_parent)
        os.close(to_parent)
        self.pid, self.to_child, self.from_child = pid, to_child, from_child
        self.status: int | None = None

    def analyze(self, item: Discovered, budget: float) -> ArtifactResult | str:
        """The child's result, ``"timeout"`` past ``budget`` seconds (the child is then killed), or raises
        :class:`_Died`."""
        started = time.monotonic()
        try:
            _write_frame(self.to_child, pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            raise _Died from None
        data = self._read(_HEADER, started, budget)
        if isinstance(data, str):
            return data
        body = self._read(int.from_bytes(data, "little"), started, budget)
        if isinstance(body, str):
            return body
        # Our own child pickled an ArtifactResult made by aisec's code; no artifact bytes are unpickled here.
        return pickle.loads(body)  # type: ignore[no-any-return]

    def _read(self, size: int, started: float, budget: float) -> bytes | str:
        chunks, got = [], 0
        while got < size:
            left = budget - (time.monotonic() - started)
            if left <= 0:
                return "timeout"
            ready, _, _ = select.select([self.from_child], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.from_child, min(size - got, 1 << 20))
                if not chunk:
                    raise _Died
                chunks.append(chunk)
                got += len(chunk)
            elif self.exited():  # a sibling fork may hold our pipe open: look at the child itself too
                raise _Died
        return b"".join(chunks)

    def exited(self) -> bool:
        """Whether the child has ended (reaps it)."""
        if self.status is not None:
            return True
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid:
            self.status = status
        return bool(pid)

    def close(self) -> None:
        """Kill the child and release its pipes (also used after a timeout)."""
        if self.status is None and self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                self.status = os.waitpid(self.pid, 0)[1]
        for fd in (self.to_child, self.from_child):
            with contextlib.suppress(OSError):
                os.close(fd)

    def died(self) -> str:
        """How the child ended, once it has."""
        self.close()
        code = os.waitstatus_to_exitcode(self.status or 0)
        if code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"


def analyze_bounded(item: Discovered, configuration: Configuration) -> ArtifactResult:
    """The analysis of ``item`` as plain data; a timeout or a dead child becomes a not-fully-scanned result."""
    rules, policy = configuration
    analyzers_for(item.artifact.kind)  # imported once in the long-lived worker, shared by the children it forks
    with _lock:  # checked out: close_idle_children() never touches a child at work
        child = _idle.pop(threading.get_ident(), None)
    if child is not None and (child.configuration is not configuration or child.exited()):
        child.close()  # another scan's, or gone between tasks (killed from outside): not this file's doing
        child = None
    if child is None:
        child = BoundedChild(configuration)
    budget = policy.limits.max_seconds_per_file
    try:
        outcome = child.analyze(item, budget)
    except _Died:
        return failed_result(item, rules, reason="internal",
                             message=f"the analysis process died ({child.died()}); the file may exhaust memory or "
                                     "crash a parser")
    if isinstance(outcome, ArtifactResult):
        with _lock:
            _idle[threading.get_ident()] = child
        return outcome
    child.close()
    return failed_result(item, rules, reason="timeout", limit="max_seconds_per_file",
                         message=f"analysis took longer than max_seconds_per_file={budget:g}s and was stopped")


def close_idle_children() -> int:
    """End the children no task is using (an executor calls it on every worker when its scan is over, so no idle
    child holds memory on a shared cluster); returns how many were ended."""
    with _lock:
        children = list(_idle.values())
        _idle.clear()
    for child in children:
        child.close()
    return len(children)


def _serve(from_parent: int, to_parent: int, rules: Sequence[BoundRule], policy: Policy) -> None:
    code = 70
    try:
        _die_with_parent()
        with contextlib.suppress(ValueError):  # the forking thread may not count as Python's main thread
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        _cap_memory(policy.limits.max_worker_memory_bytes)
        cap_native_threads()
        file_progress.set_sink(None)
        while True:
            header = _read_exact(from_parent, _HEADER)
            if header is None:
                code = 0
                break
            body = _read_exact(from_parent, int.from_bytes(header, "little"))
            if body is None:
                break
            item: Any = pickle.loads(body)  # the parent's own Discovered value
            _write_frame(to_parent, pickle.dumps(analyze_artifact(item, rules, policy),
                                                 protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException:  # noqa: S110 - the parent reports a child that ends without answering
        pass
    finally:
        os._exit(code)


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks, got = [], 0
    while got < size:
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _write_frame(fd: int, data: bytes) -> None:
    view = memoryview(len(data).to_bytes(_HEADER, "little") + data)
    while view:
        view = view[os.write(fd, view):]


def _die_with_parent() -> None:
    # A worker that is killed (node lost, nanny restart) must not leave its analysis running on as an orphan.
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
