"""The README's Limits table is exactly what ``aisec.limits.Limits`` declares (names, defaults, descriptions).

Regenerate the table with ``python -m tests.hardening.test_limits_doc`` after changing a limit.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools

from aisec.limits import GiB, Limits, MiB
from tests.conftest import REPO


def _descriptions() -> dict[str, str]:
    """The attribute docstrings under each field of ``Limits`` (read from the source, as they are not runtime data)."""
    tree = ast.parse((REPO / "aisec" / "limits.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Limits")
    out: dict[str, str] = {}
    body = cls.body
    for node, after in itertools.pairwise(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr) \
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
            out[node.target.id] = " ".join(after.value.value.split())
    return out


def _default(value: int | float) -> str:
    if isinstance(value, float):
        return f"{value:g} s"
    for unit, size in (("GiB", GiB), ("MiB", MiB)):
        if value >= size and value % size == 0:
            return f"{value // size} {unit}"
    return f"{value:,}"


def render_table() -> str:
    """The Markdown table the README must contain."""
    descriptions = _descriptions()
    rows = ["| limit | default | what it bounds |", "| --- | --- | --- |"]
    for f in dataclasses.fields(Limits):
        text = descriptions[f.name].replace("|", "/").replace("``", "`")
        default = f.default
        assert isinstance(default, (int, float))
        rows.append(f"| `{f.name}` | {_default(default)} | {text} |")
    return "\n".join(rows)


def _readme_table() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert "\n### Limits\n" in text, "README has no '### Limits' section"
    lines = text.split("\n### Limits\n", 1)[1].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def test_every_limit_has_a_description() -> None:
    assert set(_descriptions()) == set(Limits.names())


def test_readme_limits_table_matches_the_code() -> None:
    assert _readme_table() == render_table(), "stale README table: run python -m tests.hardening.test_limits_doc"


if __name__ == "__main__":
    print(render_table())
