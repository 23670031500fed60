"""Shared test helpers: paths to the repository, its fixtures and the official SARIF schema."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures" / "generated"
RULES = REPO / "rules"
SARIF_SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"

SLOW_MODULES: frozenset[str] = frozenset({
    # Statistics on real corpora and published attack recipes (seconds per case, minutes per module).
    "tests/datasets/test_prescreen.py", "tests/datasets/test_progress.py",
    "tests/datasets/test_poisonbench_acceptance.py", "tests/datasets/test_roles.py",
    "tests/datasets/test_poisoned_datasets.py", "tests/datasets/test_chat_signals.py",
    "tests/datasets/test_poisonbench.py", "tests/datasets/test_label_errors_real.py",
    "tests/datasets/test_caps_count_everything.py", "tests/datasets/test_shards.py",
    "tests/datasets/test_manifest_and_limits.py", "tests/datasets/test_fast_paths.py",
    "tests/datasets/test_persona_injection.py", "tests/datasets/test_chat_pairs.py",
    # Whole-corpus scans, subprocess runs of the CLI, memory/time budgets, property-based fuzzing, a real browser.
    "tests/report/test_sarif.py", "tests/report/test_related_locations.py", "tests/test_executor.py",
    "tests/test_readme.py", "tests/test_canary.py", "tests/test_fixtures_reproducible.py", "tests/test_packaging.py",
    "tests/rules/test_rule_corpus.py", "tests/hardening/test_bombs.py", "tests/hardening/test_fuzz.py",
    "tests/hardening/test_differential.py", "tests/hardening/test_cli_hostile_tree.py",
    "tests/hardening/test_mutation.py", "tests/hardening/test_fail_closed.py", "tests/workflow/test_gate.py",
    "tests/workflow/test_html.py", "tests/hardening/test_limits_hold.py", "tests/datasets/test_row_groups.py",
    "tests/distributed/test_dask_executor.py",  # a real LocalCluster (2 worker processes) and scans on it
    "tests/remote/test_s3_scan.py", "tests/remote/test_http_scan.py",
})
"""Test modules marked ``slow``: the quick loop ``pytest -m "not slow"`` leaves them out; the README's full command
(and so CI) runs them. A module belongs here when its tests take seconds each on a quiet machine (measured with
``--durations``); the detection assertions inside are unchanged."""


def fixture_path(*parts: str) -> Path:
    """A generated fixture by relative path."""
    return FIXTURES.joinpath(*parts)


@functools.cache
def _sarif_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_sarif", REPO / "tests" / "data" / "check_sarif.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_sarif(path: Path) -> tuple[int, str]:
    """GitHub's strict ingestion checks (``tests/data/check_sarif.py --strict --multitool off`` against the official
    schema) on one SARIF file: (exit code, what it printed). Run in this process: a new interpreter per check
    would pay for importing jsonschema and its format checkers again (seconds of CPU each) and test nothing more."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = _sarif_checker().main(["--strict", "--multitool", "off", "--schema", str(SARIF_SCHEMA), str(path)])
    return int(code), out.getvalue()


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of :data:`SLOW_MODULES` ``slow`` (one list, so marking needs no edit of those modules), and
    keep the tests that share a module's expensive fixture on one pytest-xdist worker (see :func:`_shared_module`)."""
    for item in items:
        if Path(str(item.fspath)).resolve().relative_to(REPO).as_posix() in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        shared = _shared_module(item)
        if shared is not None:
            item.add_marker(pytest.mark.xdist_group(shared))


def _shared_module(item: pytest.Item) -> str | None:
    """The test module whose module- or session-scoped fixture ``item`` uses, if any.

    Such fixtures build a corpus, a generated benchmark or one scan that several tests assert on. Under
    ``-n 2 --dist loadgroup`` (the README's commands) all tests of that module then run on one worker, so the
    fixture is built once rather than once per worker. Fixtures of a ``conftest.py`` (keys, the SARIF schema) are
    cheap and stay per worker, so the rest of the suite spreads test by test."""
    info = getattr(item, "_fixtureinfo", None)
    for definitions in getattr(info, "name2fixturedefs", {}).values():
        definition = definitions[-1]
        if definition.scope in ("module", "package", "session") and definition.baseid.endswith(".py"):
            return str(definition.baseid)
    return None


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


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory with no AISEC_* variables set (configuration comes only from the test)."""
    from aisec.config import CONFIG_ENV, ENV_VARS

    for var in (*ENV_VARS.values(), CONFIG_ENV):
        monkeypatch.delenv(var, raising=False)
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder
