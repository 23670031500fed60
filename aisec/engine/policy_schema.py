"""The policy file schema, validated with pydantic (imported only when policy files are read)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SeverityName = Literal["critical", "high", "medium", "low", "info"]


class _ListEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: str | int | float
    reason: str = Field(min_length=3)


class _NamedList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    entries: list[_ListEntry] = Field(default_factory=list)
    include: list[str] = Field(default_factory=list)


class _SuppressionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: str = Field(min_length=1)
    path: str | None = None
    fingerprint: str | None = None
    justification: str = Field(min_length=10)
    expires: dt.date | None = None

    @model_validator(mode="after")
    def _scoped(self) -> _SuppressionSpec:
        if self.path is None and self.fingerprint is None:
            raise ValueError("a suppression needs a 'path' glob and/or a 'fingerprint'")
        return self


class _RuleSelection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    include: list[str] = Field(default_factory=lambda: ["*"])
    tags: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class _PolicySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    description: str = ""
    extends: str | None = None
    rules: _RuleSelection | None = None
    fail_on: SeverityName | None = None
    min_severity: SeverityName | None = None
    severity_overrides: dict[str, SeverityName] = Field(default_factory=dict)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    lists: dict[str, list[_ListEntry] | _NamedList] = Field(default_factory=dict)
    suppressions: list[_SuppressionSpec] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    limits: dict[str, int | float] = Field(default_factory=dict)
