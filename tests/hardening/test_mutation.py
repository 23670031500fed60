"""Mutation test: malicious pickle-family fixtures, mutated and re-wrapped, are never reported clean while live.

Every fixture under ``fixtures/generated/*/fail/`` whose payload runs when loaded (decided by
``sandbox_loader.py`` in a throwaway subprocess, never by aisec) is mutated with seeded byte-level changes
(truncate, flip, append or prepend junk) and re-wrapped (gzip, bz2, zip, tar, zip inside gzip). The sandbox
loads each mutant the way any loader could; for every mutant that still writes its canary marker, aisec (in
this process, which never loads anything) must report a finding at high or above, or a scan error.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from aisec.model import Severity
from aisec.scan import scan
from tests.conftest import FIXTURES, REPO

CANARY = b"/tmp/aisec-canary"
MAX_MUTANTS = 300
SANDBOX = Path(__file__).parent / "sandbox_loader.py"


def _private_canary() -> bytes:
    # Same length as the fixtures' path, so pickle string lengths stay valid; private to this run.
    path = f"/tmp/aisec-m{os.getpid() % 100000:05d}".encode()
    assert len(path) == len(CANARY)
    return path


def _zip(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def _tar(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _mutants(bases: dict[str, bytes], rng: random.Random) -> dict[str, bytes]:
    def truncate(d: bytes) -> bytes:
        return d[: rng.randrange(1, len(d))]

    def flip(d: bytes) -> bytes:
        b = bytearray(d)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)

    def append(d: bytes) -> bytes:
        return d + rng.randbytes(rng.randint(1, 64))

    def prepend(d: bytes) -> bytes:
        return rng.randbytes(rng.randint(1, 32)) + d

    wraps: dict[str, Callable[[bytes], bytes]] = {
        "gzip": lambda d: gzip.compress(d, mtime=0),
        "bz2": bz2.compress,
        "zip": lambda d: _zip("model.bin", d),
        "tar": lambda d: _tar("checkpoint/data.pkl", d),
        "zip_gz": lambda d: gzip.compress(_zip("inner/weights.pt", d), mtime=0),
    }
    mutations: dict[str, Callable[[bytes], bytes]] = {"truncate": truncate, "flip": flip, "append": append,
                                                       "prepend": prepend, "none": lambda d: d}
    out: dict[str, bytes] = {}
    per_base = max(1, MAX_MUTANTS // max(1, len(bases)))
    for name, data in sorted(bases.items()):
        for i in range(per_base):
            mutation = rng.choice(sorted(mutations))
            wrap = rng.choice([*sorted(wraps), None, None])
            mutant = mutations[mutation](data)
            if wrap is not None:
                mutant = wraps[wrap](mutant)
            out[f"{name}.{i:02d}.{mutation}.{wrap or 'raw'}"] = mutant
    return dict(list(out.items())[:MAX_MUTANTS])


def _sandbox(folder: Path, canary: Path) -> dict[str, bool]:
    run = subprocess.run([sys.executable, str(SANDBOX), str(folder), str(canary)], capture_output=True, text=True,
                         timeout=600, check=True, cwd=REPO)
    result: dict[str, bool] = json.loads(run.stdout)
    return result


def test_live_mutants_are_never_reported_clean(tmp_path: Path) -> None:
    private = _private_canary()
    bases = {}
    for path in sorted(FIXTURES.glob("*/fail/*")):
        data = path.read_bytes() if path.is_file() else b""
        if CANARY in data and path.suffix not in (".jinja", ".gguf", ".pb", ".py"):
            bases[f"{path.parent.parent.name}_{path.name}"] = data.replace(CANARY, private)
    originals = tmp_path / "originals"
    originals.mkdir()
    for name, data in bases.items():
        (originals / name).write_bytes(data)
    canary = Path(private.decode())
    live_bases = {n for n, live in _sandbox(originals, canary).items() if live}
    assert len(live_bases) >= 15, f"only {len(live_bases)} fixtures are live: the sandbox loader is broken"

    folder = tmp_path / "mutants"
    folder.mkdir()
    mutants = _mutants({n: bases[n] for n in live_bases}, random.Random(20260101))
    for name, data in mutants.items():
        (folder / name).write_bytes(data)
    live = {n for n, is_live in _sandbox(folder, canary).items() if is_live}
    assert not canary.exists()

    report = scan([folder], jobs=0)
    flagged = {Path(f.path).name for f in report.findings if f.severity.rank >= Severity.HIGH.rank}
    flagged |= {Path(e.path).name for e in report.errors}
    missed = sorted(live - flagged)
    print(f"\nmutation test: {len(mutants)} mutants of {len(live_bases)} live fixtures, {len(live)} still live, "
          f"{len(live & flagged)} of them detected ({100 * len(live & flagged) / max(1, len(live)):.1f}%); "
          f"{len(flagged - live)} dead mutants also flagged")
    assert len(live) >= 100
    assert not missed, f"live mutants reported clean: {missed}"
