"""``aisec sign`` and ``aisec verify``: OpenSSF Model Signing from the command line (arguments, verdict text)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from aisec.cli.output import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, Verbs, error, stdout
from aisec.errors import AisecError
from aisec.signing.hashing import DEFAULT_SHARD_SIZE, HASH_TYPES

if TYPE_CHECKING:
    from aisec.signing.trust import TrustConfig
    from aisec.signing.verify import VerificationResult

EXIT_VALID = EXIT_OK
EXIT_INVALID = EXIT_FINDINGS
EXIT_NOT_ATTEMPTED = EXIT_ERROR


def add_verbs(verbs: Verbs) -> None:
    """Register ``aisec sign`` and ``aisec verify``."""
    sign = verbs.add_parser("sign", help="sign a model (OpenSSF Model Signing format)",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    configure_sign_parser(sign)
    sign.set_defaults(handler=run_sign)
    verify = verbs.add_parser("verify", help="verify a model's OMS signature, offline",
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog="exit codes: 0 valid; 1 invalid; 2 verification could not be attempted")
    configure_verify_parser(verify)
    verify.set_defaults(handler=run_verify)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_path", metavar="MODEL_PATH", help="model folder or single model file")
    parser.add_argument(
        "--ignore-paths",
        metavar="PATH",
        nargs="+",
        action="extend",
        default=[],
        help="paths to leave out, each covering its subtree: relative to the working directory when that "
        "lands inside the model (as model_signing), else relative to the model root; verify checks every "
        "file the signature lists whatever this says (it only leaves out unsigned files)",
    )
    parser.add_argument(
        "--allow-symlinks",
        action="store_true",
        help="hash the targets of symbolic links that stay inside the model",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="hashing threads (default: CPUs + 2)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def configure_sign_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``aisec sign``."""
    parser.description = (
        "Sign a model in the OpenSSF Model Signing (OMS) format: a Sigstore bundle "
        "v0.3 whose DSSE envelope holds an in-toto statement listing every file's digest."
    )
    _common(parser)
    parser.add_argument(
        "--private-key", required=True, metavar="FILE", help="PEM EC private key (P-256, P-384 or P-521)"
    )
    parser.add_argument("--password-file", metavar="FILE", help="file holding the private key's password (first line)")
    parser.add_argument("--certificate", metavar="FILE", help="signing certificate for the private key (PKI method)")
    parser.add_argument(
        "--certificate-chain",
        metavar="FILE",
        action="append",
        default=[],
        help="intermediate certificates to embed (PEM, repeatable)",
    )
    parser.add_argument(
        "--signature",
        metavar="FILE",
        help="where to write the signature (default: model.sig inside a model folder, beside a single-file model)",
    )
    parser.add_argument(
        "--serialization",
        choices=("files", "shards"),
        default="files",
        help="hash whole files (default) or fixed-size shards",
    )
    parser.add_argument(
        "--shard-size",
        type=int,
        default=DEFAULT_SHARD_SIZE,
        metavar="BYTES",
        help=f"shard size for --serialization shards (default {DEFAULT_SHARD_SIZE})",
    )
    parser.add_argument("--hash-algorithm", choices=HASH_TYPES, default="sha256", help="file hash (default sha256)")


def run_sign(args: argparse.Namespace) -> int:
    """Sign; 0 on success, 2 when signing was impossible."""
    if args.certificate_chain and not args.certificate:
        return error("--certificate-chain needs --certificate")
    from aisec.signing.sign import sign_model  # cryptography loads only for the verb that signs

    password: bytes | None = None
    try:
        if args.password_file:
            lines = Path(args.password_file).read_bytes().splitlines()
            password = lines[0] if lines else b""
        result = sign_model(
            args.model_path,
            private_key=args.private_key,
            password=password,
            certificate=args.certificate,
            certificate_chain=args.certificate_chain,
            signature_path=args.signature,
            method=args.serialization,
            hash_type=args.hash_algorithm,
            shard_size=args.shard_size,
            ignore_paths=args.ignore_paths,
            allow_symlinks=args.allow_symlinks,
            workers=args.workers,
        )
    except OSError as exc:
        return error(f"{exc.filename or ''}: {exc.strerror or exc}")
    except AisecError as exc:
        return error(exc.diagnostics())
    out = stdout(args)
    if args.format == "json":
        json.dump(
            {
                "signature": result.signature_path,
                "method": result.method,
                "signer": result.signer,
                "files": list(result.files),
                "resources": result.resources,
                "ignore_paths": list(result.ignored),
                "root_digest": result.root_digest,
            },
            out,
            indent=2,
        )
        out.write("\n")
    else:
        out.write(
            f"signed {len(result.files)} file(s) ({result.resources} resource(s)) with the "
            f"{result.method} method\n  signer:      {result.signer}\n  root digest: "
            f"sha256:{result.root_digest}\n  ignored:     {', '.join(result.ignored)}\n"
            f"  signature:   {result.signature_path}\n"
        )
    return EXIT_VALID


def configure_verify_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``aisec verify``."""
    parser.description = (
        "Verify a model against an OMS signature, offline. Give exactly one kind of "
        "trust: --public-key; --certificate-chain with --identity; or Sigstore keyless "
        "with --identity and --issuer. Exit 0 valid, 1 invalid, 2 not attempted."
    )
    _common(parser)
    parser.add_argument("--signature", metavar="FILE",
                        help="the OMS signature (bundle) file (default: where aisec sign writes it: model.sig inside "
                             "a model folder, beside a single-file model)")
    parser.add_argument("--public-key", metavar="FILE", help="trusted EC public key (PEM) for key signatures")
    parser.add_argument(
        "--certificate-chain",
        metavar="FILE",
        action="append",
        default=[],
        help="trusted root (and optionally intermediate) certificates, PEM (repeatable)",
    )
    parser.add_argument(
        "--identity",
        metavar="VALUE",
        help="required signer: a SAN (e-mail, URI, DNS), or for PKI also the subject DN or CN",
    )
    parser.add_argument(
        "--issuer",
        metavar="VALUE",
        help="required issuer: the Sigstore OIDC issuer, or for PKI the issuer DN or CN",
    )
    parser.add_argument(
        "--trust-root",
        metavar="FILE",
        help="Sigstore trusted_root.json or client trust config (default: the production "
        "root shipped inside sigstore-python); never fetched from the network",
    )
    parser.add_argument(
        "--unsafe-any-identity",
        action="store_true",
        help="PKI only: accept any certificate that chains to the given roots",
    )
    parser.add_argument(
        "--ignore-unsigned-files",
        action="store_true",
        help="tolerate files that are present but not signed (missing signed files still fail)",
    )


def _trust(args: argparse.Namespace) -> TrustConfig | str:
    from aisec.signing.trust import (
        CertificateTrust,
        KeyTrust,
        SigstoreTrust,
        load_certificates,
        load_public_key,
        load_sigstore_root,
    )

    if args.public_key and args.certificate_chain:
        return "give either --public-key or --certificate-chain, not both"
    if args.public_key:
        if args.identity or args.issuer or args.trust_root:
            return "--identity, --issuer and --trust-root do not apply to --public-key"
        return KeyTrust(public_key=load_public_key(args.public_key), source=f"public key {args.public_key}")
    if args.certificate_chain:
        if args.trust_root:
            return "--trust-root is for Sigstore verification, not --certificate-chain"
        if not args.identity and not args.unsafe_any_identity:
            return "--certificate-chain needs --identity (or, knowingly, --unsafe-any-identity)"
        roots = [c for path in args.certificate_chain for c in load_certificates(path, "trusted certificates")]
        return CertificateTrust(
            roots=tuple(roots),
            identity=args.identity,
            issuer=args.issuer,
            source="certificates " + ", ".join(args.certificate_chain),
        )
    if args.identity or args.issuer:
        if not (args.identity and args.issuer):
            return "Sigstore verification needs both --identity and --issuer"
        root, source = load_sigstore_root(args.trust_root)
        return SigstoreTrust(trusted_root=root, identity=args.identity, issuer=args.issuer, source=source)
    return (
        "no trust material: give --public-key, --certificate-chain with --identity, or --identity "
        "with --issuer (Sigstore)"
    )


def render(result: VerificationResult) -> str:
    """The human verdict."""
    lines: list[str] = []
    count = len(result.discrepancies)
    verdict = "VALID" if result.valid else f"INVALID ({count} discrepanc{'y' if count == 1 else 'ies'})"
    lines.append(f"signature verification: {verdict}")
    lines.append(f"  model:       {result.model_path}")
    lines.append(f"  signature:   {result.signature_path} ({result.method or 'unreadable'} method)")
    lines.append(
        f"  signer:      {result.signer or 'unknown'}"
        + ("" if result.signature_authenticated else " (NOT authenticated)")
    )
    lines.append(f"  trust root:  {result.trust_root}")
    if result.signing_time or result.time_source:
        lines.append(f"  time:        {result.signing_time or '-'} [{result.time_source}]")
    if result.serialization is not None:
        ser = result.serialization
        shard = f", shard size {ser.shard_size}" if ser.shard_size else ""
        lines.append(f"  hashing:     {ser.method}, {ser.hash_type}{shard}")
    lines.append(f"  checked:     {len(result.checked_files)} signed file(s)")
    if result.signed_ignore_paths:
        lines.append(f"  ignored:     {', '.join(result.signed_ignore_paths)} (recorded by the signer)")
    if result.discrepancies:
        lines.append("discrepancies:")
        lines += [f"  - {d}" for d in result.discrepancies]
    if result.not_checked:
        lines.append("not checked:")
        lines += [f"  - {n.path}: {n.why}" for n in result.not_checked]
    if result.warnings:
        lines.append("warnings:")
        lines += [f"  - {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def run_verify(args: argparse.Namespace) -> int:
    """Verify; 0 valid, 1 invalid, 2 when verification could not be attempted."""
    from aisec.signing.sign import default_signature_path
    from aisec.signing.verify import verify_model

    try:
        trust = _trust(args)
        if isinstance(trust, str):
            return error(trust)
        result = verify_model(
            args.model_path,
            signature_path=args.signature or default_signature_path(args.model_path),
            trust=trust,
            ignore_paths=args.ignore_paths,
            ignore_unsigned_files=args.ignore_unsigned_files,
            allow_symlinks=args.allow_symlinks,
            workers=args.workers,
        )
    except AisecError as exc:
        return error(exc.diagnostics())
    out = stdout(args)
    if args.format == "json":
        json.dump(result.to_dict(), out, indent=2)
        out.write("\n")
    else:
        out.write(render(result))
    return EXIT_VALID if result.valid else EXIT_INVALID
