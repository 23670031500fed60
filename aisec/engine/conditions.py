"""Rule conditions: the operator table, parsing of ``all``/``any``/``not`` trees, and evaluation over facts."""

from __future__ import annotations

import fnmatch
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aisec.model import Fact

Test = Callable[[Any], bool]


class ConditionSyntaxError(ValueError):
    """A condition tree is malformed; ``field`` is the dotted path inside ``when``."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _compare(cmp: Callable[[float, float], bool]) -> Callable[[Any], Test]:
    def build(expected: Any) -> Test:
        bound = _number(expected)
        if bound is None or math.isnan(bound):
            raise ValueError(f"needs a number, got {expected!r}")

        def test(actual: Any) -> bool:
            got = _number(actual)
            return got is not None and cmp(got, bound)
        return test
    return build


def _as_list(expected: Any) -> list[Any]:
    if isinstance(expected, (list, tuple)):
        return list(expected)
    raise ValueError(f"needs a list, got {expected!r}")


def _build_in(expected: Any) -> Test:
    members = {_key(v) for v in _as_list(expected)}
    return lambda actual: _key(actual) in members


def _build_not_in(expected: Any) -> Test:
    inside = _build_in(expected)
    return lambda actual: not inside(actual)


_WILDCARD = re.compile(r"[*?\[]")
"""Characters that make an fnmatch pattern more than a literal name."""


def _build_glob(expected: Any) -> Test:
    patterns = _as_list(expected) if isinstance(expected, (list, tuple)) else [expected]
    if not all(isinstance(p, str) for p in patterns):
        raise ValueError("glob patterns must be strings")
    return _glob_test(tuple(patterns))


@functools.lru_cache(maxsize=256)
def _glob_test(patterns: tuple[str, ...]) -> Test:
    # Most list entries are plain names or ``module.*``: a set lookup and a prefix test, and only other
    # wildcards are compiled (compiling every entry of the allowlists into one regex for each rule that uses
    # them was a large share of every run's start-up). The same list is bound to many rules, hence the cache.
    # The other wildcards are compiled on the first value the set and prefixes do not decide: a scan whose
    # facts never get that far (a pickle without globals) does not pay for compiling them.
    exact = frozenset(p for p in patterns if not _WILDCARD.search(p))
    prefix_form = [p for p in patterns if p.endswith("*") and not _WILDCARD.search(p[:-1])]
    prefixes = tuple(p[:-1] for p in prefix_form)
    wild = tuple(p for p in patterns if _WILDCARD.search(p) and p not in prefix_form)
    return lambda actual: isinstance(actual, str) and (
        actual in exact or actual.startswith(prefixes) or (bool(wild) and _wildcards(wild).match(actual) is not None))


@functools.lru_cache(maxsize=256)
def _wildcards(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


def glob_matches(text: str, pattern: str) -> bool:
    """``fnmatch.fnmatchcase``, without compiling a regular expression for a plain name or a ``prefix*``
    pattern (most list entries; compiling each entry of a 200-entry list took more than the rest of a scan)."""
    if not _WILDCARD.search(pattern):
        return text == pattern
    if pattern.endswith("*") and not _WILDCARD.search(pattern, 0, len(pattern) - 1):
        return text.startswith(pattern[:-1])
    return fnmatch.fnmatchcase(text, pattern)


def _build_matches(expected: Any) -> Test:
    patterns = _as_list(expected) if isinstance(expected, (list, tuple)) else [expected]
    try:
        compiled = [re.compile(p) for p in patterns]
    except (re.error, TypeError) as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return lambda actual: isinstance(actual, str) and any(c.search(actual) for c in compiled)


def _build_contains(expected: Any) -> Test:
    if not isinstance(expected, str):
        raise ValueError(f"needs a string, got {expected!r}")
    return lambda actual: isinstance(actual, str) and expected in actual


def _build_equals(expected: Any) -> Test:
    want = _key(expected)
    return lambda actual: _key(actual) == want


def _build_exists(expected: Any) -> Test:
    if expected not in (None, True):
        raise ValueError("takes no value (or true)")
    return lambda actual: True


def _key(value: Any) -> Any:
    # 1 == True in Python; facts keep booleans and numbers apart.
    return (type(value) is bool, value)


OPERATORS: Mapping[str, Callable[[Any], Test]] = {
    "equals": _build_equals,
    "in": _build_in,
    "not_in": _build_not_in,
    "matches": _build_matches,
    "glob": _build_glob,
    "contains": _build_contains,
    "gt": _compare(lambda a, b: a > b),
    "gte": _compare(lambda a, b: a >= b),
    "lt": _compare(lambda a, b: a < b),
    "lte": _compare(lambda a, b: a <= b),
    "exists": _build_exists,
}
"""Every operator a rule may use. An operator not in this table is a load error."""


@dataclass(frozen=True, kw_only=True)
class ValueRef:
    """A value that comes from the policy: ``lists.NAME`` or ``params.NAME``."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}"


@dataclass(frozen=True, kw_only=True)
class Check:
    """One operator applied to a fact's value (or one of its detail fields)."""

    op: str
    value: Any = None
    ref: ValueRef | None = None
    field: str | None = None


@dataclass(frozen=True, kw_only=True)
class FactPredicate:
    """True when some fact with ``key`` passes ``check`` and none of the ``unless`` checks."""

    key: str
    check: Check
    unless: tuple[Check, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ParamPredicate:
    """True when a policy parameter passes ``check``."""

    param: str
    check: Check


@dataclass(frozen=True, kw_only=True)
class Group:
    """``all`` (every child) or ``any`` (at least one child); never empty."""

    mode: str
    children: tuple[Condition, ...]


@dataclass(frozen=True, kw_only=True)
class Not:
    """True when the child is false."""

    child: Condition


Condition = FactPredicate | ParamPredicate | Group | Not


def parse_condition(raw: Any, field: str = "when") -> Condition:
    """Parse a YAML condition tree; raise :class:`ConditionSyntaxError` naming the offending field."""
    if not isinstance(raw, Mapping):
        raise ConditionSyntaxError(f"a condition must be a mapping, got {type(raw).__name__}", field)
    groups = [k for k in ("all", "any", "not") if k in raw]
    if groups:
        if len(raw) != 1:
            raise ConditionSyntaxError(f"'{groups[0]}' must be the only key of its mapping, found "
                                       f"{sorted(raw)}", field)
        key = groups[0]
        if key == "not":
            return Not(child=parse_condition(raw["not"], f"{field}.not"))
        items = raw[key]
        if not isinstance(items, list) or not items:
            raise ConditionSyntaxError(f"'{key}' needs a non-empty list of conditions", f"{field}.{key}")
        return Group(mode=key, children=tuple(parse_condition(c, f"{field}.{key}[{i}]")
                                              for i, c in enumerate(items)))
    if "fact" in raw:
        return _parse_fact(raw, field)
    if "param" in raw:
        extra = set(raw) - {"param", "op", "value", "value_from"}
        if extra:
            raise ConditionSyntaxError(f"unknown key(s) {sorted(extra)}", field)
        return ParamPredicate(param=_string(raw["param"], f"{field}.param"), check=_parse_check(raw, field))
    raise ConditionSyntaxError(f"expected one of all/any/not/fact/param, found keys {sorted(raw)}", field)


def _parse_fact(raw: Mapping[str, Any], field: str) -> FactPredicate:
    extra = set(raw) - {"fact", "op", "value", "value_from", "field", "unless"}
    if extra:
        raise ConditionSyntaxError(f"unknown key(s) {sorted(extra)}", field)
    unless_raw = raw.get("unless", [])
    if not isinstance(unless_raw, list) or ("unless" in raw and not unless_raw):
        raise ConditionSyntaxError("'unless' needs a non-empty list of checks", f"{field}.unless")
    unless = []
    for i, item in enumerate(unless_raw):
        if not isinstance(item, Mapping) or set(item) - {"op", "value", "value_from", "field"}:
            raise ConditionSyntaxError("each 'unless' entry takes op, value/value_from and field",
                                       f"{field}.unless[{i}]")
        unless.append(_parse_check(item, f"{field}.unless[{i}]"))
    return FactPredicate(key=_string(raw["fact"], f"{field}.fact"), check=_parse_check(raw, field),
                         unless=tuple(unless))


def _parse_check(raw: Mapping[str, Any], field: str) -> Check:
    op = raw.get("op")
    if not isinstance(op, str) or op not in OPERATORS:
        raise ConditionSyntaxError(f"unknown operator {op!r} (known: {', '.join(OPERATORS)})", f"{field}.op")
    if "value" in raw and "value_from" in raw:
        raise ConditionSyntaxError("give either 'value' or 'value_from', not both", field)
    if op != "exists" and "value" not in raw and "value_from" not in raw:
        raise ConditionSyntaxError(f"operator '{op}' needs 'value' or 'value_from'", field)
    ref = None
    if "value_from" in raw:
        text = _string(raw["value_from"], f"{field}.value_from")
        namespace, _, name = text.partition(".")
        if namespace not in ("lists", "params") or not name:
            raise ConditionSyntaxError(f"value_from must be 'lists.NAME' or 'params.NAME', got {text!r}",
                                       f"{field}.value_from")
        ref = ValueRef(namespace=namespace, name=name)
    detail_field = raw.get("field")
    if detail_field is not None:
        detail_field = _string(detail_field, f"{field}.field")
    check = Check(op=op, value=raw.get("value"), ref=ref, field=detail_field)
    if ref is None:
        try:
            OPERATORS[op](check.value)
        except ValueError as exc:
            raise ConditionSyntaxError(f"operator '{op}' {exc}", f"{field}.value") from None
    return check


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConditionSyntaxError(f"expected a non-empty string, got {value!r}", field)
    return value


def walk(condition: Condition) -> list[Condition]:
    """Every node of a condition tree, depth first, parents before children."""
    nodes: list[Condition] = [condition]
    if isinstance(condition, Group):
        for child in condition.children:
            nodes.extend(walk(child))
    elif isinstance(condition, Not):
        nodes.extend(walk(condition.child))
    return nodes


def fact_keys(condition: Condition) -> list[str]:
    """Fact keys referenced, in depth-first order."""
    return [n.key for n in walk(condition) if isinstance(n, FactPredicate)]


@dataclass(frozen=True, kw_only=True)
class BoundCheck:
    """A check with its policy values resolved and its operator compiled."""

    test: Test
    field: str | None

    def passes(self, fact: Fact) -> bool:
        """Apply the operator to the fact's value or detail field."""
        if self.field is None:
            return self.test(fact.value)
        if self.field not in fact.detail:
            return False
        return self.test(fact.detail[self.field])


def _bind_check(check: Check, resolve: Callable[[ValueRef], Any]) -> BoundCheck:
    value = resolve(check.ref) if check.ref is not None else check.value
    return BoundCheck(test=OPERATORS[check.op](value), field=check.field)


@dataclass(frozen=True, kw_only=True)
class BoundFact:
    """A fact predicate ready to evaluate."""

    key: str
    check: BoundCheck
    unless: tuple[BoundCheck, ...]


@dataclass(frozen=True, kw_only=True)
class BoundParam:
    """A parameter predicate, already decided (parameters are fixed for a scan)."""

    held: bool


@dataclass(frozen=True, kw_only=True)
class BoundGroup:
    """``all``/``any`` over bound children."""

    mode: str
    children: tuple[BoundCondition, ...]


@dataclass(frozen=True, kw_only=True)
class BoundNot:
    """Negation of a bound child."""

    child: BoundCondition


BoundCondition = BoundFact | BoundParam | BoundGroup | BoundNot


def bind(condition: Condition, resolve: Callable[[ValueRef], Any],
         params: Mapping[str, Any]) -> BoundCondition:
    """Resolve every ``value_from`` against the policy and compile operators.

    Raises ``ValueError`` (with the reference named) when a policy value does not fit its operator.
    """
    if isinstance(condition, FactPredicate):
        return BoundFact(key=condition.key, check=_bind_check(condition.check, resolve),
                         unless=tuple(_bind_check(c, resolve) for c in condition.unless))
    if isinstance(condition, ParamPredicate):
        check = _bind_check(condition.check, resolve)
        return BoundParam(held=condition.param in params and check.test(params[condition.param]))
    if isinstance(condition, Not):
        return BoundNot(child=bind(condition.child, resolve, params))
    return BoundGroup(mode=condition.mode, children=tuple(bind(c, resolve, params)
                                                         for c in condition.children))


def needed_keys(condition: BoundCondition) -> frozenset[str] | None:
    """Fact keys of which at least one must be present for ``condition`` to hold (``None``: it may hold with no
    fact at all, e.g. under ``not``). Lets an artifact skip the rules none of its facts can trigger."""
    if isinstance(condition, BoundFact):
        return frozenset({condition.key})
    if isinstance(condition, BoundParam):
        return None if condition.held else frozenset()  # a parameter predicate that fails never holds
    if isinstance(condition, BoundNot):
        return None
    children = [needed_keys(child) for child in condition.children]
    if condition.mode == "all":  # every child must hold: any one child's keys are needed
        known = [keys for keys in children if keys is not None]
        return min(known, key=len) if known else None
    if any(keys is None for keys in children):
        return None
    return frozenset().union(*(keys for keys in children if keys is not None))


def evaluate(condition: BoundCondition, facts: Mapping[str, Sequence[Fact]]) -> tuple[bool, list[Fact]]:
    """Evaluate a bound tree; return whether it holds and the facts that made it hold (its witnesses)."""
    if isinstance(condition, BoundFact):
        hits = [f for f in facts.get(condition.key, ()) if condition.check.passes(f) and
                not any(u.passes(f) for u in condition.unless)]
        return bool(hits), hits
    if isinstance(condition, BoundParam):
        return condition.held, []
    if isinstance(condition, BoundNot):
        held, _ = evaluate(condition.child, facts)
        return not held, []
    witnesses: list[Fact] = []
    any_held = False
    for child in condition.children:
        held, hits = evaluate(child, facts)
        if held:
            any_held = True
            witnesses.extend(hits)
        elif condition.mode == "all":
            return False, []
    return any_held, witnesses
