"""``aisec config show``: the effective settings and where each value came from."""

from __future__ import annotations

import argparse
import json
import sys

from aisec.cli.options import add_column_options, column_flags
from aisec.cli.output import EXIT_OK, Verbs
from aisec.config import FLAGS
from aisec.errors import ConfigError
from aisec.model import Severity


def add_verbs(verbs: Verbs) -> None:
    """Register ``aisec config``."""
    config = verbs.add_parser("config", help="show the effective configuration and where each value came from")
    sub = config.add_subparsers(dest="config_verb", required=True, metavar="ACTION")
    show = sub.add_parser("show", help="print the effective settings (flag > AISEC_* > project file > default)")
    show.add_argument("paths", nargs="*", metavar="PATH", help="the paths a scan would get (to report ignored "
                                                               "project files inside them)")
    show.add_argument("--config", metavar="FILE", help="project file to read instead of the working directory's")
    for key, flag in FLAGS.items():
        if key not in ("label_column", "text_columns"):
            show.add_argument(flag, dest=key, metavar=key.upper().replace("_", "-"), help=f"as on aisec scan ({key})")
    add_column_options(show)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=run_show)


def run_show(args: argparse.Namespace) -> int:
    """``aisec config show``."""
    from aisec.config import as_document, describe, resolve

    cli = {key: getattr(args, key) for key in FLAGS}
    cli.update(column_flags(args))
    for key in ("fail_on", "min_severity"):
        if cli[key] is not None:
            try:
                cli[key] = Severity.parse(cli[key]).value
            except ValueError as exc:
                raise ConfigError(str(exc), source=f"command line ({FLAGS[key]})") from None
    from aisec.engine.policy import load_policy
    from aisec.paths import builtin_policies_dir

    config = resolve(cli=cli, explicit=args.config, targets=args.paths)
    policy = load_policy(config.value("policy") or "default", policies_dir=builtin_policies_dir())
    from_policy = {"policy_fail_on": policy.fail_on.value, "policy_min_severity": policy.min_severity.value}
    if args.json:
        print(json.dumps(as_document(config, **from_policy), indent=2))
    else:
        sys.stdout.write(describe(config, **from_policy))
    return EXIT_OK
