"""The committed fixtures are exactly what the generator produces (so anyone can audit how they were made)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES, REPO


def test_generator_reproduces_the_committed_fixtures(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    subprocess.run([sys.executable, str(REPO / "fixtures" / "generate.py"), str(out)], check=True,
                   capture_output=True)
    fresh = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    committed = {p.relative_to(FIXTURES).as_posix(): p.read_bytes() for p in FIXTURES.rglob("*") if p.is_file()}
    assert sorted(fresh) == sorted(committed), "run `python fixtures/generate.py` and commit the result"
    changed = [name for name in fresh if fresh[name] != committed[name]]
    assert not changed, f"fixtures differ from a fresh generation: {changed[:10]}"
