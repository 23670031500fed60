"""No scan path ever executes a fixture: after scanning every generated fixture, no canary marker exists."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import CANARY, FIXTURES, REPO, ReadmeRun, canary_lock

LIVE_FIXTURE = FIXTURES / "AISEC-MDL-001" / "fail" / "os_system_p2.pkl"


@pytest.fixture(autouse=True)
def _canary_lock() -> Iterator[None]:
    with canary_lock():
        yield


def test_scanning_every_fixture_runs_none_of_them(corpus_reports: dict[int, Any], readme_run: ReadmeRun,
                                                  corpus_canary: list[str]) -> None:
    """The canary folder was cleared, all of fixtures scanned in-process, by one worker process (the session's
    ``corpus_reports``) and by the README's command in a new process with a worker per CPU (``readme_run``), and no
    marker file appeared."""
    for jobs in (0, 1):
        report = corpus_reports[jobs]
        assert len(report.artifacts) > 100
        assert any(f.rule_id == "AISEC-MDL-001" for f in report.findings)
    artifacts = json.loads(readme_run.sarif.read_text(encoding="utf-8"))["runs"][0]["artifacts"]
    assert len(artifacts) > 100 and "AISEC-MDL-001" in readme_run.stdout
    assert corpus_canary == [], f"a scan executed a fixture: {corpus_canary}"


def test_the_canary_is_live() -> None:
    """The fixture really is malicious: unpickling it (in a throwaway subprocess, never in a scan) writes the
    marker. This tests the fixture, so the test above proves something."""
    shutil.rmtree(CANARY, ignore_errors=True)
    code = "import pickle, sys; pickle.loads(open(sys.argv[1], 'rb').read())"
    subprocess.run([sys.executable, "-c", code, str(LIVE_FIXTURE)], check=True, cwd=REPO, timeout=60,
                   capture_output=True)
    try:
        assert (CANARY / "os_system_p2").read_text().strip() == "os_system_p2"
    finally:
        shutil.rmtree(CANARY, ignore_errors=True)
