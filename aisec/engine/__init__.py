"""The rule engine: rules and policies as validated data, conditions over facts, findings out."""

from __future__ import annotations

from aisec.engine.evaluate import BoundRule, findings_for, select_rules
from aisec.engine.policy import Policy, load_policy
from aisec.engine.rules import Rule, load_rules

__all__ = ["BoundRule", "Policy", "Rule", "findings_for", "load_policy", "load_rules", "select_rules"]
