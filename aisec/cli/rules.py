"""``aisec rules list|show|validate``: what the rules and policies are, and whether a folder of them loads."""

from __future__ import annotations

import argparse
from pathlib import Path

from aisec.cli.output import EXIT_OK, Verbs
from aisec.errors import AisecError


def add_verbs(verbs: Verbs) -> None:
    """Register ``aisec rules``."""
    rules = verbs.add_parser("rules", help="list, show and validate rules and policies")
    sub = rules.add_subparsers(dest="rules_verb", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="list the rules a policy enables")
    listing.add_argument("--policy", metavar="NAME|FILE",
                         help="policy to list (default: the one aisec scan would use here: --policy, AISEC_POLICY, "
                              "the project file, else default; 'audit' lists every rule)")
    listing.add_argument("--rules", metavar="DIR", help="extra rules folder (default: as aisec scan)")
    listing.set_defaults(handler=run_list)
    show = sub.add_parser("show", help="show one rule in full")
    show.add_argument("rule_id", metavar="ID", help="a rule id such as AISEC-MDL-001 (any case)")
    show.add_argument("--rules", metavar="DIR", help="extra rules folder")
    show.set_defaults(handler=run_show)
    validate = sub.add_parser("validate", help="validate a folder of rules and policies")
    validate.add_argument("directory", metavar="DIR", help="a folder of rule and policy YAML files")
    validate.set_defaults(handler=run_validate)


def run_list(args: argparse.Namespace) -> int:
    """``aisec rules list``."""
    from aisec.config import resolve
    from aisec.scan import load_configuration

    config = resolve(cli={"policy": args.policy, "rules": args.rules})
    chosen = config.settings["policy"]
    policy, _rules, bound = load_configuration(chosen.value or "default", config.value("rules"))
    which = "" if chosen.source.startswith("command line") else f" (what aisec scan uses here; from {chosen.source})"
    print(f"policy {policy.name}{which}: {len(bound)} rules enabled, fail on {policy.fail_on.value} and above")
    for item in bound:
        d = item.descriptor
        print(f"{d.id}  {d.severity.value:<8}  {d.name}  {d.short_description}")
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    """``aisec rules show ID``."""
    from aisec.scan import load_configuration

    _policy, rules, _bound = load_configuration("audit", args.rules)
    for rule in rules:
        if rule.id.casefold() == args.rule_id.strip().casefold():
            d = rule.descriptor
            # help_text is the full description followed by the remediation (SARIF's help): print that tail once.
            remedy = d.help_text.removeprefix(d.full_description).strip()
            print(f"{d.id}  {d.name}\nseverity: {d.severity.value}   confidence: {d.confidence.value}\n"
                  f"cwe: {', '.join(d.cwe) or '-'}   tags: {', '.join(d.tags)}\n\n{d.short_description}\n\n"
                  f"{d.full_description}\n\n{remedy}\n\nsource: {rule.source}")
            for ref in d.references:
                print(f"reference: {ref}")
            return EXIT_OK
    raise AisecError(f"no rule with id {args.rule_id!r}")


def run_validate(args: argparse.Namespace) -> int:
    """``aisec rules validate DIR``: rules and policies in DIR must all load."""
    from aisec.validate import validate_directory

    summary = validate_directory(Path(args.directory))
    print(summary)
    return EXIT_OK
