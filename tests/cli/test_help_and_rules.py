"""Help that helps: subcommand usage on a bad flag, help on every positional, ``rules show`` and ``rules list``
as a new user meets them, and ``config show`` saying the same in text and JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aisec.cli import EXIT_OK, build_parser, main


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_positional_argument_has_help() -> None:
    missing = [f"{p.prog} {a.metavar or a.dest}" for p in _parsers(build_parser()) for a in p._actions
               if not a.option_strings and not isinstance(a, argparse._SubParsersAction) and not a.help]
    assert not missing, missing


@pytest.mark.parametrize("argv", [["rules", "list", "--bogus"], ["scan", "--bogus", "x"],
                                  ["config", "show", "--bogus"], ["dataset", "check", "d", "--bogus"],
                                  ["report", "r.sarif", "--bogus"]])
def test_an_unknown_flag_shows_that_subcommands_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    prog = "aisec " + " ".join(a for a in argv if a in ("rules", "list", "scan", "config", "show", "dataset",
                                                        "check", "report"))
    assert exit_.value.code == 2
    assert err.startswith(f"usage: {prog} ") and f"{prog}: error: unrecognized arguments: --bogus" in err


def test_rules_show_prints_the_description_once_and_takes_any_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show", "aisec-mdl-001"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("AISEC-MDL-001  pickle-imports-code-execution-callable\n")
    assert out.count("The pickle stream references a global on the denylist") == 1
    assert "\nRemediation: Do not load the file." in out


def test_rules_list_shows_the_policy_scan_uses_and_says_so(work: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list"]) == EXIT_OK
    assert capsys.readouterr().out.startswith("policy default (what aisec scan uses here; from default): ")
    monkeypatch.setenv("AISEC_POLICY", "strict")
    assert main(["rules", "list"]) == EXIT_OK
    assert capsys.readouterr().out.startswith(
        "policy strict (what aisec scan uses here; from environment (AISEC_POLICY)): ")
    assert main(["rules", "list", "--policy", "audit"]) == EXIT_OK
    assert capsys.readouterr().out.startswith("policy audit: ")


@pytest.mark.parametrize("flags", [[], ["--fail-on", "critical"], ["--policy", "strict", "--label-column", "y"]])
def test_config_show_json_agrees_with_the_text_view(work: Path, flags: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", *flags]) == EXIT_OK
    text = capsys.readouterr().out.splitlines()
    assert main(["config", "show", "--json", *flags]) == EXIT_OK
    settings = json.loads(capsys.readouterr().out)["settings"]
    rows = {line.split()[0]: line for line in text[1:] if not line.startswith("notice:")}
    assert set(rows) == set(settings)
    for key, setting in settings.items():
        shown = setting["value"] if setting["value"] is not None else "(none)"
        assert rows[key] == f"{key:<13} {shown:<20} from {setting['source']}"
    assert settings["fail_on"]["value"] is not None and settings["min_severity"]["value"] is not None
