"""Scan workers cap their native thread pools at one thread each."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def test_worker_caps_loaded_and_later_pools() -> None:
    # A fresh interpreter: numpy loaded before the cap (a parent that imported it before forking) is capped
    # through threadpoolctl, and the environment says 1 for libraries loaded afterwards.
    code = textwrap.dedent("""
        import os, numpy
        from threadpoolctl import threadpool_info
        from aisec.threads import cap_native_threads
        cap_native_threads()
        print(sorted({d["num_threads"] for d in threadpool_info()}), os.environ["OPENBLAS_NUM_THREADS"],
              os.environ["OMP_NUM_THREADS"])
    """)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[1]", "1", "1"]

