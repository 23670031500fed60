"""One error root for aisec, with human-readable diagnostics."""

from __future__ import annotations


class AisecError(Exception):
    """Root of every error aisec raises on purpose.

    The CLI catches this type in one place, prints :meth:`diagnostics` and exits 2.
    """

    def diagnostics(self) -> str:
        """A human-readable explanation of what went wrong and what to do."""
        return str(self)


class ConfigError(AisecError):
    """A rule, policy or configuration file is invalid."""

    def __init__(self, message: str, *, source: str | None = None, rule_id: str | None = None,
                 field: str | None = None) -> None:
        self.message = message
        self.source = source
        self.rule_id = rule_id
        self.field = field
        super().__init__(self.diagnostics())

    def diagnostics(self) -> str:
        """Name the file, the rule and the field, then the problem."""
        where = [p for p in (self.source, f"rule {self.rule_id}" if self.rule_id else None,
                             f"field '{self.field}'" if self.field else None) if p]
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class RuleError(ConfigError):
    """A rule file is invalid (schema, unknown operator, unknown fact, bad template)."""


class PolicyError(ConfigError):
    """A policy file is invalid (schema, unknown rule, circular extends, bad suppression)."""


class TargetError(AisecError):
    """A scan target does not exist or cannot be read at all."""


class ArtifactError(AisecError):
    """An artifact could not be analyzed (malformed, truncated, unsupported)."""


class LimitExceeded(ArtifactError):
    """A named resource limit was hit while analyzing an artifact."""

    def __init__(self, limit: str, value: int | float, message: str | None = None) -> None:
        self.limit = limit
        self.value = value
        super().__init__(message or f"limit {limit}={value} exceeded")


class VerificationError(AisecError):
    """A signature or attestation failed verification."""


class SourceReadError(AisecError):
    """Bytes of an artifact could not be fetched (a network or storage error, not a malformed file)."""
