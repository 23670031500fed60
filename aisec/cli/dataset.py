"""``aisec dataset manifest|check``: write a dataset manifest, and compare files against one later."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aisec.cli.output import EXIT_FINDINGS, EXIT_OK, Verbs, check_writable, error
from aisec.datasets import MANIFEST_NAME as SIBLING_NAME
from aisec.errors import AisecError

EXIT_CHANGED = EXIT_FINDINGS
"""``aisec dataset check``: a file differs from the manifest."""


def configure_manifest_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``manifest`` and ``check`` actions to ``parser`` (the ``aisec dataset`` parser)."""
    sub = parser.add_subparsers(dest="dataset_verb", required=True, metavar="ACTION")
    write = sub.add_parser("manifest", help="record sha256, row count and label distribution of dataset files")
    write.add_argument("path", metavar="DIR", help="a dataset file or a folder of them")
    write.add_argument("-o", "--output", metavar="FILE",
                       help=f"where to write the manifest (default: DIR/{SIBLING_NAME}; '-' for standard output)")
    write.set_defaults(handler=run_manifest)
    check = sub.add_parser("check", help="compare dataset files against a manifest (exit 1 on any change)")
    check.add_argument("path", metavar="DIR", help="a dataset file or a folder of them")
    check.add_argument("--manifest", metavar="FILE", help=f"the manifest (default: DIR/{SIBLING_NAME})")
    check.set_defaults(handler=run_manifest)


def add_verbs(verbs: Verbs) -> None:
    """Register ``aisec dataset``."""
    parser = verbs.add_parser("dataset", help="dataset manifests: record and verify dataset files")
    configure_manifest_parser(parser)


def run_manifest(args: argparse.Namespace) -> int:
    """Run ``manifest`` or ``check``; 0 = written/unchanged, 1 = changed, 2 = error."""
    from aisec.datasets.manifest import build_manifest, check_directory, dump

    root = Path(args.path)
    if not root.exists():
        return error(f"{root}: path does not exist")
    folder = root if root.is_dir() else root.parent
    try:
        if args.dataset_verb == "manifest":
            out = None if args.output == "-" else Path(args.output) if args.output else folder / SIBLING_NAME
            if out is not None:
                check_writable(out, "-o")  # before reading every dataset file, not after
            text = dump(build_manifest(root))
            if out is None:
                sys.stdout.write(text)
            else:
                out.write_text(text, encoding="utf-8")
                print(f"wrote {out}")
            return EXIT_OK
        manifest = Path(args.manifest) if args.manifest else folder / SIBLING_NAME
        changes = check_directory(root, manifest)
    except (AisecError, OSError) as exc:
        return error(str(exc))
    for change in changes:
        print(f"{change.path}: {change.change}: {change.message}")
    if not changes:
        print(f"{root}: matches {manifest}")
    return EXIT_CHANGED if changes else EXIT_OK
