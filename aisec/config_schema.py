"""The project file schema (``aisec.yaml``, ``[tool.aisec]``), validated with pydantic only when a file is read."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from aisec.config import FormatName, SeverityName


class _ProjectSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    policy: str | None = None
    fail_on: SeverityName | None = None
    min_severity: SeverityName | None = None
    format: FormatName | None = None
    rules: str | None = None
    label_column: str | None = Field(default=None, min_length=1)
    text_columns: list[Annotated[str, Field(min_length=1)]] | None = None
