"""Validate a user's folder of rules and policies (``aisec rules validate DIR``)."""

from __future__ import annotations

from pathlib import Path

from aisec.analyzers import fact_catalog
from aisec.engine.evaluate import select_rules
from aisec.engine.policy import load_policy
from aisec.engine.rules import load_rules
from aisec.errors import ConfigError
from aisec.paths import builtin_policies_dir, builtin_rules_dir


def validate_directory(directory: Path) -> str:
    """Load every rule below ``directory`` and every policy in ``DIR/policies/``; raise on the first problem.

    Policies are bound against the built-in rules plus the folder's own rules, so references are checked too.
    """
    if not directory.is_dir():
        raise ConfigError("not a folder", source=str(directory))
    catalog = fact_catalog()
    own = load_rules(directory, known_facts=catalog)
    builtin = load_rules(builtin_rules_dir(), known_facts=catalog) if directory.resolve() != \
        builtin_rules_dir().resolve() else ()
    own_ids = {r.id for r in own}
    rules = tuple(sorted((*[r for r in builtin if r.id not in own_ids], *own), key=lambda r: r.id))
    policy_files = sorted((directory / "policies").glob("*.yaml")) if (directory / "policies").is_dir() else []
    for path in policy_files:
        policy = load_policy(path, policies_dir=builtin_policies_dir())
        select_rules(rules, policy)
    return f"ok: {len(own)} rules and {len(policy_files)} policies in {directory} are valid"

