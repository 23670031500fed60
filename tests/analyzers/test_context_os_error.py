"""A read that fails for memory under the worker's address-space cap is a limit; any other OS error is I/O."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from aisec.analyzers import AnalysisContext
from aisec.analyzers.hf_folder import HFFolderAnalyzer
from aisec.limits import Limits
from aisec.source import BytesSource


def test_out_of_memory_is_the_worker_memory_limit() -> None:
    context = AnalysisContext(path="m", limits=Limits())
    context.os_error("cannot list the folder", OSError(errno.ENOMEM, os.strerror(errno.ENOMEM)))
    [error] = context.errors
    assert (error.reason, error.limit) == ("limit", "max_worker_memory_bytes")
    assert "out of memory" in error.message


def test_other_os_errors_stay_io() -> None:
    context = AnalysisContext(path="m", limits=Limits())
    context.os_error("cannot open", OSError(errno.EACCES, os.strerror(errno.EACCES)))
    [error] = context.errors
    assert (error.reason, error.limit) == ("io", None)
    assert error.message == f"cannot open: {os.strerror(errno.EACCES)}"


def test_a_folder_that_vanished_is_an_io_error(tmp_path: Path) -> None:
    context = AnalysisContext(path="gone", limits=Limits(), fs_path=tmp_path / "gone")
    list(HFFolderAnalyzer().analyze(BytesSource(b"", budget=0), context))
    assert [e.reason for e in context.errors] == ["io"]
