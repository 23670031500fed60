"""Skipping the rules an artifact's facts cannot trigger changes no verdict; list entries match as fnmatch does."""

from __future__ import annotations

import fnmatch
import itertools

import pytest

from aisec.engine.conditions import (
    BoundCheck,
    BoundFact,
    BoundGroup,
    BoundNot,
    BoundParam,
    evaluate,
    glob_matches,
    needed_keys,
)
from aisec.model import Fact
from aisec.scan import load_configuration


def _fact(key: str) -> BoundFact:
    return BoundFact(key=key, check=BoundCheck(test=lambda _v: True, field=None), unless=())


@pytest.mark.parametrize(("condition", "expected"), [
    (_fact("a"), {"a"}),
    (BoundNot(child=_fact("a")), None),
    (BoundParam(held=True), None),
    (BoundParam(held=False), set()),
    (BoundGroup(mode="all", children=(_fact("a"), BoundNot(child=_fact("b")))), {"a"}),
    (BoundGroup(mode="all", children=(BoundParam(held=True), BoundNot(child=_fact("b")))), None),
    (BoundGroup(mode="any", children=(_fact("a"), _fact("b"))), {"a", "b"}),
    (BoundGroup(mode="any", children=(_fact("a"), BoundParam(held=True))), None),
    (BoundGroup(mode="any", children=(_fact("a"), BoundParam(held=False))), {"a"}),
])
def test_needed_keys(condition: BoundGroup, expected: set[str] | None) -> None:
    assert needed_keys(condition) == (None if expected is None else frozenset(expected))


def test_no_builtin_rule_holds_without_the_keys_it_needs() -> None:
    _policy, _rules, bound = load_configuration("strict")
    keys = sorted({k for b in bound for k in (b.needs or ())})
    for rule in bound:
        assert rule.needs is not None, rule.rule.id  # every built-in rule names a fact it needs
        # Every fact key present except the ones it needs (each with a value every check accepts or refuses).
        others = {k: [Fact(key=k, value=v) for v in ("x", 1, True, 10**9)] for k in keys if k not in rule.needs}
        assert evaluate(rule.condition, others) == (False, []), rule.rule.id


@pytest.mark.parametrize("pattern", ["torch.nn.Linear", "torch.*", "*.__globals__", "torch.jit.[!_]*", "a?c*",
                                     "save_[0-9]*", "*", "", "x*y*", "[*]"])
def test_glob_matches_is_fnmatchcase(pattern: str) -> None:
    texts = ["", "torch", "torch.", "torch.nn.Linear", "torch.jit._x", "torch.jit.y", "abc", "aXcd", "save_1x",
             "*", "a.__globals__", "xy", "x-y-z"]
    for text in texts:
        assert glob_matches(text, pattern) == fnmatch.fnmatchcase(text, pattern), (text, pattern)
    for a, b in itertools.product("ab*", repeat=2):
        assert glob_matches(a + b, pattern) == fnmatch.fnmatchcase(a + b, pattern)
