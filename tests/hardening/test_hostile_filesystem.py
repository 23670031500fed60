"""Property: a random tree of hostile file-system objects never ends in a traceback, nothing outside the root is
read, and every object is named in the report (issue 12, "inputs that must never end in a traceback").

Objects: symlink loops (two links, and a link to itself), dangling links, links out of the root, FIFOs,
unreadable files, names that are not UTF-8 or hold newlines, percent signs, backslashes and the like, and deep
nesting. Scans run in-process (``-j 0``) under an audit hook that records every file the scan opens.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from aisec.cli import main

KINDS = ("loop", "self_loop", "dangling", "outside_file", "outside_dir", "fifo", "unreadable", "odd_name", "deep")
ODD_NAMES = (b"bad\xff\xfe.pkl", b"new\nline.txt", b"per%cent #?.bin", b"back\\slash.json", b"-dash.yaml",
             "ünï çødé 🙂.txt".encode(), b"\xc3(latin.csv", b"x" * 200 + b".npy")
OUTSIDE_MARK = b"cos\nsystem\n(S'outside-root-read'\ntR."
"""Outside the root: a pickle that would be a critical finding if it were ever read."""

_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], (str, bytes)):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # permanent once added; it records only while a test holds the list


@contextmanager
def _recording() -> Iterator[list[str]]:
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


def _build(root: Path, outside: Path, plan: list[tuple[str, int, int]]) -> set[bytes]:
    """Create each planned object under ``root``; return the root-relative names the report must mention."""
    expected: set[bytes] = set()
    for index, (kind, depth, pick) in enumerate(plan):
        folder = root.joinpath(*[f"d{index}_{level}" for level in range(depth)])
        folder.mkdir(parents=True, exist_ok=True)
        rel = os.fsencode(folder.relative_to(root)) if depth else b""

        def name(part: str) -> bytes:
            return (rel + b"/" if rel else b"") + part.encode()

        if kind == "loop":
            os.symlink(f"b{index}", folder / f"a{index}")
            os.symlink(f"a{index}", folder / f"b{index}")
            expected |= {name(f"a{index}"), name(f"b{index}")}
        elif kind == "self_loop":
            os.symlink(f"s{index}", folder / f"s{index}")
            expected.add(name(f"s{index}"))
        elif kind == "dangling":
            os.symlink(f"missing{index}", folder / f"dangling{index}")
            expected.add(name(f"dangling{index}"))
        elif kind == "outside_file":
            os.symlink(outside / "secret.pkl", folder / f"out{index}.pkl")
            expected.add(name(f"out{index}.pkl"))
        elif kind == "outside_dir":
            os.symlink(outside, folder / f"outdir{index}")
            expected.add(name(f"outdir{index}"))
        elif kind == "fifo":
            os.mkfifo(folder / f"pipe{index}")
            expected.add(name(f"pipe{index}"))
        elif kind == "unreadable":
            path = folder / f"locked{index}.bin"
            path.write_bytes(b"\x00" * 16)
            path.chmod(0)
            expected.add(name(f"locked{index}.bin"))
        elif kind == "odd_name":
            odd = ODD_NAMES[pick % len(ODD_NAMES)]
            (folder / os.fsdecode(odd)).write_bytes(b"plain bytes\n")
            expected.add((rel + b"/" if rel else b"") + odd)
        else:  # deep: a file far down a chain of folders
            deep = folder.joinpath(*[f"n{level}" for level in range(40)])
            deep.mkdir(parents=True, exist_ok=True)  # a plan may ask for the same deep chain twice
            (deep / "leaf.txt").write_text("deep\n")
            expected.add(os.fsencode((deep / "leaf.txt").relative_to(root)))
    return expected


def _names_in(doc: dict[str, Any]) -> set[bytes]:
    entries = [*doc["artifacts"], *doc["errors"], *doc["findings"]]
    return {os.fsencode(entry["path"]) for entry in entries}


def _uris_in(sarif: dict[str, Any]) -> set[bytes]:
    run = sarif["runs"][0]
    uris = [a["location"]["uri"] for a in run["artifacts"]]
    for result in run["results"]:
        uris.extend(loc["physicalLocation"]["artifactLocation"]["uri"] for loc in result["locations"])
    for invocation in run["invocations"]:
        for note in invocation.get("toolExecutionNotifications", []):
            uris.extend(loc["physicalLocation"]["artifactLocation"]["uri"] for loc in note.get("locations", []))
    return {unquote_to_bytes(uri) for uri in uris}


plans = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 3), st.integers(0, 50)), min_size=1,
                 max_size=7)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # a failure prints its plan; shrinking is slow
@given(plan=plans)
@example(plan=[(kind, 1, 0) for kind in KINDS] + [("odd_name", 0, i) for i in range(len(ODD_NAMES))])
def test_hostile_trees_are_reported_in_full_without_traceback_or_outside_reads(
        plan: list[tuple[str, int, int]], tmp_path_factory: pytest.TempPathFactory,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path_factory.mktemp("hostile")
    outside, root = base / "outside", base / "root"
    outside.mkdir()
    root.mkdir()
    (outside / "secret.pkl").write_bytes(OUTSIDE_MARK)
    expected = _build(root, outside, plan)
    monkeypatch.chdir(root)
    reports = base / "reports"
    reports.mkdir()
    with _recording() as opened:
        code = main(["scan", ".", "-j", "0", "-q", "--json", str(reports / "r.json"),
                     "--sarif", str(reports / "r.sarif"), "-o", str(reports / "r.txt")])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    assert code in (0, 1, 2)
    touched = {Path(p).resolve() for p in opened if not p.startswith(str(reports))}
    assert not [p for p in touched if outside in p.parents or p == outside], "read outside the root"

    doc = json.loads((reports / "r.json").read_text(encoding="utf-8"))
    assert expected <= _names_in(doc), sorted(expected - _names_in(doc))
    assert not any(f["rule_id"] == "AISEC-MDL-001" for f in doc["findings"])  # the outside pickle was not read
    sarif = json.loads((reports / "r.sarif").read_text(encoding="utf-8"))
    assert expected <= _uris_in(sarif), sorted(expected - _uris_in(sarif))
    text = (reports / "r.txt").read_text(encoding="utf-8")  # the text report lists problems, not clean files
    problems = {os.fsencode(e["path"]) for e in (*doc["errors"], *doc["findings"])}
    for rel in expected & problems:
        assert rel.decode("utf-8", "backslashreplace") in text
