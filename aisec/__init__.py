"""aisec: scan ML models, datasets and signatures for security problems without executing anything.

Library use::

    import aisec
    report = aisec.scan(["models/"], policy="strict")
    for finding in report.findings:
        print(finding.severity.value, finding.rule_id, finding.path, finding.message)
"""

from __future__ import annotations

__version__ = "0.1.0"

from aisec.engine.policy import Policy, load_policy
from aisec.model import Artifact, Finding, Report, ScanError, Severity
from aisec.scan import scan

__all__ = ["Artifact", "Finding", "Policy", "Report", "ScanError", "Severity", "__version__", "load_policy",
           "scan"]
