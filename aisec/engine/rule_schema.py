"""The rule file schema, validated with pydantic (imported only when rule files are read)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RULE_ID = r"^AISEC-(MDL|DAT|SIG|GEN)-\d{3}$"


class _RuleSpec(BaseModel):
    """The rule file schema (a trust boundary: user rule folders are validated the same way)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(pattern=RULE_ID)
    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=120)
    short_description: str = Field(min_length=10, max_length=300)
    full_description: str = Field(min_length=10, max_length=1024)
    severity: Literal["critical", "high", "medium", "low", "info"]
    confidence: Literal["very-high", "high", "medium", "low"]
    applies_to: list[str] = Field(min_length=1)
    when: dict[str, Any]
    evidence: str | None = None
    message: str = Field(min_length=5)
    remediation: str = Field(min_length=5)
    cwe: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list, max_length=12)
    references: list[str] = Field(default_factory=list)
    help_uri: str | None = None
