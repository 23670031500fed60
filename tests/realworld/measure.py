"""Count corpus files at medium+ and high+ under a policy: ``python -m tests.realworld.measure [POLICY]``."""

from __future__ import annotations

import sys
from pathlib import Path

from aisec.model import Severity
from aisec.scan import scan

CORPUS = Path(__file__).resolve().parent / "corpus"


def main() -> None:
    policy = sys.argv[1] if len(sys.argv) > 1 else "default"
    report = scan([CORPUS], policy=policy, min_severity=Severity.INFO, jobs=0)
    worst: dict[str, Severity] = {}
    for finding in report.findings:
        old = worst.get(finding.path)
        if old is None or finding.severity.rank > old.rank:
            worst[finding.path] = finding.severity
    files = sum(1 for p in CORPUS.rglob("*") if p.is_file())
    medium = sorted(p for p, s in worst.items() if s.rank >= Severity.MEDIUM.rank)
    high = sorted(p for p, s in worst.items() if s.rank >= Severity.HIGH.rank)
    print(f"policy {policy}: {files} files; {len(medium)} at medium+, {len(high)} at high+; "
          f"{len(report.errors)} scan errors")
    for path in medium:
        print(f"  {worst[path].value:8} {Path(path).resolve().relative_to(CORPUS)}")


if __name__ == "__main__":
    main()
