"""Flax/Orbax msgpack checkpoints: a bounded walk of the real packer's bytes; nothing is unpacked into objects."""

from __future__ import annotations

import msgpack
import pytest
from gen_flax import state  # fixtures/ is on sys.path (tests/analyzers/__init__.py)

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.flax_msgpack import FlaxMsgpackAnalyzer
from aisec.errors import ArtifactError
from aisec.limits import Limits
from aisec.model import Fact
from aisec.source import BytesSource


def facts(data: bytes, name: str = "ckpt.msgpack") -> tuple[list[Fact], AnalysisContext]:
    context = AnalysisContext(path=name, limits=Limits())
    return list(FlaxMsgpackAnalyzer().analyze(BytesSource(data, budget=10 * len(data) + 65536), context)), context


def test_every_msgpack_type_the_real_packer_writes_is_walked() -> None:
    values = {"ints": [0, -1, 127, 128, -33, 2**16, 2**32, -(2**40), 2**63], "floats": [1.5, -0.0],
              "none": None, "bools": [True, False], "s": "x" * 40, "s8": "y" * 300, "s16": "z" * 70000,
              "bin": b"\x00" * 300, "nested": [[{}], {"a": []}], "big_list": list(range(20)),
              "exts": [msgpack.ExtType(1, b"a"), msgpack.ExtType(3, b"ab"), msgpack.ExtType(5, b"x" * 300)]}
    found, context = facts(msgpack.packb(values, use_bin_type=True))
    assert not context.errors
    assert [(f.key, f.value) for f in found if f.key == "msgpack.ext_type"] == [
        ("msgpack.ext_type", 1), ("msgpack.ext_type", 3), ("msgpack.ext_type", 5)]


def test_a_flax_state_reports_only_flax_extension_types() -> None:
    found, _ = facts(state())
    assert sorted({f.value for f in found if f.key == "msgpack.ext_type"}) == [1, 3]
    assert not [f for f in found if f.key == "msgpack.pickle"]


@pytest.mark.parametrize("cut", [1, 10, 60])
def test_a_truncated_checkpoint_that_claims_msgpack_is_an_error(cut: int) -> None:
    data = state()
    with pytest.raises(ArtifactError, match=r"runs past the end|follow"):
        facts(data[:-cut])
    assert facts(data[:-cut], name="weights.bin")[0] == []  # unclaimed bytes that do not parse: not msgpack


def test_a_count_bomb_is_cut_by_the_end_of_the_file_and_depth_by_the_limit() -> None:
    with pytest.raises(ArtifactError, match="runs past the end"):
        facts(b"\xdf\xff\xff\xff\xff\xa1a")  # a map32 that claims 4 billion entries
    with pytest.raises(ArtifactError, match="max_json_depth"):
        facts(b"\x91" * 10_000 + b"\xc0")
