"""One native (BLAS/OpenMP) thread per scan worker: N workers each running a multi-threaded BLAS oversubscribe
the cores, and under load the spinning threads cost more than the work (a 1,797 x 64 table's trigger search:
110 CPU-s with 2 OpenBLAS/OpenMP threads per process on a loaded 2-core machine, 2 CPU-s with one)."""

from __future__ import annotations

import os
import sys

WORKER_NATIVE_THREADS = 1
"""Threads each scan worker's BLAS and OpenMP pools may use (the executor already runs one worker per core)."""
_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_NATIVE = ("numpy", "scipy", "sklearn")


def cap_native_threads(threads: int = WORKER_NATIVE_THREADS) -> None:
    """Cap the native thread pools of this process: the environment for libraries loaded later, and
    threadpoolctl for those a parent already loaded before it forked this worker."""
    for name in _VARIABLES:
        os.environ[name] = str(threads)
    if not any(name in sys.modules for name in _NATIVE):
        return  # nothing native loaded yet: the variables are read when it is (and importing costs start-up)
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(limits=threads)
