"""Safe YAML reading for rules and policies (``yaml.safe_load`` only, with bounded size)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from aisec.errors import ConfigError

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader is about ten times faster than the pure-Python one and constructs the same types."""

MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""Largest rule or policy file accepted."""


def read_yaml(path: Path, *, error: type[ConfigError]) -> Any:
    """Parse one YAML document safely; raise ``error`` naming the file (and line) on any problem."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise error(f"file is larger than {MAX_CONFIG_BYTES} bytes", source=str(path))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read: {exc}", source=str(path)) from None
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader (libyaml's when available)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise error(f"invalid YAML{where}: {getattr(exc, 'problem', exc)}", source=str(path)) from None


def first_validation_problem(exc: ValidationError) -> tuple[str | None, str]:
    """The first pydantic problem as (dotted field, human message)."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return field, "unknown key (not part of the schema; check the spelling)"
    if kind == "missing":
        return field, "required field is missing"
    return field, f"{err['msg']} (got {str(err.get('input'))[:80]!r})"
