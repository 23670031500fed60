"""Shared test helpers: paths to the repository, its fixtures and the official SARIF schema."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
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
    "tests/datasets/test_trigger_recall.py",  # poisoned corpora generated and scanned: ~8 CPU-s
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


SHARED_FIXTURES: frozenset[str] = frozenset({"corpus_reports", "corpus_canary", "readme_run"})
"""Session fixtures of this file that cost seconds (all built by ``corpus_scans``): the modules using one go to one
pytest-xdist worker together."""


def fixture_path(*parts: str) -> Path:
    """A generated fixture by relative path."""
    return FIXTURES.joinpath(*parts)


@functools.cache
def long_pickle(opcodes: int) -> bytes:
    """A flat list built with APPEND (two opcodes an item): harmless, but slow to walk."""
    return b"\x80\x02]" + b"K\x01a" * (opcodes // 2) + b"."


def slow_and_evil(tmp_path: Path, opcodes: int) -> Path:
    """A ``models`` folder: a harmless pickle of ``opcodes`` opcodes (slow.pkl) and a malicious one (evil.pkl)."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "slow.pkl").write_bytes(long_pickle(opcodes))
    (folder / "evil.pkl").write_bytes((FIXTURES / "AISEC-MDL-001" / "fail" / "os_system_p4.pkl").read_bytes())
    return folder


def without_times(text: str) -> str:
    """A SARIF or JSON report with its start and end times removed, keys sorted: what must not differ between runs."""
    doc = json.loads(text)
    if "runs" in doc:
        for inv in doc["runs"][0]["invocations"]:
            inv.pop("startTimeUtc", None)
            inv.pop("endTimeUtc", None)
    else:
        doc.pop("started_utc", None)
        doc.pop("finished_utc", None)
    return json.dumps(doc, sort_keys=True)


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


LONG_FIRST: frozenset[str] = frozenset({"tests/test_quality.py::test_mypy_strict_is_clean"})
"""Single tests, not slow, that are long in CI: mypy on a clean clone has no cache (~18 CPU-s, one process). Dealt
out first, so under ``-n 2`` the other worker runs the rest meanwhile instead of idling at the end."""


def _slow_is_deselected(config: pytest.Config) -> bool:
    """Whether ``-m`` deselects every test marked ``slow`` whatever its other marks (``-m "not slow"``)."""
    markexpr = config.getoption("markexpr", "") or ""
    if not markexpr:
        return False
    from _pytest.mark.expression import Expression

    expression = Expression.compile(markexpr)

    def with_slow(others: bool) -> bool:
        return expression.evaluate(lambda name, **_kwargs: name == "slow" or others)

    return not with_slow(False) and not with_slow(True)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under ``-m "not slow"`` (the quick loop) do not even import :data:`SLOW_MODULES`: every test in them would be
    deselected, and importing them (assertion rewriting, their corpora and helpers) cost ~1.5 CPU-s per pytest-xdist
    worker. ``None`` leaves the decision to pytest."""
    if collection_path.suffix != ".py" or not _slow_is_deselected(config):
        return None
    try:
        module = collection_path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return None
    return True if module in SLOW_MODULES else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of :data:`SLOW_MODULES` ``slow`` (one list, so marking needs no edit of those modules), and
    run them first: under ``-n 2`` the long tests then start early and the two workers finish together instead of
    one waiting for a minute-long test dealt out last. :data:`LONG_FIRST` goes before them."""
    for item in items:
        if Path(str(item.fspath)).resolve().relative_to(REPO).as_posix() in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: (item.nodeid not in LONG_FIRST, item.get_closest_marker("slow") is None))  # stable


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``-n 2`` (the README's commands, ``--dist loadgroup`` from pyproject), deal tests out one by one, except
    those that share expensive work: see :func:`shared_scope`. pytest-xdist's own ``xdist_group`` marks do not
    group under pytest 9 (they rename a node attribute pytest no longer reads), so the grouping is done here."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedWorkScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return shared_scope(nodeid)

    return SharedWorkScheduling(config, log)


_XDIST_GROUP = re.compile(r"""xdist_group\(\s*(?:name\s*=\s*)?["']([^"']+)["']""")
_SHARED_FIXTURE = re.compile(r"""@pytest\.fixture\(\s*scope\s*=\s*["'](?:module|package|session)["']""")


@functools.cache
def _module_scope(module: str) -> str | None:
    path = REPO / module
    text = path.read_text(encoding="utf-8") if path.suffix == ".py" and path.is_file() else ""
    if any(re.search(rf"\b{name}\b", text) for name in SHARED_FIXTURES):
        return "corpus_scans"
    group = _XDIST_GROUP.search(text)
    if group:
        return group.group(1)
    return module if _SHARED_FIXTURE.search(text) else None


def shared_scope(nodeid: str) -> str:
    """The unit of work a test is dealt out in under ``-n 2``: one test, unless its module shares expensive work.

    A module that defines a module- or session-scoped fixture (a corpus, a generated benchmark, one scan that
    several tests assert on) goes to one worker as a whole, so the fixture is built once rather than once per
    worker; modules using one of :data:`SHARED_FIXTURES` (or naming an ``xdist_group``) go together. Fixtures of a
    ``conftest.py`` (keys, the SARIF schema) are cheap and stay per worker."""
    return _module_scope(nodeid.split("::", 1)[0]) or nodeid


@pytest.fixture(scope="session")
def sarif_validator() -> Any:
    """A jsonschema validator for the official SARIF 2.1.0 schema (errata01) copied into tests/data."""
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=jsonschema.FormatChecker())


CANARY = Path("/tmp/aisec-canary")
"""Where the fixtures' inert payloads would write a marker file if anything ever executed one."""


@contextlib.contextmanager
def canary_lock() -> Iterator[None]:
    """Concurrent test runs on one machine share :data:`CANARY`: take turns, so one run's live canary is never
    read as another run's scan executing a fixture."""
    import fcntl

    with open("/tmp/aisec-canary.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True, kw_only=True)
class ReadmeRun:
    """The README's first set-up command (its scan step) run as a new user would: a process, from a copy of the
    checkout's ``fixtures`` folder, with the CLI's default number of workers (one per CPU)."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    workdir: Path
    sarif: Path


def readme_setup_commands() -> list[str]:
    """The fenced ``sh`` commands of the README's Set up section, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)\n```", section, re.S)]


def _run_readme_scan(workdir: Path) -> ReadmeRun:
    import shlex
    import subprocess
    import sys

    shutil.copytree(REPO / "fixtures", workdir / "fixtures")
    argv = shlex.split(readme_setup_commands()[0].split("&&")[-1].strip())
    run = subprocess.run([sys.executable, "-m", "aisec", *argv[1:]], cwd=workdir, capture_output=True, text=True,
                         check=False)
    return ReadmeRun(argv=argv, returncode=run.returncode, stdout=run.stdout, stderr=run.stderr, workdir=workdir,
                     sarif=workdir / "aisec.sarif")


@pytest.fixture(scope="session")
def corpus_scans(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[int, Any], ReadmeRun, list[str]]:
    """Every fixture (the README's ``fixtures`` folder) scanned three ways under the default policy: from the
    repository root in-process (jobs 0) and by one worker process (1), and by the README's own scan command as a
    process from a copy of the folder (its default: one worker per CPU, two in CI); and what the canary folder,
    cleared before the scans, holds afterwards. Analyzers run whatever the policy, so these scans reach every parser
    the audit policy would, in this process and in worker processes. The README run is the third scan rather than a
    fourth (each costs 15-25 CPU-s). Tests take :func:`corpus_reports`, :func:`readme_run` and
    :func:`corpus_canary`."""
    from aisec.scan import scan

    workdir = tmp_path_factory.mktemp("clone")
    with pytest.MonkeyPatch.context() as patch, canary_lock():
        patch.chdir(REPO)  # report paths are relative to the working directory
        shutil.rmtree(CANARY, ignore_errors=True)
        reports = {jobs: scan(["fixtures"], jobs=jobs) for jobs in (0, 1)}
        readme = _run_readme_scan(workdir)
        return reports, readme, sorted(p.name for p in CANARY.iterdir()) if CANARY.exists() else []


@pytest.fixture(scope="session")
def corpus_reports(corpus_scans: tuple[dict[int, Any], ReadmeRun, list[str]]) -> dict[int, Any]:
    """The two in-process whole-corpus reports (about 15 CPU-s of scanning each) by jobs (0 and 1), shared by the
    tests that assert different things about them: the same report whatever the jobs; deterministic SARIF; no
    fixture executed."""
    return corpus_scans[0]


@pytest.fixture(scope="session")
def readme_run(corpus_scans: tuple[dict[int, Any], ReadmeRun, list[str]]) -> ReadmeRun:
    """The README's scan command run as a process over a copy of ``fixtures`` (see :func:`corpus_scans`)."""
    return corpus_scans[1]


@pytest.fixture(scope="session")
def corpus_canary(corpus_scans: tuple[dict[int, Any], ReadmeRun, list[str]]) -> list[str]:
    """Marker files the fixtures' payloads wrote during the :func:`corpus_scans` scans (none, unless a scan path
    executed one)."""
    return corpus_scans[2]


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
