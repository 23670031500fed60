"""Fail closed on budgets: opcode and stack limits are reported; memory stays bounded on huge pickles."""

from __future__ import annotations

import io
import struct
import tracemalloc
from pathlib import Path

import pickle_ops as ops

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.pickle import PickleAnalyzer
from aisec.limits import Limits
from aisec.source import BytesSource
from tests.analyzers.pickle_helpers import analyze_bytes, rule_ids, values


def many_opcodes(n_items: int) -> bytes:
    """A protocol 4 list of ``n_items`` memoized strings appended in batches: ~3 opcodes per item."""
    out = io.BytesIO()
    out.write(ops.proto(4) + b"]\x94")
    for start in range(0, n_items, 1000):
        out.write(b"(")
        for i in range(start, min(start + 1000, n_items)):
            text = f"k{i}".encode()
            out.write(b"\x8c" + bytes([len(text)]) + text + b"\x94")
        out.write(b"e")
    out.write(ops.system_call_p4("true")[2:-1] + b"a.")  # a dangerous call at the very end
    return out.getvalue()


def test_opcode_budget_hit_is_a_scan_error(tmp_path: Path) -> None:
    """Hitting max_pickle_opcodes is GEN-001 with the limit named, never a pass."""
    _, findings, errors = analyze_bytes(tmp_path, many_opcodes(2000), limits=Limits(max_pickle_opcodes=500))
    assert any(e.limit == "max_pickle_opcodes" for e in errors)
    assert "AISEC-GEN-001" in rule_ids(findings)


def test_stack_depth_limit(tmp_path: Path) -> None:
    """A stack deeper than max_stack_depth is a limit error."""
    data = ops.proto(4) + b"(" + b"N" * 300 + b"t."
    _, _, errors = analyze_bytes(tmp_path, data, limits=Limits(max_stack_depth=100))
    assert any(e.limit == "max_stack_depth" for e in errors)


def _peak(n_items: int) -> tuple[int, list[object]]:
    data = many_opcodes(n_items)
    context = AnalysisContext(path="big.pkl", limits=Limits(max_stack_depth=2_000))
    tracemalloc.start()
    try:
        facts = list(PickleAnalyzer().analyze(BytesSource(data, budget=1 << 30), context))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not context.errors
    return peak, facts  # type: ignore[return-value]


def test_walker_memory_does_not_grow_with_the_opcode_count() -> None:
    """4x the opcodes (and memo writes) costs about the same memory: stack, memo and containers are capped.

    The 1M+-opcode measurement lives in benchmarks/bench_models.py (too slow for a unit test).
    """
    small, _ = _peak(10_000)
    large, facts = _peak(40_000)
    assert "os.system" in values(facts, "pickle.call")  # type: ignore[arg-type]
    assert large < small * 1.5 + 256 * 1024, (small, large)


def test_evicted_memo_entries_read_back_as_unknown_not_safe(tmp_path: Path) -> None:
    """Past the memo cap a GET yields an opaque value: calling it is a dynamic call (MDL-004), never silent."""
    body = ops.proto(2) + b"".join(ops.unicode(f"s{i}") + b"r" + struct.pack("<I", i) + b"0" for i in range(3))
    body += ops.global_op("os", "system") + b"r" + struct.pack("<I", 500) + b"0"
    body += b"j" + struct.pack("<I", 500) + ops.tuple_of(ops.unicode("true")) + b"R."
    facts, findings, _ = analyze_bytes(tmp_path, body, limits=Limits(max_stack_depth=3))
    assert "<unknown callable>" in values(facts, "pickle.call")
    assert {"AISEC-MDL-001", "AISEC-MDL-004"} <= rule_ids(findings)


def test_stack_depth_limit_holds_on_the_fast_path(tmp_path: Path) -> None:
    """Strings and numbers pushed without a MARK (the walker's fast path) still count against the stack cap."""
    for item in (ops.unicode("a"), ops.short_int(1)):
        data = ops.proto(4) + item * 300 + b"."
        _, _, errors = analyze_bytes(tmp_path, data, limits=Limits(max_stack_depth=100))
        assert any(e.limit == "max_stack_depth" for e in errors)
