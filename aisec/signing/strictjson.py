"""JSON parsing for untrusted signature files: no duplicate keys, no NaN, UTF-8 only."""

from __future__ import annotations

import json
from typing import Any


class StrictJSONError(ValueError):
    """The document is not strict JSON."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise StrictJSONError(f"duplicate JSON key {key!r}")
        out[key] = value
    return out


def _bad_constant(name: str) -> Any:
    raise StrictJSONError(f"non-standard JSON constant {name}")


def loads(data: bytes) -> Any:
    """Parse ``data``; raise :class:`StrictJSONError` on invalid UTF-8, bad JSON or duplicate keys.

    Duplicate keys are refused because two parsers may keep different copies (a parser differential).
    """
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys, parse_constant=_bad_constant)
    except StrictJSONError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise StrictJSONError(f"not valid JSON: {exc}") from None
