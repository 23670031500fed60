"""R serialized data: promises, active bindings, closures and calls are found by walking the stream, never loading."""

from __future__ import annotations

import pytest
from gen_r import call, closure, environment, i32, promise, rds, reals, strings, vector_list  # fixtures/ on sys.path

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.analyzers.r_serialize import RSerializeAnalyzer
from aisec.limits import Limits
from aisec.model import Fact, ScanError
from aisec.source import BytesSource


def analyze(data: bytes) -> tuple[list[Fact], list[ScanError]]:
    context = AnalysisContext(path="x.rds", limits=Limits())
    facts = list(RSerializeAnalyzer().analyze(BytesSource(data, budget=4 * len(data) + 64), context))
    return facts, context.errors


def keys(data: bytes) -> list[tuple[str, object]]:
    facts, errors = analyze(data)
    assert errors == []
    return [(f.key, f.value) for f in facts if f.key != "r.format"]


def test_plain_data_is_clean() -> None:
    frame = vector_list({"x": reals(1.0), "s": strings("a")}, cls="data.frame", rows=1)
    facts, errors = analyze(rds(frame, compress=False))
    assert [(f.key, f.value, f.detail["version"]) for f in facts] == [("r.format", "xdr", 3)] and errors == []


def test_promise_closure_active_binding_and_calls() -> None:
    system = call("system", strings("id"))
    assert keys(rds(promise(system), compress=False)) == [("r.executable", "promise"), ("r.call", "system")]
    assert keys(rds(environment("w", closure(call("mean")), active=True), compress=False)) == [
        ("r.executable", "active_binding"), ("r.executable", "closure"), ("r.call", "mean")]
    found = analyze(rds(vector_list({"hook": promise(system)}), compress=False))[0]
    assert [f.location.pointer for f in found if f.key == "r.executable"] == ["/0"]


def test_long_pairlists_are_walked_without_recursion() -> None:
    from gen_r import pairlist

    cells = [(f"v{i}", reals(float(i))) for i in range(5000)]
    assert keys(rds(pairlist(*cells), compress=False)) == []


@pytest.mark.parametrize("body", [
    i32(16) + i32(10**9),  # a character vector longer than the stream
    i32(255 | 7 << 8),  # a reference to an object never read
    i32(99),  # no such SEXP type
    i32(19) + i32(1) + i32(19) * 1000,  # lists nested past the cap, then cut
])
def test_malformed_streams_fail_closed(body: bytes) -> None:
    data = b"X\n" + i32(3) + i32(0x040302) + i32(0x030500) + i32(5) + b"UTF-8" + body
    with pytest.raises(AnalyzerError):
        analyze(data)


def test_ascii_and_bytecode_are_reported_as_not_fully_scanned() -> None:
    facts, errors = analyze(b"A\n3\n263170\n197888\n5\nUTF-8\n254\n")
    assert [f.value for f in facts] == ["ascii"] and [e.reason for e in errors] == ["unsupported"]
    facts, errors = analyze(rds(vector_list({"f": i32(21) + i32(1)}), compress=False))
    assert [(f.key, f.value) for f in facts if f.key == "r.executable"] == [("r.executable", "bytecode")]
    assert [e.reason for e in errors] == ["unsupported"]


def test_other_binaries_are_left_alone() -> None:
    assert analyze(b"X\nnot an R stream at all") == ([], [])
    assert analyze(b"\x00\x01\x02\x03" * 8) == ([], [])
