"""Native tree models (xgboost, LightGBM, CatBoost): real files parse clean; hidden pickles, bad structure found."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from gen_tree_models import REAL, real, ubj_bytes, with_ubj_attribute  # fixtures/ is on sys.path
from pickle_ops import system_call_p2

from aisec.analysis import _analyze_nested
from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.analyzers.embedded_pickle import find_pickles
from aisec.analyzers.tree_model import TreeModelAnalyzer
from aisec.analyzers.ubjson_reader import TypedArray, read_document
from aisec.limits import Limits
from aisec.model import Fact, ScanError
from aisec.scan import scan
from aisec.source import BytesSource


def analyze(data: bytes, name: str) -> tuple[list[Fact], list[ScanError]]:
    context = AnalysisContext(path=name, limits=Limits(), nested=_analyze_nested)
    facts = list(TreeModelAnalyzer().analyze(BytesSource(data, budget=2 * len(data) + 512), context))
    return facts, context.errors


@pytest.mark.parametrize(("name", "fmt"), [("xgboost_clf.json", "xgboost-json"),
                                           ("xgboost_clf.ubj", "xgboost-ubjson"),
                                           ("lightgbm_clf.txt", "lightgbm-text"),
                                           ("catboost_clf.cbm", "catboost-cbm")])
def test_real_models_are_recognised_and_clean(name: str, fmt: str) -> None:
    facts, errors = analyze(real(name), name)
    assert [(f.key, f.value) for f in facts] == [("treemodel.format", fmt)]
    assert errors == []


def test_a_hidden_pickle_is_analyzed_as_a_nested_pickle() -> None:
    data = with_ubj_attribute(real("xgboost_clf.ubj"), "state", ubj_bytes(system_call_p2("id")))
    facts, errors = analyze(data, "model.ubj")
    hidden = [f for f in facts if f.key == "treemodel.embedded_pickle"]
    assert len(hidden) == 1 and hidden[0].location.offset == data.index(b"\x80\x02")
    calls = [f for f in facts if f.key == "pickle.call"]
    assert [(f.value, f.location.member) for f in calls] == [("os.system", f"pickle@{hidden[0].location.offset}")]
    assert errors == []


def test_ubjson_reader_skips_typed_numeric_arrays_and_keeps_bytes() -> None:
    doc = (b"{" + b"i\x01a[$d#i\x03" + struct.pack(">fff", 1, 2, 3) + b"i\x01b[$U#i\x02\x80\x02"
           + b"i\x01c[i\x01SU\x02hi]}")
    value, end = read_document(doc, max_depth=8, max_items=100)
    assert value == {"a": TypedArray(marker="d", count=3), "b": b"\x80\x02", "c": [1, "hi"]}
    assert end == len(doc)


@pytest.mark.parametrize("doc", [b"{i\x01aSL" + struct.pack(">q", 1 << 40) + b"x}",  # length past the end
                                 b"[$Z#L" + struct.pack(">q", 10**9),  # a billion zero-byte items
                                 b"[" * 100,  # deeper than the cap
                                 b"{i\x01a?}"])  # unknown marker
def test_ubjson_reader_fails_closed(doc: bytes) -> None:
    with pytest.raises(AnalyzerError):
        read_document(doc, max_depth=32, max_items=1000)


def test_random_and_float_bytes_hold_no_pickle() -> None:
    rng = random.Random(20260101)
    noise = rng.randbytes(1 << 20)
    floats = b"".join(struct.pack("<d", rng.uniform(-1e6, 1e6)) for _ in range(100_000))
    assert list(find_pickles(noise)) == [] and list(find_pickles(floats)) == []
    assert list(find_pickles(noise[:5000] + system_call_p2("id") + noise[5000:6000])) == [
        (5000, 5000 + len(system_call_p2("id")))]


@pytest.mark.parametrize(("data", "name"), [
    (real("catboost_clf.cbm")[:12], "model.cbm"),  # cut inside the header
    (b"CBM1" + struct.pack("<I", 1 << 30) + bytes(32), "model.cbm"),  # core larger than the file
    (b"CBM1" + struct.pack("<II", 24, 4000) + bytes(24), "model.cbm"),  # root offset outside the core
    (real("xgboost_clf.ubj")[:-40], "model.ubj"),  # truncated UBJSON
    (b"{i\x05hellorS" + bytes(40), "model.ubj"),  # a UBJSON object that is not an xgboost model
    (b'{"learner": {"gradient_booster": ', "model.json"),  # truncated JSON
])
def test_recognised_but_unparsable_models_raise(data: bytes, name: str) -> None:
    with pytest.raises(AnalyzerError):
        analyze(data, name)


def test_a_file_named_as_a_tree_model_that_is_not_one_is_not_fully_scanned() -> None:
    facts, errors = analyze(b"\x00\x01binary blob, not a CatBoost model" * 4, "model.cbm")
    assert facts == [] and [e.reason for e in errors] == ["malformed"]
    _facts, errors = analyze(real("lightgbm_clf.txt").split(b"end of trees")[0], "model.txt")
    assert [e.reason for e in errors] == ["malformed"]


def test_xgboost_binary_header_is_parsed_and_reported_as_partial() -> None:
    names = b"".join(struct.pack("<Q", len(n)) + n for n in (b"binary:logistic", b"gbtree"))
    facts, errors = analyze(b"binf" + bytes(136) + names + bytes(64), "model.bin")
    assert [(f.key, f.value, dict(f.detail)) for f in facts] == [
        ("treemodel.format", "xgboost-binary", {"objective": "binary:logistic", "booster": "gbtree"})]
    assert [e.reason for e in errors] == ["unsupported"]


def test_scanning_the_real_tree_models_finds_nothing(in_repo: Path) -> None:
    models = sorted(REAL.glob("*_clf.*"))
    assert len(models) == 4
    report = scan([m.relative_to(in_repo) for m in models], policy="audit", jobs=0)
    assert [f.rule_id for f in report.findings] == []
    assert report.errors == ()
