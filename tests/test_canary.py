"""No scan path ever executes a fixture: after scanning every generated fixture, no canary marker exists."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aisec.scan import scan
from tests.conftest import FIXTURES, REPO

CANARY = Path("/tmp/aisec-canary")
LIVE_FIXTURE = FIXTURES / "AISEC-MDL-001" / "fail" / "os_system_p2.pkl"
LOCK = Path("/tmp/aisec-canary.lock")


@pytest.fixture(autouse=True)
def _canary_lock() -> Iterator[None]:
    """Concurrent test runs on one machine share /tmp/aisec-canary: take turns, so one run's live canary is
    never read as another run's scan executing a fixture."""
    with open(LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def test_scanning_every_fixture_runs_none_of_them() -> None:
    """Clear the canary folder, scan all of fixtures/generated, and find no marker file."""
    shutil.rmtree(CANARY, ignore_errors=True)
    report = scan([FIXTURES], policy="audit")
    assert len(report.artifacts) > 100
    assert any(f.rule_id == "AISEC-MDL-001" for f in report.findings)
    assert not CANARY.exists(), f"a scan executed a fixture: {sorted(p.name for p in CANARY.iterdir())}"


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
