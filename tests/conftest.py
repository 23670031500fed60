"""Shared test helpers: paths to the repository, its fixtures and the official SARIF schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures" / "generated"
RULES = REPO / "rules"
SARIF_SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"


def fixture_path(*parts: str) -> Path:
    """A generated fixture by relative path."""
    return FIXTURES.joinpath(*parts)


@pytest.fixture(scope="session")
def sarif_validator() -> Any:
    """A jsonschema validator for the official SARIF 2.1.0 schema (errata01) copied into tests/data."""
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from the repository root (report paths are relative to the working directory)."""
    monkeypatch.chdir(REPO)
    return REPO
