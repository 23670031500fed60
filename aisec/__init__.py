"""aisec: scan ML models, datasets and signatures for security problems without executing anything.

Library use::

    import aisec
    report = aisec.scan(["models/"], policy="strict")
    for finding in report.findings:
        print(finding.severity.value, finding.rule_id, finding.path, finding.message)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from aisec.engine.policy import Policy, load_policy
    from aisec.model import Artifact, Finding, Report, ScanError, Severity
    from aisec.scan import scan

_EXPORTS = {
    "Policy": "aisec.engine.policy", "load_policy": "aisec.engine.policy", "Artifact": "aisec.model",
    "Finding": "aisec.model", "Report": "aisec.model", "ScanError": "aisec.model", "Severity": "aisec.model",
    "scan": "aisec.scan",
}


def __getattr__(name: str) -> Any:
    # Imported on first use, so `aisec --version` and `aisec verify` do not pay for every analyzer's imports.
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'aisec' has no attribute {name!r}")


__all__ = ["Artifact", "Finding", "Policy", "Report", "ScanError", "Severity", "__version__", "load_policy",
           "scan"]
