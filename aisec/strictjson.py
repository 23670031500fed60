"""Strict JSON for untrusted input: no duplicate keys, no NaN/Infinity, UTF-8 only, bounded nesting."""

from __future__ import annotations

import json
from typing import Any


class StrictJSONError(ValueError):
    """The document is not strict JSON (or nests deeper than allowed)."""


class DuplicateKeyError(StrictJSONError):
    """A JSON object repeats a key: two parsers may keep different copies (a parser differential)."""


def strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` that refuses duplicate keys."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(f"duplicate JSON key {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise StrictJSONError(f"non-standard JSON constant {name}")


def loads(data: bytes | str, *, max_depth: int | None = None) -> Any:
    """Parse ``data``; raise :class:`StrictJSONError` on invalid UTF-8, bad JSON, duplicate keys or deep nesting."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, object_pairs_hook=strict_pairs, parse_constant=_no_constants)
    except StrictJSONError:
        raise
    except RecursionError:
        raise StrictJSONError("JSON nested too deeply to parse") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise StrictJSONError(f"not valid JSON: {exc}") from None
    if max_depth is not None and depth(value, max_depth) > max_depth:
        raise StrictJSONError(f"JSON nested deeper than max_json_depth={max_depth}")
    return value


def strict_json(text: str, max_depth: int) -> Any:
    """:func:`loads` with a depth bound (the analyzers' spelling)."""
    return loads(text, max_depth=max_depth)


def depth(value: Any, cap: int) -> int:
    """Nesting depth of a parsed document, counted without recursion; stops counting past ``cap``."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if deepest > cap:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, level + 1) for c in children)
    return deepest
