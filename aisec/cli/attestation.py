"""``aisec verify-attestation``: check a scan attestation's signature, files, report, policy and verdict."""

from __future__ import annotations

import argparse
import json

from aisec.cli.output import EXIT_FINDINGS, EXIT_OK, Verbs

EXIT_INVALID = EXIT_FINDINGS
"""The attestation does not hold."""


def add_verbs(verbs: Verbs) -> None:
    """Register ``aisec verify-attestation``."""
    verify = verbs.add_parser(
        "verify-attestation", help="verify a scan attestation: signature, files, report, policy and verdict",
        epilog="exit codes: 0 valid; 1 invalid; 2 verification could not be attempted")
    verify.add_argument("attestation", metavar="ATTESTATION", help="the .intoto.jsonl file aisec scan --attest wrote")
    verify.add_argument("paths", nargs="+", metavar="PATH", help="the files and folders to check against it")
    verify.add_argument("--public-key", required=True, metavar="KEY", help="PEM public key (EC) of the signer")
    verify.add_argument("--report", metavar="SARIF", help="check this SARIF report is the one attested")
    verify.add_argument("--policy", metavar="NAME|FILE", help="check the scan ran under this policy")
    verify.add_argument("--rules", metavar="DIR", help="extra rules folder the scan used (with --policy)")
    verify.add_argument("--any-verdict", action="store_true",
                        help="accept a failing or incomplete scan (default: the attested verdict must be pass)")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=run_verify_attestation)


def run_verify_attestation(args: argparse.Namespace) -> int:
    """``aisec verify-attestation``."""
    from aisec.attest import policy_digest, verify_attestation

    expected = policy_digest(args.policy, args.rules) if args.policy else None
    check = verify_attestation(args.attestation, public_key=args.public_key, paths=args.paths, report=args.report,
                               expected_policy=expected, require_pass=not args.any_verdict)
    predicate = check.statement.get("predicate", {}) if isinstance(check.statement, dict) else {}
    if args.json:
        print(json.dumps({"valid": check.ok, "problems": list(check.problems), "notes": list(check.notes),
                          "predicate": predicate}, indent=2))
    else:
        verdict = predicate.get("verdict", {}) if isinstance(predicate, dict) else {}
        summary = (f"policy {predicate.get('policy', {}).get('name')}, verdict {verdict.get('result')}, "
                   f"{len(check.statement.get('subject', []))} subjects") if predicate else ""
        print(f"{'VALID' if check.ok else 'INVALID'}: {args.attestation}" + (f" ({summary})" if summary else ""))
        for problem in check.problems:
            print(f"  problem: {problem}")
        for note in check.notes:
            print(f"  note: {note}")
    return EXIT_OK if check.ok else EXIT_INVALID
