"""Time aisec sign/verify against model_signing 1.1.1 and ``openssl dgst -sha256`` on one synthetic model.

Run by hand (not part of pytest)::

    .venv/bin/python benchmarks/bench_signing.py --size-gib 2 --files 8 --small-files 2000

Builds a model in a temporary folder (big files plus many small ones), warms the page cache, then times
each tool on the same bytes and prints seconds, throughput and ratios. Nothing is downloaded or executed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

MiB = 1024 * 1024


def build_model(root: Path, size: int, files: int, small_files: int) -> int:
    """Big files of pseudo-random bytes (one random block, varied per chunk) and many 4 KiB files."""
    root.mkdir(parents=True)
    block = bytearray(os.urandom(8 * MiB))
    per_file = size // files
    total = 0
    for index in range(files):
        with open(root / f"model-{index:05d}-of-{files:05d}.safetensors", "wb") as out:
            written = 0
            counter = 0
            while written < per_file:
                block[:8] = (index * 1_000_003 + counter).to_bytes(8, "little")
                chunk = memoryview(block)[: min(len(block), per_file - written)]
                out.write(chunk)
                written += len(chunk)
                counter += 1
            total += written
    small = root / "tokenizer"
    small.mkdir()
    for index in range(small_files):
        data = os.urandom(4096)
        (small / f"piece-{index:05d}.json").write_bytes(data)
        total += len(data)
    return total


def warm(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                while handle.read(16 * MiB):
                    pass


def _check(ok: bool) -> None:
    if not ok:
        raise SystemExit("verification failed during the benchmark")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gib", type=float, default=2.0, help="total size of the big files (GiB)")
    parser.add_argument("--files", type=int, default=8, help="number of big files")
    parser.add_argument("--small-files", type=int, default=2000, help="number of 4 KiB files")
    parser.add_argument("--shard-size", type=int, default=256 * MiB, help="shard size for the shard runs")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds (best time per case is kept)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to build the model (default: temp)")
    parser.add_argument("--skip-model-signing", action="store_true")
    args = parser.parse_args()

    from aisec.signing import KeyTrust, load_public_key, sign_model, verify_model

    work = Path(tempfile.mkdtemp(prefix="aisec-bench-", dir=args.workdir))
    try:
        model = work / "model"
        print(f"building model in {model} ...", flush=True)
        total = build_model(model, int(args.size_gib * 1024 * MiB), args.files, args.small_files)
        key = ec.generate_private_key(ec.SECP256R1())
        priv, pub = work / "key.pem", work / "key.pub"
        priv.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
        warm(model)
        print(f"model: {total / MiB / 1024:.2f} GiB in {args.files} big + {args.small_files} small files; "
              f"{os.cpu_count()} CPUs; best of {args.runs} interleaved round(s), warm page cache\n")
        trust = KeyTrust(public_key=load_public_key(pub), source="bench")
        sig = work / "aisec.sig"
        ms_sig = work / "ms.sig"
        results: dict[str, float] = {}
        cases: list[tuple[str, str, Callable[[], object]]] = []
        files = sorted(str(p) for p in model.rglob("*") if p.is_file())
        if shutil.which("openssl"):
            def openssl() -> None:
                for start in range(0, len(files), 500):
                    subprocess.run(["openssl", "dgst", "-sha256", *files[start:start + 500]],
                                   check=True, stdout=subprocess.DEVNULL)
            cases.append(("openssl", "openssl dgst -sha256 (1 stream)", openssl))
        ms_sig_shards = work / "ms-shards.sig"
        sig_shards = work / "aisec-shards.sig"
        cases += [
            ("aisec sign", "aisec sign (files)", lambda: sign_model(model, private_key=priv, signature_path=sig)),
            ("aisec verify", "aisec verify (files)",
             lambda: _check(verify_model(model, signature_path=sig, trust=trust).valid)),
            ("aisec sign shards", "aisec sign (shards)", lambda: sign_model(
                model, private_key=priv, signature_path=sig_shards, method="shards", shard_size=args.shard_size)),
            ("aisec verify shards", "aisec verify (shards)",
             lambda: _check(verify_model(model, signature_path=sig_shards, trust=trust).valid)),
        ]
        if not args.skip_model_signing:
            from model_signing import hashing, signing, verifying

            def ms_hashing(shards: bool, signature: Path) -> hashing.Config:
                config = hashing.Config().set_ignored_paths(paths=[signature])
                return config.use_shard_serialization(shard_size=args.shard_size) if shards else config

            def ms_sign(shards: bool) -> None:
                target = ms_sig_shards if shards else ms_sig
                signing.Config().use_elliptic_key_signer(private_key=priv).set_hashing_config(
                    ms_hashing(shards, target)).sign(model, target)

            def ms_verify(shards: bool) -> None:
                config = verifying.Config().use_elliptic_key_verifier(public_key=pub)
                if shards:
                    # model_signing 1.1.1 records shard_size as a float (protobuf Struct) and then cannot
                    # guess its own sharded config back (range() of a float), so pass it explicitly.
                    config.set_hashing_config(ms_hashing(True, ms_sig_shards))
                config.verify(model, ms_sig_shards if shards else ms_sig)

            cases += [
                ("ms sign", "model_signing sign (files)", lambda: ms_sign(False)),
                ("ms verify", "model_signing verify (files)", lambda: ms_verify(False)),
                ("ms sign shards", "model_signing sign (shards)", lambda: ms_sign(True)),
                ("ms verify shards", "model_signing verify (shards)", lambda: ms_verify(True)),
            ]
        # Rounds interleave the tools so background load hits them alike; the best time per case is kept.
        for round_index in range(args.runs):
            for key_name, _label, fn in cases:
                start = time.perf_counter()
                fn()
                elapsed = time.perf_counter() - start
                results[key_name] = min(results.get(key_name, float("inf")), elapsed)
            print(f"  round {round_index + 1}/{args.runs} done", flush=True)
        for key_name, label, _fn in cases:
            print(f"  {label:<38} {results[key_name]:8.2f} s")
        if not args.skip_model_signing:
            # Cross-check: each tool verifies the other's signature.
            verifying.Config().use_elliptic_key_verifier(public_key=pub).verify(model, sig)
            _check(verify_model(model, signature_path=ms_sig, trust=trust).valid)

        print("\nthroughput and ratios (lower time is better):")
        for name, seconds in results.items():
            line = f"  {name:<22} {total / MiB / seconds:8.0f} MiB/s"
            if "openssl" in results and name != "openssl":
                line += f"   {seconds / results['openssl']:5.2f}x openssl"
            twin = name.replace("aisec", "ms")
            if name.startswith("aisec") and twin in results:
                line += f"   {results[twin] / seconds:5.2f}x faster than model_signing"
            print(line)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
