"""The command line is one package: a module per verb group, no import cycle, and a library that does not know it."""

from __future__ import annotations

import ast
from pathlib import Path

from aisec.cli import build_parser
from aisec.cli.main import VERB_GROUPS
from tests.conftest import REPO

CLI = REPO / "aisec" / "cli"


def _imports(path: Path) -> set[str]:
    """The ``aisec...`` modules a file imports, at any depth (lazy imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("aisec")}


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_library_imports_nothing_from_the_command_line() -> None:
    offenders = sorted(str(p.relative_to(REPO)) for p in (REPO / "aisec").rglob("*.py")
                       if CLI not in p.parents and p.name != "__main__.py"
                       and any(m == "aisec.cli" or m.startswith("aisec.cli.") for m in _imports(p)))
    assert not offenders, offenders
    argparse_users = sorted(str(p.relative_to(REPO)) for p in (REPO / "aisec").rglob("*.py")
                            if CLI not in p.parents and "import argparse" in p.read_text(encoding="utf-8"))
    assert not argparse_users, argparse_users
    assert not (REPO / "aisec" / "_cli.py").exists() and not (REPO / "aisec" / "cli_audit.py").exists()


def test_no_import_cycle_inside_the_package() -> None:
    modules = {_module(p): p for p in CLI.glob("*.py")}
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}
    # The package's __init__ re-exports main; a submodule importing aisec.cli.X only loads the package first.
    graph = {name: deps - {"aisec.cli"} for name, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert state.get(name) != 1, f"import cycle: {' -> '.join((*trail, name))}"
        if state.get(name) == 2:
            return
        state[name] = 1
        for dep in sorted(graph[name]):
            visit(dep, (*trail, name))
        state[name] = 2

    for name in sorted(graph):
        visit(name, ())
    # The shared helpers depend on no verb; only on the parser class (for its type), which depends on nothing.
    assert graph["aisec.cli.output"] <= {"aisec.cli.parser"}, "the shared output helpers must not depend on any verb"
    assert graph["aisec.cli.parser"] == set()


def test_every_verb_comes_from_its_own_module() -> None:
    verbs = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert sorted(verbs) == ["config", "dataset", "report", "rules", "scan", "sign", "verify",
                             "verify-attestation"]
    owners = {add.__module__ for add in VERB_GROUPS}
    assert len(owners) == len(VERB_GROUPS)
    for name, parser in verbs.items():
        leaves = ([sub for action in parser._subparsers._group_actions  # type: ignore[union-attr]
                   for sub in action.choices.values()] if parser._subparsers else [parser])
        modules = {leaf.get_default("handler").__module__ for leaf in leaves}
        assert len(modules) == 1 and modules <= owners, (name, modules)
