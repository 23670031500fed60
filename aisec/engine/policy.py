"""Policies: which rules run, thresholds, named lists, suppressions and the fail-on gate; with ``extends``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from aisec.engine.list_sources import LIST_SOURCES
from aisec.engine.policy_settings import check_settings
from aisec.errors import PolicyError
from aisec.limits import Limits
from aisec.model import Scalar, Severity
from aisec.suggest import unknown_key

if TYPE_CHECKING:
    from aisec.engine.policy_schema import _ListEntry, _NamedList, _PolicySpec

MAX_EXTENDS_DEPTH = 8


@dataclass(frozen=True, kw_only=True)
class SuppressionRule:
    """A policy entry that hides matching findings until it expires."""

    rule: str
    path: str | None
    fingerprint: str | None
    justification: str
    expires: dt.date | None

    def describe(self) -> str:
        """A short human label used when the suppression matched nothing."""
        scope = " ".join(p for p in (f"path={self.path}" if self.path else "",
                                     f"fingerprint={self.fingerprint}" if self.fingerprint else "") if p)
        return f"{self.rule} {scope}".strip()


@dataclass(frozen=True, kw_only=True)
class RuleSelection:
    """Rule id globs and tags to enable, and id globs to exclude."""

    include: tuple[str, ...]
    tags: tuple[str, ...]
    exclude: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Policy:
    """The effective policy after ``extends`` is resolved."""

    name: str
    description: str
    sources: tuple[str, ...]
    selection: RuleSelection
    fail_on: Severity
    min_severity: Severity
    severity_overrides: Mapping[str, Severity]
    params: Mapping[str, Scalar]
    lists: Mapping[str, tuple[tuple[Scalar, str], ...]]
    suppressions: tuple[SuppressionRule, ...]
    settings: Mapping[str, Any]
    limits: Limits
    digest: str
    """SHA-256 over the effective policy document."""

    def list_values(self, name: str) -> list[Scalar]:
        """The values of a named list; ``KeyError`` when absent."""
        return [value for value, _reason in self.lists[name]]


BUILTIN_POLICY_NAMES = ("default", "strict", "audit")


def load_policy(ref: str | Path, *, policies_dir: Path) -> Policy:
    """Load a built-in policy by name or a policy file by path, resolving ``extends``."""
    path = _locate(str(ref), policies_dir=policies_dir, base=Path.cwd())
    chain = _load_chain(path, policies_dir=policies_dir)
    merged = _merge(chain)
    return _build(merged, sources=tuple(str(p) for p, _ in chain))


def _locate(ref: str, *, policies_dir: Path, base: Path) -> Path:
    if ref in BUILTIN_POLICY_NAMES or (not ref.endswith((".yaml", ".yml")) and "/" not in ref):
        path = policies_dir / f"{ref}.yaml"
        if not path.is_file():
            raise PolicyError(f"no built-in policy named {ref!r} (built in: {', '.join(BUILTIN_POLICY_NAMES)})",
                              source=ref)
        return path
    path = (base / ref) if not Path(ref).is_absolute() else Path(ref)
    if not path.is_file():
        raise PolicyError("policy file not found", source=ref)
    return path


def _load_chain(path: Path, *, policies_dir: Path) -> list[tuple[Path, _PolicySpec]]:
    from aisec.engine.yamlio import read_yaml  # YAML and pydantic load only when a policy file is read

    chain: list[tuple[Path, _PolicySpec]] = []
    seen: set[Path] = set()
    current: Path | None = path
    while current is not None:
        resolved = current.resolve()
        if resolved in seen:
            raise PolicyError("circular 'extends'", source=str(current), field="extends")
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise PolicyError(f"'extends' deeper than {MAX_EXTENDS_DEPTH}", source=str(current), field="extends")
        seen.add(resolved)
        spec = _validate(read_yaml(current, error=PolicyError), source=str(current))
        chain.append((current, spec))
        current = _locate(spec.extends, policies_dir=policies_dir, base=current.parent) if spec.extends else None
    chain.reverse()  # base first
    return chain


def _validate(raw: Any, *, source: str) -> _PolicySpec:
    if not isinstance(raw, Mapping):
        raise PolicyError("a policy file must hold one YAML mapping", source=source)
    from pydantic import ValidationError

    from aisec.engine.policy_schema import _PolicySpec
    from aisec.engine.yamlio import first_validation_problem

    try:
        spec = _PolicySpec.model_validate(dict(raw))
    except ValidationError as exc:
        field, message = first_validation_problem(exc, _PolicySpec)
        raise PolicyError(message, source=source, field=field) from None
    check_settings(spec.settings, source=source)
    return spec


def _merge(chain: list[tuple[Path, _PolicySpec]]) -> dict[str, Any]:
    merged: dict[str, Any] = {"rules": None, "fail_on": None, "min_severity": None, "severity_overrides": {},
                              "params": {}, "lists": {}, "suppressions": [], "settings": {}, "limits": {},
                              "description": ""}
    for path, spec in chain:
        merged["name"] = spec.name
        merged["description"] = spec.description or merged["description"]
        for key in ("rules", "fail_on", "min_severity"):
            if getattr(spec, key) is not None:
                merged[key] = getattr(spec, key)
        for key in ("severity_overrides", "params", "limits"):
            merged[key] = {**merged[key], **getattr(spec, key)}
        merged["settings"] = _deep_merge(merged["settings"], spec.settings)
        for name, value in spec.lists.items():
            entries = _list_entries(value, source=str(path), name=name)
            previous = merged["lists"].get(name, ())
            known = {v for v, _ in previous}
            merged["lists"][name] = tuple(previous) + tuple(e for e in entries if e[0] not in known)
        merged["suppressions"].extend(spec.suppressions)
    return merged


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Settings blocks merge key by key at every depth, so setting one dataset knob keeps the others."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _list_entries(value: list[_ListEntry] | _NamedList, *, source: str,
                  name: str) -> tuple[tuple[Scalar, str], ...]:
    if isinstance(value, list):
        return tuple((e.value, e.reason) for e in value)
    entries = [(e.value, e.reason) for e in value.entries]
    for provider in value.include:
        if provider not in LIST_SOURCES:
            raise PolicyError(unknown_key("list source", provider, LIST_SOURCES),
                              source=source, field=f"lists.{name}.include")
        entries.extend(LIST_SOURCES[provider]())
    return tuple(dict.fromkeys(entries))


def _build(merged: dict[str, Any], *, sources: tuple[str, ...]) -> Policy:
    from aisec.engine.policy_schema import _RuleSelection

    source = sources[-1]
    selection: _RuleSelection = merged["rules"] or _RuleSelection()
    limits = Limits().overlay(merged["limits"], source=source)
    document = {k: v for k, v in merged.items() if k != "suppressions"}
    document["rules"] = selection.model_dump()
    document["suppressions"] = [s.model_dump(mode="json") for s in merged["suppressions"]]
    digest = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()
    return Policy(
        name=merged["name"], description=merged["description"], sources=sources,
        selection=RuleSelection(include=tuple(selection.include), tags=tuple(selection.tags),
                                exclude=tuple(selection.exclude)),
        fail_on=Severity(merged["fail_on"] or "high"), min_severity=Severity(merged["min_severity"] or "low"),
        severity_overrides=MappingProxyType({k: Severity(v) for k, v in merged["severity_overrides"].items()}),
        params=MappingProxyType(dict(merged["params"])), lists=MappingProxyType(dict(merged["lists"])),
        suppressions=tuple(SuppressionRule(rule=s.rule, path=s.path, fingerprint=s.fingerprint,
                                           justification=s.justification, expires=s.expires)
                           for s in merged["suppressions"]),
        settings=MappingProxyType(dict(merged["settings"])), limits=limits, digest=digest)
