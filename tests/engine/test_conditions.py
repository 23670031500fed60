"""Operator semantics and all/any/not evaluation over facts."""

from __future__ import annotations

from typing import Any

import pytest

from aisec.engine.conditions import OPERATORS, ValueRef, bind, evaluate, parse_condition
from aisec.model import Fact, Location


def _facts(*facts: Fact) -> dict[str, list[Fact]]:
    out: dict[str, list[Fact]] = {}
    for fact in facts:
        out.setdefault(fact.key, []).append(fact)
    return out


def _holds(when: dict[str, Any], *facts: Fact, lists: dict[str, Any] | None = None,
           params: dict[str, Any] | None = None) -> tuple[bool, list[Fact]]:
    lists = lists or {}
    params = params or {}

    def resolve(ref: ValueRef) -> Any:
        return (lists if ref.namespace == "lists" else params)[ref.name]

    return evaluate(bind(parse_condition(when), resolve, params), _facts(*facts))


CALL = Fact(key="pickle.call", value="os.system", detail={"called": True, "count": 3})


@pytest.mark.parametrize(("op", "value", "actual", "expected"), [
    ("equals", "os.system", "os.system", True),
    ("equals", "os.system", "os.popen", False),
    ("equals", 1, True, False),  # booleans are not numbers
    ("equals", True, True, True),
    ("in", ["a", "b"], "b", True),
    ("in", ["a", "b"], "c", False),
    ("not_in", ["a", "b"], "c", True),
    ("not_in", ["a", "b"], "a", False),
    ("matches", r"^os\.", "os.system", True),
    ("matches", r"^os\.", "pos.system", False),
    ("matches", r"sys", 5, False),
    ("glob", "os.*", "os.path.join", True),
    ("glob", ["subprocess.*", "os.*"], "subprocess.run", True),
    ("glob", "os.*", "ros.x", False),
    ("contains", "system", "os.system", True),
    ("contains", "system", "os.popen", False),
    ("gt", 5, 6, True),
    ("gt", 5, 5, False),
    ("gte", 5, 5, True),
    ("lt", 5, 4.5, True),
    ("lte", 5, 6, False),
    ("gt", 5, "6", False),  # strings never compare as numbers
    ("exists", None, "anything", True),
])
def test_operator_semantics(op: str, value: Any, actual: Any, expected: bool) -> None:
    assert OPERATORS[op](value)(actual) is expected


def test_every_operator_is_covered_above() -> None:
    assert set(OPERATORS) == {"equals", "in", "not_in", "matches", "glob", "contains", "gt", "gte", "lt", "lte",
                              "exists"}


def test_leaf_holds_when_any_fact_matches_and_returns_witnesses() -> None:
    other = Fact(key="pickle.call", value="collections.OrderedDict")
    held, witnesses = _holds({"fact": "pickle.call", "op": "glob", "value": "os.*"}, CALL, other)
    assert held and witnesses == [CALL]


def test_unless_excludes_facts_individually() -> None:
    when = {"fact": "pickle.call", "op": "exists", "unless": [{"op": "glob", "value_from": "lists.allow"}]}
    allowed = Fact(key="pickle.call", value="collections.OrderedDict")
    assert _holds(when, allowed, lists={"allow": ["collections.*"]})[0] is False
    assert _holds(when, allowed, CALL, lists={"allow": ["collections.*"]})[1] == [CALL]


def test_field_checks_detail_values() -> None:
    assert _holds({"fact": "pickle.call", "op": "gte", "value": 3, "field": "count"}, CALL)[0]
    assert not _holds({"fact": "pickle.call", "op": "gte", "value": 4, "field": "count"}, CALL)[0]
    assert not _holds({"fact": "pickle.call", "op": "exists", "field": "missing"}, CALL)[0]


def test_all_any_not() -> None:
    a = {"fact": "pickle.call", "op": "equals", "value": "os.system"}
    b = {"fact": "pickle.import", "op": "exists"}
    assert not _holds({"all": [a, b]}, CALL)[0]
    assert _holds({"any": [a, b]}, CALL)[0]
    assert _holds({"all": [a, {"not": b}]}, CALL)[0]
    assert not _holds({"not": a}, CALL)[0]
    assert _holds({"not": b})[0]


def test_param_predicates_and_value_from_params() -> None:
    when = {"all": [{"param": "require_signature", "op": "equals", "value": True},
                    {"fact": "pickle.call", "op": "exists"}]}
    assert _holds(when, CALL, params={"require_signature": True})[0]
    assert not _holds(when, CALL, params={"require_signature": False})[0]
    assert not _holds(when, CALL, params={})[0]
    threshold = {"fact": "pickle.call", "op": "gt", "value_from": "params.limit", "field": "count"}
    assert _holds(threshold, CALL, params={"limit": 2})[0]
    assert not _holds(threshold, CALL, params={"limit": 3})[0]


def test_facts_keep_their_location() -> None:
    located = Fact(key="pickle.call", value="os.system", location=Location(member="archive/data.pkl", offset=7))
    _held, witnesses = _holds({"fact": "pickle.call", "op": "exists"}, located)
    assert witnesses[0].location.member == "archive/data.pkl"
