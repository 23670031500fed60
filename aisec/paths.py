"""Where the built-in rules and policies live: the source tree's ``rules/`` or the copy inside the wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def builtin_rules_dir() -> Path:
    """The built-in rules folder (``rules/`` at the top of a checkout, ``aisec/_rules`` in a wheel)."""
    bundled = _PACKAGE / "_rules"
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent / "rules"


def builtin_policies_dir() -> Path:
    """The built-in policies folder."""
    return builtin_rules_dir() / "policies"
