"""Helpers shared by the signing tests: run the CLI functions, and forge bundles with chosen statements."""

from __future__ import annotations

import argparse
import base64
import io
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aisec.cli.signing import configure_sign_parser, configure_verify_parser, run_sign, run_verify
from aisec.signing import dsse
from aisec.signing.bundle import encode_bundle
from aisec.signing.manifest import PREDICATE_TYPE, STATEMENT_TYPE


def cli(command: str, *argv: str | Path) -> tuple[int, str]:
    """Run ``aisec sign``/``aisec verify`` through the exported parser functions; (exit code, stdout)."""
    parser = argparse.ArgumentParser(prog=f"aisec {command}")
    (configure_sign_parser if command == "sign" else configure_verify_parser)(parser)
    args = parser.parse_args([str(a) for a in argv])
    args.stdout = io.StringIO()
    code = (run_sign if command == "sign" else run_verify)(args)
    return code, args.stdout.getvalue()


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def statement(resources: list[dict[str, Any]], *, serialization_: dict[str, Any] | None = None,
              root: str | None = None, predicate_type: str = PREDICATE_TYPE) -> dict[str, Any]:
    """An OMS statement dict; ``root`` defaults to the correct root digest."""
    import hashlib

    if root is None:
        h = hashlib.sha256()
        for r in resources:
            h.update(bytes.fromhex(r["digest"]))
        root = h.hexdigest()
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": "model", "digest": {"sha256": root}}],
        "predicateType": predicate_type,
        "predicate": {
            "serialization": serialization_ or {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
            "resources": resources,
        },
    }


def forge(path: Path, key_path: Path, payload: bytes | dict[str, Any], *, chain: tuple[bytes, ...] = (),
          hint: str | None = "auto") -> Path:
    """Write a correctly signed key (or certificate) bundle around an arbitrary payload."""
    key = load_key(key_path)
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sig = dsse.sign(key, raw)
    use_hint = dsse.key_hint(key.public_key()) if hint == "auto" else hint
    path.write_bytes(encode_bundle(payload=raw, signature=sig, chain_der=chain, key_hint=use_hint))
    return path


def edit_bundle(path: Path, change: Any) -> Path:
    """Apply ``change(doc)`` to the bundle JSON and write it back (the signature is not redone)."""
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


def payload_of(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_bytes())
    result: dict[str, Any] = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    return result
