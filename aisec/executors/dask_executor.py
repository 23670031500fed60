"""Run the per-artifact analysis as Dask tasks: on a scheduler you name, or on a local cluster when none is named.

A task is "analyze this artifact under this policy, return plain data": its payload is the discovered item (its
path, or URI for remote objects), never the file's bytes, so workers read the artifact themselves. Each task runs
the analysis in a bounded child on the worker (:mod:`aisec.executors.bounded`), so the per-file time budget and the
memory cap hold there. A task whose worker died (more often than the scheduler's ``allowed-failures``), that could
not run, or that never finished while the cluster made no progress, becomes a not-fully-scanned result for its
file: never a hang, never a lost file. Results come back in the order of the items, so reports match ``--jobs 1``.
"""

from __future__ import annotations

import contextlib
import importlib
import queue
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aisec import __version__
from aisec.analysis import ArtifactResult, failed_result
from aisec.discovery import Discovered
from aisec.engine.evaluate import BoundRule
from aisec.engine.policy import Policy
from aisec.errors import ConfigError
from aisec.executor import Progress

SCHEDULER_ENV = "AISEC_DASK_SCHEDULER"
"""The scheduler address ``--executor dask`` uses when ``--scheduler`` is not given."""
MISSING = "the dask executor needs the distributed extra: pip install 'aisec[distributed]'"
STALL_GRACE_SECONDS = 120.0
"""Beyond the per-file budget, how long the cluster may finish no task at all before the unfinished files are
reported as not fully scanned (every running task ends within the budget, so a longer silence means no worker
is left or the scheduler stopped scheduling)."""


def analyze_task(item: Discovered, configuration: tuple[Sequence[BoundRule], Policy], version: str,
                 ) -> ArtifactResult:
    """The task a worker runs: the bounded analysis of one artifact (``version``: the client's aisec)."""
    rules = configuration[0]
    if version != __version__:
        return failed_result(item, rules, reason="internal",
                             message=f"the dask worker runs aisec {__version__}, the client {version}; install "
                                     "the same aisec version on every worker")
    from aisec.executors.bounded import analyze_bounded

    return analyze_bounded(item, configuration)


class DaskExecutor:
    """Analyzes artifacts as tasks on a Dask cluster: ``scheduler`` (``tcp://HOST:8786``), an existing ``client``
    (dask-gateway, dask-kubernetes), or else a local cluster of ``workers`` processes started at the first run.

    A scan may call :meth:`run` more than once (signed folders after their files), so the connection (and a local
    cluster) is kept until :meth:`close` (or the end of a ``with`` block); a client given by the caller is theirs.
    """

    def __init__(self, *, scheduler: str | None = None, client: Any = None, workers: int = 1,
                 stall_grace_seconds: float = STALL_GRACE_SECONDS) -> None:
        self._distributed = _require_distributed()
        self.scheduler = scheduler
        self.client = client
        self.workers = max(1, workers)
        self.stall_grace_seconds = stall_grace_seconds
        self._owned: list[Any] = []
        """The client and local cluster this executor started (closed by :meth:`close`, newest first)."""
        self._started_client = False

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection and the local cluster this executor started, if any."""
        while self._owned:
            with contextlib.suppress(Exception):
                self._owned.pop().close()
        if self._started_client:
            self.client, self._started_client = None, False

    def run(self, items: Sequence[Discovered], rules: Sequence[BoundRule], policy: Policy,
            progress: Progress | None = None) -> list[ArtifactResult]:
        """Analyze every item on the cluster; results in the order of ``items``."""
        if not items:
            return []
        return self._run(self._client(), items, rules, policy, progress)

    def _client(self) -> Any:
        if self.client is not None:
            return self.client
        client_class = self._distributed.Client
        if self.scheduler is not None:
            try:
                self.client = client_class(self.scheduler, timeout="30s")
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"cannot reach the dask scheduler at {self.scheduler}: {exc}") from None
        else:
            cluster = self._distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                     dashboard_address=":0")
            self._owned.append(cluster)
            self.client = client_class(cluster)
        self._owned.append(self.client)
        self._started_client = True
        return self.client

    def _run(self, client: Any, items: Sequence[Discovered], rules: Sequence[BoundRule], policy: Policy,
             progress: Progress | None) -> list[ArtifactResult]:
        # The rules and policy travel once, as one task's result that the others depend on (workers fetch it from
        # each other), not inside each task; unlike scattering, this waits for workers instead of failing.
        configuration = client.submit(_configuration, tuple(rules), policy, pure=False)
        futures = client.map(analyze_task, [_portable(item) for item in items], configuration=configuration,
                             version=__version__, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for future in futures:
            future.add_done_callback(finished.put)  # called from a client thread as each task ends
        results: dict[int, ArtifactResult] = {}
        pending = set(index)
        stall = policy.limits.max_seconds_per_file + self.stall_grace_seconds
        while pending:
            try:
                future = finished.get(timeout=stall)
            except queue.Empty:
                break  # the cluster finished nothing for ``stall`` seconds: what is left is reported below
            pending.discard(future.key)
            i = index[future.key]
            results[i] = _outcome(future, items[i], rules)
            if progress is not None:
                progress(results[i])
        for future in futures:
            if future.key not in pending:
                continue
            i = index[future.key]
            future.cancel()
            results[i] = failed_result(items[i], rules, reason="timeout",
                                       message=f"the dask cluster finished no task for {stall:g}s (no worker left, "
                                               "or the scheduler stopped); the file was not analysed")
            if progress is not None:
                progress(results[i])
        from aisec.executors.bounded import close_idle_children

        with contextlib.suppress(Exception):  # best effort: a worker that is gone has no child left either
            client.run(close_idle_children, wait=True)
        return [results[i] for i in range(len(items))]


def _configuration(rules: tuple[BoundRule, ...], policy: Policy) -> tuple[tuple[BoundRule, ...], Policy]:
    """On a worker: the scan's rules and policy, one object every task of the scan shares."""
    return rules, policy


def _outcome(future: Any, item: Discovered, rules: Sequence[BoundRule]) -> ArtifactResult:
    """The task's result, or a not-fully-scanned result that says why there is none."""
    try:
        result = future.result()
    except _require_distributed().KilledWorker:
        return failed_result(item, rules, reason="internal",
                             message="the dask workers running this file's task died; the file may exhaust memory "
                                     "or crash a parser (the scheduler's allowed-failures were used up)")
    except Exception as exc:
        return failed_result(item, rules, reason="internal",
                             message=f"the dask task failed: {type(exc).__name__}: {exc}")
    if not isinstance(result, ArtifactResult):
        return failed_result(item, rules, reason="internal",
                             message=f"the dask task returned {type(result).__name__}, not an analysis result")
    return result


def _portable(item: Discovered) -> Discovered:
    """The item with an absolute local path: workers need not share the client's working directory (a remote
    object's URI goes as it is; the worker opens it with its own credentials)."""
    fs_path = item.fs_path
    if getattr(item, "remote", None) is None and not fs_path.is_absolute():
        return replace(item, fs_path=fs_path.absolute())
    return item


def _require_distributed() -> Any:
    """``distributed`` (typed loosely: it ships without type hints), or a message naming the extra."""
    try:
        return importlib.import_module("distributed")
    except ImportError:
        raise ConfigError(MISSING) from None
