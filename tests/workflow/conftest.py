"""Shared helpers for the CI-gate and audit-workflow tests: isolated working directory, copies, keys, a CLI runner."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aisec.cli import main
from tests.conftest import fixture_path

OS_SYSTEM_P2 = fixture_path("AISEC-MDL-001", "fail", "os_system_p2.pkl")
OS_SYSTEM_P4 = fixture_path("AISEC-MDL-001", "fail", "os_system_p4.pkl")
SUBPROCESS = fixture_path("AISEC-MDL-001", "fail", "subprocess_p4.bin")
UNKNOWN_IMPORT = fixture_path("AISEC-MDL-003", "fail", "unknown_import.pkl")  # medium
BENIGN = fixture_path("AISEC-MDL-001", "pass", "state_dict.pkl")
TRUNCATED = fixture_path("AISEC-GEN-001", "fail", "truncated.pkl")


def put(src: Path, dest: Path) -> Path:
    """Copy a fixture to ``dest`` (creating folders)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


Run = Callable[..., int]


@pytest.fixture
def aisec(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run the CLI in-process (scans without worker processes); return (exit code, stdout, stderr)."""
    def run(*argv: str) -> tuple[int, str, str]:
        args = list(argv)
        if args and args[0] == "scan" and "--jobs" not in args:
            args[1:1] = ["--jobs", "0", "--quiet"]
        code = main(args)
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def read_json(path: Path) -> Any:
    """Parse a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def make_key(folder: Path, name: str = "key", curve: ec.EllipticCurve | None = None) -> tuple[Path, Path]:
    """A fresh EC key pair as PEM files: (private, public)."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    private = folder / f"{name}.pem"
    public = folder / f"{name}.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public
