"""Without ``distributed`` installed, ``--executor dask`` says which extra to install (and fails the run, exit 2)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aisec.cli import main
from aisec.errors import ConfigError
from aisec.executors.dask_executor import DaskExecutor
from tests.conftest import FIXTURES


def test_missing_distributed_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an install without the extra looks like
    with pytest.raises(ConfigError, match=r"aisec\[distributed\]"):
        DaskExecutor(scheduler="tcp://127.0.0.1:8786")
    target = FIXTURES / "AISEC-MDL-001" / "fail" / "os_system_p4.pkl"
    assert main(["scan", str(target), "--executor", "dask", "-q"]) == 2
    assert "pip install 'aisec[distributed]'" in capsys.readouterr().err


def test_scheduler_alone_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    target = Path(FIXTURES / "AISEC-MDL-001" / "fail" / "os_system_p4.pkl")
    assert main(["scan", str(target), "--scheduler", "tcp://127.0.0.1:1", "-q"]) == 2
    assert "--scheduler needs --executor dask" in capsys.readouterr().err
