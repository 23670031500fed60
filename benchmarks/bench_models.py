"""Benchmark aisec against modelscan, picklescan and fickling on large checkpoints (run by hand, not by pytest).

    .venv/bin/python benchmarks/bench_models.py [--gb 2] [--files 300] [--items 550000] [--workdir DIR]

Builds, in a scratch folder: a PyTorch-style zip checkpoint with a small pickle and ``--gb`` GB of stored
tensor blobs (written sparsely, so it is fast and takes little disk), a model folder with many small files,
and a pickle of 1M+ opcodes that ends in an os.system call. Each tool runs as a child process under
``/usr/bin/time -v``; the table shows wall time, peak RSS and each tool's wall-time ratio to aisec.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "fixtures"))

import pickle_ops as ops  # noqa: E402

BIN = Path(sys.executable).parent
CHUNK = 64 * 1024 * 1024


def _crc_of_zeros(size: int) -> int:
    crc = 0
    zeros = bytes(min(size, CHUNK))
    left = size
    while left:
        n = min(left, len(zeros))
        crc = zlib.crc32(zeros[:n] if n != len(zeros) else zeros, crc)
        left -= n
    return crc


def write_sparse_checkpoint(path: Path, total_bytes: int, blobs: int = 8) -> None:
    """A torch.save-style zip: archive/data.pkl (small) + ``blobs`` stored zero tensors, holes on disk."""
    blob_size = total_bytes // blobs
    tensors = [(str(i), ops.rebuild_tensor_ops(key=str(i), numel=min(blob_size // 4, 2**31 - 1),
                                               size=(min(blob_size // 4, 2**31 - 1),), stride=(1,)))
               for i in range(blobs)]
    data_pkl = ops.state_dict_pickle([(f"layer{i}.weight", t) for i, (_, t) in enumerate(tensors)])
    members = [("archive/data.pkl", data_pkl, None), ("archive/byteorder", b"little", None)]
    members += [(f"archive/data/{i}", None, blob_size) for i in range(blobs)]
    members += [("archive/version", b"3\n", None)]
    zero_crc = _crc_of_zeros(blob_size)
    central = bytearray()
    with open(path, "wb") as handle:
        for name, data, size in members:
            offset = handle.tell()
            raw = name.encode()
            length = len(data) if data is not None else int(size or 0)
            crc = zlib.crc32(data) if data is not None else zero_crc
            handle.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0x21, crc, length, length,
                                     len(raw), 0) + raw)
            if data is not None:
                handle.write(data)
            else:
                handle.seek(length, os.SEEK_CUR)  # a hole: reads back as zeros, costs no disk
            central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, crc, length,
                                   length, len(raw), 0, 0, 0, 0, 0, offset) + raw
        cd_offset = handle.tell()
        handle.write(central)
        handle.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central),
                                 cd_offset, 0))


def write_model_folder(folder: Path, files: int) -> None:
    """A folder of many small model files: state-dict pickles, numpy arrays, configs."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "bench"}')
    sd = ops.state_dict_pickle([("w", ops.rebuild_tensor_ops())])
    for i in range(files):
        (folder / f"shard_{i:04d}.bin").write_bytes(sd)


def write_many_opcodes(path: Path, items: int) -> None:
    """A protocol 4 pickle: a list of ``items`` memoized strings, then an os.system call (~2 opcodes/item)."""
    with open(path, "wb") as handle:
        handle.write(ops.proto(4) + b"]\x94")
        for start in range(0, items, 1000):
            parts = [b"("]
            for i in range(start, min(start + 1000, items)):
                text = f"k{i}".encode()
                parts.append(b"\x8c" + bytes([len(text)]) + text + b"\x94")
            parts.append(b"e")
            handle.write(b"".join(parts))
        handle.write(ops.system_call_p4("true")[2:-1] + b"a.")


def tools(target: Path) -> dict[str, list[str]]:
    """The command line of each scanner for ``target``."""
    fickling = [str(BIN / "fickling"), "--check-safety", str(target)]
    return {
        "aisec": [str(BIN / "aisec"), "scan", "-j", "0", "-q", "-f", "json", "-o", os.devnull, str(target)],
        "modelscan": [str(BIN / "modelscan"), "scan", "-p", str(target)],
        "picklescan": [str(BIN / "picklescan"), "-p", str(target)],
        "fickling": fickling,
    }


def run(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in MiB, exit code (of the child, measured by /usr/bin/time -v)."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    rss = int(match.group(1)) // 1024 if match else -1
    code = re.search(r"Exit status: (\d+)", proc.stderr)
    return wall, rss, int(code.group(1)) if code else proc.returncode


def in_process(target: Path) -> str:
    """aisec's own cost without interpreter start-up: wall time and bytes read (Linux /proc/self/io)."""
    code = ("import time; from aisec.scan import scan\n"
            "def rchar():\n"
            "    return int([ln for ln in open('/proc/self/io') if ln.startswith('rchar')][0].split()[1])\n"
            f"scan([{str(REPO / 'README.md')!r}], jobs=0)\n"
            "r0 = rchar(); t = time.perf_counter()\n"
            f"scan([{str(target)!r}], jobs=0)\n"
            "print(f'{time.perf_counter() - t:.3f} s, {(rchar() - r0) / 1e6:.2f} MB read')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
    return proc.stdout.strip() or proc.stderr.strip()[-200:]


def bench(label: str, target: Path) -> None:
    """Run every tool on ``target`` and print one table."""
    print(f"\n== {label}: {target.name} ({_size(target)})")
    print(f"{'tool':<12}{'wall s':>10}{'peak MiB':>10}{'exit':>6}{'x aisec':>9}")
    base = None
    for name, cmd in tools(target).items():
        if name == "fickling" and target.is_dir():
            print(f"{name:<12}{'n/a (single files only)':>35}")
            continue
        wall, rss, code = run(cmd)
        base = base or wall
        print(f"{name:<12}{wall:>10.2f}{rss:>10}{code:>6}{wall / base:>9.2f}")
    print(f"aisec in-process (warm, no start-up): {in_process(target)}")


def _size(path: Path) -> str:
    if path.is_dir():
        total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return f"{sum(1 for _ in path.rglob('*'))} files, {total / 1e6:.1f} MB"
    return f"{path.stat().st_size / 1e9:.2f} GB apparent, {path.stat().st_blocks * 512 / 1e6:.1f} MB on disk"


def main() -> None:
    """Build the inputs, run the tools, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=2.0, help="tensor bytes in the checkpoint (GB)")
    parser.add_argument("--files", type=int, default=300, help="files in the model folder")
    parser.add_argument("--items", type=int, default=550_000, help="list items in the big pickle (~2 opcodes each)")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp folder)")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="aisec-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        ckpt = work / "checkpoint.pt"
        write_sparse_checkpoint(ckpt, int(args.gb * 1e9))
        small = work / "small_checkpoint.pt"
        write_sparse_checkpoint(small, 8 * 1024 * 1024)
        folder = work / "model_folder"
        write_model_folder(folder, args.files)
        big = work / "many_opcodes.pkl"
        write_many_opcodes(big, args.items)
        print(f"python {sys.version.split()[0]}, pickle protocol {pickle.HIGHEST_PROTOCOL}, workdir {work}")
        empty = work / "empty.txt"
        empty.write_text("x\n")
        wall, rss, _ = run(tools(empty)["aisec"])
        print(f"aisec start-up (a 2-byte text file): {wall:.2f} s, {rss} MiB peak")
        bench("checkpoint (small pickle, large tensors)", ckpt)
        bench("same pickle, 8 MiB of tensors", small)
        bench("model folder", folder)
        bench(f"pickle with ~{2 * args.items + 10} opcodes", big)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
