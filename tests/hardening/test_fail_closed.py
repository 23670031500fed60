"""Regressions for fail-open bugs: input a loader accepts but aisec refused to parse must never scan clean."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from aisec.scan import scan

LAMBDA = {"class_name": "Lambda", "config": {"name": "l", "function": {"class_name": "__lambda__",
                                                                        "config": {"code": "YQ=="}}}}


def _wrap(layer: object, depth: int) -> object:
    value: object = [layer]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("name, text", [
    # json.loads (what Keras uses) keeps the last duplicate; aisec's strict parser refuses the file.
    ("duplicate_key", '{"class_name": "Sequential", "config": {"name": "s", "name": "t", "layers": ['
     + json.dumps(LAMBDA) + "]}}"),
    # Deeper than max_json_depth (256) but well within json.loads' recursion limit.
    ("deep", json.dumps({"class_name": "Sequential", "config": {"layers": _wrap(LAMBDA, 300)}})),
])
def test_keras_json_the_loader_accepts_is_never_clean(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / f"{name}.json"
    path.write_text(text)
    assert json.loads(text)  # the loader's view: valid
    report = scan([path], jobs=0)
    assert not report.trustworthy
    assert any(f.rule_id == "AISEC-GEN-001" for f in report.findings)


def test_json_that_is_not_keras_is_still_ignored(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"class_name": "x", "a": [1, 2')
    report = scan([path], jobs=0)
    assert report.trustworthy and not report.findings


CMD = "mkdir -p /tmp/aisec-canary && echo sniff > /tmp/aisec-canary/sniff"  # inert; never loaded here


@pytest.mark.parametrize("name, data", [
    # "(S" is also a valid zlib header: the file was sniffed as zlib, failed to inflate, and passed clean.
    ("zlib_lookalike.pkl", f"(S'{CMD}'\nios\nsystem\n.".encode()),
    # A protocol-0 call followed by garbage: pickle.loads runs the call, then fails; it was sniffed as binary.
    ("call_then_garbage.bin", f"cos\nsystem\n(S'{CMD}'\ntR".encode() + b"\xfd\xfe\x00garbage"),
    ("obj_then_garbage.bin", f"(cos\nsystem\nS'{CMD}'\no".encode() + b"\xfd\xfe\x00garbage"),
])
def test_protocol0_pickles_are_never_missed(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    report = scan([path], jobs=0)
    assert any(f.rule_id == "AISEC-MDL-001" and f.severity.value == "critical" for f in report.findings), \
        report.findings


@pytest.mark.parametrize("text", ["certifi\nrequests\nopenai\n", "cython\nnumpy\nRequests\n"])
def test_plain_text_that_decodes_as_opcodes_is_not_a_pickle(text: str) -> None:
    from aisec.sniff import sniff

    assert sniff(text.encode(), name="requirements.txt").value == "text"


def test_an_internal_error_exits_2_not_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Any bug (here: discovery blowing up, as a RecursionError in sniffing once did) means "incomplete"."""
    import importlib

    from aisec.cli import main

    scan_module = importlib.import_module("aisec.scan")  # the package re-exports scan() under the same name

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(scan_module, "discover", broken)
    (tmp_path / "a.pkl").write_bytes(b"\x80\x02K\x01.")
    assert main(["scan", str(tmp_path), "--quiet"]) == 2
    assert "internal error" in capsys.readouterr().err


def test_a_huge_signature_file_is_not_read_whole(tmp_path: Path) -> None:
    """model.sig is attacker-controlled: a 4 GiB (sparse) one costs at most the bundle size cap, and is refused."""
    import tracemalloc

    model = tmp_path / "model"
    model.mkdir()
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    (model / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))
    with open(model / "model.sig", "wb") as handle:
        handle.truncate(4 << 30)
    tracemalloc.start()
    try:
        report = scan([model], jobs=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 512 * 1024 * 1024, peak  # two bounded reads (64 MiB + 1 each) at most, never 4 GiB
    assert any(f.rule_id == "AISEC-SIG-002" and "larger than" in f.message for f in report.findings)


@pytest.mark.parametrize("codec", ["zlib", "lzma_alone"])
def test_corrupt_tail_of_a_compressed_pickle_is_still_analyzed(tmp_path: Path, codec: str) -> None:
    """joblib decompresses as it unpickles, so a payload before damage near the end runs on load; the weak
    zlib/.lzma magic made aisec take the file for "not compressed after all" and pass it clean."""
    import lzma
    import random
    import zlib

    rng = random.Random(5)
    floats = b"".join(b"G" + struct.pack(">d", rng.random()) + b"a" for _ in range(100_000))
    data = f"cos\nsystem\n(S'{CMD}'\ntR".encode() + b"0]" + floats + b"."  # call, POP, then a big list
    packed = bytearray(zlib.compress(data) if codec == "zlib" else lzma.compress(data, format=lzma.FORMAT_ALONE))
    at = int(len(packed) * 0.9)
    packed[at:at + 8] = b"\xff" * 8
    path = tmp_path / "model.joblib"
    path.write_bytes(bytes(packed))
    report = scan([path], jobs=0)
    assert any(f.rule_id == "AISEC-MDL-001" for f in report.findings), report.findings
    assert not report.trustworthy
