"""The README's two set-up commands are the ones CI runs, and the main job works as written."""

from __future__ import annotations

import json
import subprocess

from aisec.model import Report
from aisec.report.sarif import render_sarif
from tests.conftest import REPO, ReadmeRun, check_sarif, readme_setup_commands, without_times


def test_readme_has_exactly_tworeadme_setup_commands() -> None:
    commands = readme_setup_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "pip install ." in commands[0] and "aisec scan fixtures" in commands[0] and "aisec.sarif" in commands[0]
    assert "'.[test]'" in commands[1] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    import os

    run = subprocess.run(["bash", str(REPO / ".ci" / "run")], env={**os.environ, "AISEC_CI_PRINT_ONLY": "1"},
                         capture_output=True, text=True, check=True)
    assert run.stdout == readme_setup_commands()[1]


def test_main_job_scans_fixtures_and_writes_valid_sarif(readme_run: ReadmeRun,
                                                        corpus_reports: dict[int, Report]) -> None:
    """Command 1 after its install step, run as a process from a copy of the checkout as a new user would (the
    session's ``readme_run``, one of the three whole-corpus scans): it reports, writes valid SARIF, and that SARIF is
    the in-process scan's of the same folder."""
    assert readme_run.argv[0].endswith("aisec")
    assert readme_run.returncode in (1, 2), readme_run.stderr
    assert "AISEC-MDL-001" in readme_run.stdout and " scanned, " in readme_run.stdout
    text = readme_run.sarif.read_text(encoding="utf-8")
    log = json.loads(text)
    code, output = check_sarif(readme_run.sarif)
    assert code == 0, output
    assert all(not r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("/")
               for r in log["runs"][0]["results"])
    assert without_times(text) == without_times(render_sarif(corpus_reports[0]))


def test_readme_documents_every_exit_code_and_scan_option() -> None:
    from aisec.cli import build_parser

    text = (REPO / "README.md").read_text(encoding="utf-8")
    for code in ("| 0 |", "| 1 |", "| 2 |"):
        assert code in text
    parser = build_parser()
    scan = parser._subparsers._group_actions[0].choices["scan"]  # type: ignore[union-attr]
    for action in scan._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                assert option in text, f"README does not mention {option}"


def test_readme_says_how_to_get_chromium_for_the_browser_tests() -> None:
    setup = (REPO / "README.md").read_text(encoding="utf-8").split("## Set up", 1)[1].split("\n## ", 1)[0]
    assert "apt-get install chromium" in setup and "skipped" in setup
    assert "apt-get install -y -qq chromium" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
    html_tests = (REPO / "tests" / "workflow" / "test_html.py").read_text(encoding="utf-8")
    assert "see the README's Set up" in html_tests  # the skip reason points to the instructions
