"""``aisec sign`` / ``aisec verify`` through the exported parser functions: options, output, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import DATA, LEAF_EMAIL, PKI, SIGSTORE_IDENTITY, SIGSTORE_ISSUER, copy_sample
from .helpers import cli, payload_of

Keys = dict[str, tuple[Path, Path]]


def test_sign_then_verify_with_key(model: Path, ec_keys: Keys) -> None:
    code, out = cli("sign", model, "--private-key", ec_keys["p384"][0])
    assert code == 0, out
    assert "signed 5 file(s)" in out
    sig = model / "model.sig"
    assert sig.is_file()
    assert "model.sig" in payload_of(sig)["predicate"]["serialization"]["ignore_paths"]
    code, out = cli("verify", model, "--signature", sig, "--public-key", ec_keys["p384"][1])
    assert code == 0, out
    assert out.startswith("signature verification: VALID")
    assert "model.sig: the signature file" in out
    (model / "config.json").write_text("{}")
    code, out = cli("verify", model, "--signature", sig, "--public-key", ec_keys["p384"][1])
    assert code == 1
    assert "INVALID (1 discrepancy)" in out and "file-modified [config.json]" in out


def test_sign_options_shards_ignore_paths_json(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = tmp_path / "out.sig"
    code, out = cli("sign", model, "--private-key", ec_keys["p256"][0], "--signature", sig,
                    "--serialization", "shards", "--shard-size", "65536", "--hash-algorithm", "sha256",
                    "--ignore-paths", "nested", "empty", "--format", "json")
    assert code == 0
    info = json.loads(out)
    assert info["method"] == "key" and info["resources"] == 10  # 8 weight shards, config, notes
    serialization = payload_of(sig)["predicate"]["serialization"]
    assert serialization["method"] == "shards" and serialization["shard_size"] == 65536
    assert {"nested", "empty"} <= set(serialization["ignore_paths"])
    code, out = cli("verify", model, "--signature", sig, "--public-key", ec_keys["p256"][1], "--format", "json")
    verdict = json.loads(out)
    assert code == 0 and verdict["valid"] is True
    assert {n["path"] for n in verdict["not_checked"]} == {".git", ".gitattributes", "nested", "empty"}


def test_verify_certificate_cli(model: Path, tmp_path: Path, pki: PKI) -> None:
    sig = tmp_path / "c.sig"
    code, _ = cli("sign", model, "--private-key", pki.good.key, "--certificate", pki.good.cert,
                  "--certificate-chain", pki.good.chain, "--signature", sig)
    assert code == 0
    code, out = cli("verify", model, "--signature", sig, "--certificate-chain", pki.root, "--identity", LEAF_EMAIL)
    assert code == 0, out
    code, out = cli("verify", model, "--signature", sig, "--certificate-chain", pki.other_root,
                    "--identity", LEAF_EMAIL)
    assert code == 1 and "chain-not-rooted" in out
    # An identity constraint is required unless waived loudly.
    code, _ = cli("verify", model, "--signature", sig, "--certificate-chain", pki.root)
    assert code == 2
    code, out = cli("verify", model, "--signature", sig, "--certificate-chain", pki.root, "--unsafe-any-identity")
    assert code == 0 and "no identity constraint" in out


def test_verify_sigstore_cli(tmp_path: Path) -> None:
    folder = DATA / "v1.1.0-sigstore"
    code, out = cli("verify", folder, "--signature", folder / "model.sig", "--identity", SIGSTORE_IDENTITY,
                    "--issuer", SIGSTORE_ISSUER)
    assert code == 0, out
    assert f"signer:      {SIGSTORE_IDENTITY}" in out
    code, out = cli("verify", folder, "--signature", folder / "model.sig", "--identity", "x@example.com",
                    "--issuer", SIGSTORE_ISSUER)
    assert code == 1 and "identity-mismatch" in out and "NOT authenticated" in out
    bad_root = tmp_path / "root.json"
    bad_root.write_text("{}")
    code, _ = cli("verify", folder, "--signature", folder / "model.sig", "--identity", SIGSTORE_IDENTITY,
                  "--issuer", SIGSTORE_ISSUER, "--trust-root", bad_root)
    assert code == 2


@pytest.mark.parametrize("argv", [
    ["--public-key", "{pub}"],  # signature missing: not attempted
    ["--signature", "{sig}"],  # no trust material
    ["--signature", "{sig}", "--identity", "a@b"],  # Sigstore needs the issuer too
    ["--signature", "{sig}", "--public-key", "{pub}", "--certificate-chain", "{pub}"],
    ["--signature", "{model}/nope.sig", "--public-key", "{pub}"],  # unreadable signature
    ["--signature", "{sig}", "--public-key", "{model}/config.json"],  # not a key
])
def test_verify_not_attempted_exit_2(model: Path, tmp_path: Path, ec_keys: Keys, argv: list[str]) -> None:
    sig = tmp_path / "s.sig"
    assert cli("sign", model, "--private-key", ec_keys["p256"][0], "--signature", sig)[0] == 0
    args = [a.format(pub=ec_keys["p256"][1], sig=sig, model=model) for a in argv]
    try:
        code, _ = cli("verify", model, *args)
    except SystemExit as exc:  # argparse rejects a missing required option
        code = int(exc.code or 0)
    assert code == 2


def test_verify_malformed_signature_exit_1(model: Path, tmp_path: Path, ec_keys: Keys) -> None:
    sig = tmp_path / "s.sig"
    sig.write_text('{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"')
    code, out = cli("verify", model, "--signature", sig, "--public-key", ec_keys["p256"][1])
    assert code == 1 and "malformed-bundle" in out


def test_sign_errors_exit_2(model: Path, tmp_path: Path, ec_keys: Keys, ed25519_key: Path, pki: PKI) -> None:
    assert cli("sign", model, "--private-key", ed25519_key)[0] == 2
    assert cli("sign", model, "--private-key", ec_keys["p256"][0], "--certificate", pki.good.cert)[0] == 2
    assert cli("sign", tmp_path / "missing", "--private-key", ec_keys["p256"][0])[0] == 2
    assert cli("sign", model, "--private-key", ec_keys["p256"][0], "--ignore-paths", "../x")[0] == 2
    assert not (model / "model.sig").exists()


def test_encrypted_private_key(model: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "enc.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(b"s3cret")))
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    assert cli("sign", model, "--private-key", path)[0] == 2
    assert cli("sign", model, "--private-key", path, "--password-file", pw)[0] == 0


def test_python_m_aisec(model: Path, ec_keys: Keys, tmp_path: Path) -> None:
    """Through the real entry point (``aisec/cli/main.py`` wires the subcommands to aisec.cli.signing)."""
    sig = tmp_path / "m.sig"
    run = subprocess.run([sys.executable, "-m", "aisec", "sign", str(model), "--private-key",
                          str(ec_keys["p256"][0]), "--signature", str(sig)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    verify = [sys.executable, "-m", "aisec", "verify", str(model), "--signature", str(sig), "--public-key",
              str(ec_keys["p256"][1])]
    assert subprocess.run(verify, capture_output=True).returncode == 0
    (model / "config.json").write_text("{}")
    invalid = subprocess.run(verify, capture_output=True, text=True)
    assert invalid.returncode == 1 and "file-modified [config.json]" in invalid.stdout


def test_real_samples_through_cli(tmp_path: Path) -> None:
    folder = copy_sample("v1.1.0-elliptic-key", tmp_path)
    key = DATA / "keys" / "signing-key-pub.pem"
    assert cli("verify", folder, "--signature", folder / "model.sig", "--public-key", key)[0] == 0
    (folder / "signme-1").write_bytes(b"x")
    assert cli("verify", folder, "--signature", folder / "model.sig", "--public-key", key)[0] == 1


def test_ignore_paths_relative_to_cwd_or_model_root(model: Path, tmp_path: Path, ec_keys: Keys,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(model.parent)
    sig = tmp_path / "i.sig"
    # "model/nested" lands inside the model from the working directory (model_signing's meaning);
    # "empty" does not, so it is taken relative to the model root.
    assert cli("sign", "model", "--private-key", ec_keys["p256"][0], "--signature", sig,
               "--ignore-paths", "model/nested", "empty")[0] == 0
    ignored = set(payload_of(sig)["predicate"]["serialization"]["ignore_paths"])
    assert {"nested", "empty"} <= ignored
    assert "model/nested" not in ignored
