"""Measure what the non-pickle analyzers read and how long they take on large synthetic artifacts.

Usage: ``python benchmarks/bench_formats.py [WORKDIR]``. Files are built in WORKDIR (sparse where possible, so a
1.5 GiB ONNX model costs little disk) and removed afterwards. Prints one line per case: size, bytes read, seconds.
"""

from __future__ import annotations

import json
import struct
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "fixtures"))

import gen_flax  # noqa: E402
import gen_formats  # noqa: E402
import gen_graphs as gg  # noqa: E402
import proto_ops as po  # noqa: E402

from aisec.analyzers import analyzers_for  # noqa: E402
from aisec.analyzers.base import AnalysisContext  # noqa: E402
from aisec.limits import Limits  # noqa: E402
from aisec.sniff import SNIFF_BYTES, sniff  # noqa: E402
from aisec.source import FileSource  # noqa: E402

GiB = 1 << 30


def _onnx_sparse(path: Path, tensor_bytes: int) -> None:
    """An ONNX model whose one initializer holds ``tensor_bytes`` of inline raw_data (written sparse)."""
    floats = tensor_bytes // 4
    head = po.packed(1, [floats]) + po.vfield(2, 1) + po.lfield(8, "w")
    raw_tag = po.varint(9 << 3 | 2) + po.varint(tensor_bytes)
    tensor_len = len(head) + len(raw_tag) + tensor_bytes
    init = po.varint(5 << 3 | 2) + po.varint(tensor_len) + head + raw_tag
    node = po.lfield(1, gg.onnx_node("Relu", ["w"], ["y"]))
    graph_len = len(node) + len(init) + tensor_bytes
    prefix = po.vfield(1, 9) + po.lfield(8, po.vfield(2, 17)) + po.varint(7 << 3 | 2) + po.varint(graph_len) + node \
        + init
    with open(path, "wb") as handle:
        handle.write(prefix)
        handle.seek(len(prefix) + tensor_bytes - 1)
        handle.write(b"\0")


def _graph(path: Path, nodes: int) -> None:
    body = [gg.node(f"layer{i // 8}/op{i}", "MatMul" if i % 3 else "Relu", "x") for i in range(nodes)]
    path.write_bytes(gg.saved_model(gg.graph(body, [gg.function("__inference__traced_save_1",
                                                                gg.node("s", "SaveV2"))])))


def _gguf(path: Path, vocab: int) -> None:
    tokens = [f"tok{i}" for i in range(vocab)]
    path.write_bytes(gen_formats.gguf_model(gen_formats.ct.LLAMA3, [("tokenizer.ggml.merges", tokens)]))


def _safetensors(path: Path, tensors: int) -> None:
    header = {f"layer.{i}.weight": {"dtype": "F16", "shape": [64, 64], "data_offsets": [i * 8192, (i + 1) * 8192]}
              for i in range(tensors)}
    raw = json.dumps(header).encode()
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        handle.seek(8 + len(raw) + tensors * 8192 - 1)
        handle.write(b"\0")


def _flax(path: Path, layers: int) -> None:
    """A flax train state as ``flax.serialization.to_bytes`` writes it: ``layers`` 512x1024 float32 kernels."""
    import msgpack

    tree = {"params": {f"layer_{i}": {"kernel": gen_flax._ndarray((512, 1024)), "bias": gen_flax._ndarray((1024,))}
                       for i in range(layers)}, "step": 1}
    path.write_bytes(msgpack.packb(tree, use_bin_type=True))


def measure(path: Path) -> tuple[int, int, float, int]:
    """(file size, bytes read by analyzers, seconds, facts) for one file, analyzed as the scanner would."""
    with open(path, "rb") as handle:
        kind = sniff(handle.read(SNIFF_BYTES), name=path.name)
    context = AnalysisContext(path=path.name, limits=Limits(), fs_path=path)
    start = time.perf_counter()
    with FileSource(path, budget=Limits().max_read_bytes) as source:
        facts = [f for a in analyzers_for(kind) for f in a.analyze(source, context)]
        read = source.bytes_read
    elapsed = time.perf_counter() - start
    assert not context.errors, context.errors
    return path.stat().st_size, read, elapsed, len(facts)


def main() -> None:
    """Build each case, measure it, print a table."""
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="aisec-bench-"))
    cases = [("onnx 1.5 GiB inline tensor", "big.onnx", lambda p: _onnx_sparse(p, 3 * GiB // 2)),
             ("savedmodel 200k nodes", "saved_model.pb", lambda p: _graph(p, 200_000)),
             ("gguf 150k-entry string array", "vocab.gguf", lambda p: _gguf(p, 150_000)),
             ("safetensors 20k tensors (160 MiB data)", "w.safetensors", lambda p: _safetensors(p, 20_000)),
             ("flax msgpack 48 x 2 MiB tensors", "state.msgpack", lambda p: _flax(p, 48))]
    for label, name, build in cases:
        path = work / name
        build(path)
        size, read, elapsed, facts = measure(path)
        print(f"{label:40s} size={size:>13,d} B  read={read:>11,d} B  {elapsed:6.2f} s  facts={facts}")
        path.unlink()


if __name__ == "__main__":
    main()
