"""Safe YAML reading for rules and policies (``yaml.safe_load`` only, with bounded size)."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from aisec.errors import ConfigError
from aisec.suggest import unknown_key

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


def first_validation_problem(exc: ValidationError,
                             model: type[BaseModel] | None = None) -> tuple[str | None, str]:
    """The first pydantic problem as (dotted field, human message); with ``model``, unknown keys get a hint."""
    errors = exc.errors()
    # Of a union's alternatives, the one that failed only on a misspelt key is the one the author meant.
    err = next((e for e in errors if e.get("type") == "extra_forbidden"), errors[0])
    field = ".".join(str(p) for p in err["loc"]) or None
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        known = _fields_at(model, tuple(err["loc"][:-1])) if model is not None else None
        if known is not None:
            return field, unknown_key("key", str(err["loc"][-1]), known)
        return field, "unknown key (not part of the schema; check the spelling)"
    if kind == "missing":
        return field, "required field is missing"
    return field, f"{err['msg']} (got {str(err.get('input'))[:80]!r})"


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, ...] | None:
    """The field names of the (nested) model that ``loc`` points into, or None when it cannot be followed."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return None
    current = _model_in(current)
    return tuple(current.model_fields) if current is not None else None


def _step(annotation: Any, part: int | str) -> Any:
    model = _model_in(annotation)
    if model is not None and isinstance(part, str) and part in model.model_fields:
        return model.model_fields[part].annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if isinstance(part, str):  # pydantic labels the union member it tried: 'list[_Entry]' or '_Model'
        for arg in args:
            if part in (getattr(arg, "__name__", None), re.sub(r"[\w.]+\.", "", str(arg))):
                return arg
    # A list index or a dict key: descend into the container's value type.
    return args[-1] if args else None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
