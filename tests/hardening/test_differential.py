"""Differential tests: aisec's pickle walker against ``pickletools.genops`` and its zip reader against ``zipfile``
and a relaxed local-header walk, on many generated valid inputs (hypothesis, derandomized)."""

from __future__ import annotations

import io
import pickle
import pickletools
import struct
import zipfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aisec.analyzers import AnalysisContext
from aisec.analyzers.pickle import PickleAnalyzer
from aisec.analyzers.zipread import read_listing
from aisec.limits import Limits
from aisec.source import BytesSource

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")  # duplicate member names are generated on purpose

LIMITS = Limits()
SETTINGS = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2 ** 200), max_value=2 ** 200)
           | st.floats(allow_nan=False) | st.text(max_size=20) | st.binary(max_size=20))
values = st.recursive(scalars, lambda inner: (st.lists(inner, max_size=5) | st.tuples(inner, inner)
                                              | st.dictionaries(st.text(max_size=8), inner, max_size=5)
                                              | st.frozensets(st.integers() | st.text(max_size=5), max_size=4)
                                              | st.sets(st.integers(), max_size=4)), max_leaves=25)


def _genops(data: bytes) -> tuple[list[str], set[str], int]:
    """Opcode names, GLOBAL imports (module.name, Python 2 names mapped) and the STOP end offset."""
    names, imports = [], set()
    stream = io.BytesIO(data)
    for opcode, arg, _pos in pickletools.genops(stream):
        names.append(opcode.name)
        if opcode.name == "GLOBAL":
            module, _, attr = str(arg).partition(" ")
            imports.add(f"{'builtins' if module == '__builtin__' else module}.{attr}")
    return names, imports, stream.tell()


def _facts(data: bytes) -> tuple[dict[str, list[Any]], AnalysisContext]:
    context = AnalysisContext(path="x.pkl", limits=LIMITS)
    facts: dict[str, list[Any]] = {}
    for fact in PickleAnalyzer().analyze(BytesSource(data, budget=LIMITS.max_read_bytes), context):
        facts.setdefault(fact.key, []).append(fact.value)
    return facts, context


@SETTINGS
@given(value=values, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_pickle_walker_agrees_with_genops(value: object, protocol: int) -> None:
    data = pickle.dumps(value, protocol=protocol)
    opcodes, imports, end = _genops(data)
    assert end == len(data)
    facts, context = _facts(data)
    assert context.errors == []  # valid input is never "malformed" or over a default limit
    assert facts["pickle.streams"] == [1]
    assert facts["pickle.opcode_count"] == [len(opcodes)]
    # Every global the real opcode stream imports is reported (the walker may add normalised aliases).
    assert imports <= set(facts.get("pickle.import", [])), (imports, facts.get("pickle.import"))


@SETTINGS
@given(first=values, second=values, protocols=st.tuples(st.integers(0, 5), st.integers(0, 5)))
def test_stacked_pickles_are_each_walked(first: object, second: object, protocols: tuple[int, int]) -> None:
    one, two = pickle.dumps(first, protocol=protocols[0]), pickle.dumps(second, protocol=protocols[1])
    facts, context = _facts(one + two)
    assert context.errors == []
    assert facts["pickle.streams"] == [2]
    assert facts["pickle.opcode_count"] == [len(_genops(one)[0]) + len(_genops(two)[0])]


names = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1,
                max_size=24)
members = st.lists(st.tuples(names, st.binary(max_size=300),
                             st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                              zipfile.ZIP_LZMA])), min_size=1, max_size=8)


def _build_zip(entries: list[tuple[str, bytes, int]], comment: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data, method in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(info, data, compress_type=method)
        archive.comment = comment
    return out.getvalue()


def _local_names(data: bytes) -> list[str]:
    """A relaxed reader: walk local headers front to back (what streaming unzip tools see)."""
    found, pos = [], data.find(b"PK\x03\x04")
    while pos >= 0 and pos + 30 <= len(data) and data[pos:pos + 4] == b"PK\x03\x04":
        flags, csize, nlen, elen = (struct.unpack("<H", data[pos + 6:pos + 8])[0],
                                    *struct.unpack("<I", data[pos + 18:pos + 22]),
                                    *struct.unpack("<HH", data[pos + 26:pos + 30]))
        raw = data[pos + 30:pos + 30 + nlen]
        found.append(raw.decode("utf-8") if flags & 0x800 else raw.decode("cp437"))
        pos += 30 + nlen + elen + csize
    return found


@SETTINGS
@given(entries=members, junk=st.binary(max_size=64).filter(lambda b: b"PK" not in b), comment=st.binary(max_size=40))
def test_zip_reader_sees_every_member_zipfile_sees(entries: list[tuple[str, bytes, int]], junk: bytes,
                                                     comment: bytes) -> None:
    data = junk + _build_zip(entries, comment)
    reference = zipfile.ZipFile(io.BytesIO(data)).namelist()
    listing = read_listing(BytesSource(data, budget=LIMITS.max_read_bytes), LIMITS)
    assert [m.name for m in listing.members] == reference
    assert all(m.data_offset is not None for m in listing.members)


@SETTINGS
@given(entries=members, cut=st.integers(1, 200))
def test_zip_reader_sees_local_headers_when_the_directory_is_cut(entries: list[tuple[str, bytes, int]],
                                                                   cut: int) -> None:
    full = _build_zip(entries, b"")
    directory = full.rfind(b"PK\x01\x02", 0, full.find(b"PK\x05\x06"))
    data = full[: full.find(b"PK\x01\x02") + min(cut, max(0, directory))]  # the central directory is damaged
    listing = read_listing(BytesSource(data, budget=LIMITS.max_read_bytes), LIMITS)
    seen = [m.name for m in listing.members]
    assert set(_local_names(data)) <= set(seen), (seen, _local_names(data))
