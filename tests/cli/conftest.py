"""Shared fixtures for the command-line tests: an isolated working directory and a JSON-report runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aisec.cli import main

Scan = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture
def scan_json(work: Path) -> Scan:
    """Run ``aisec scan ARGS -f json -o FILE --jobs 0``; return (exit code, the JSON report)."""
    def run(*args: str | Path) -> tuple[int, dict[str, Any]]:
        out = work.parent / "report.json"
        code = main(["scan", *map(str, args), "-f", "json", "-o", str(out), "--jobs", "0"])
        return code, json.loads(out.read_text(encoding="utf-8"))
    return run
