"""skops files: the types skops.io.load would refuse by default are read from schema.json, never loaded."""

from __future__ import annotations

import json

import pytest
from gen_skops import REAL, function_node, real_members, rezip, with_attribute  # fixtures/ is on sys.path

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.analyzers.skops import SkopsAnalyzer
from aisec.analyzers.skops_trusted import DEFAULT_TRUSTED
from aisec.limits import Limits
from aisec.model import Fact, ScanError
from aisec.source import BytesSource


def analyze(data: bytes) -> tuple[list[Fact], list[ScanError]]:
    context = AnalysisContext(path="model.skops", limits=Limits())
    facts = list(SkopsAnalyzer().analyze(BytesSource(data, budget=4 * len(data) + 4096), context))
    return facts, context.errors


def untrusted(data: bytes) -> list[tuple[str, object]]:
    facts, _errors = analyze(data)
    return sorted((str(f.detail["loader"]), f.value) for f in facts if f.key == "skops.untrusted_type")


def test_real_logistic_regression_is_fully_trusted() -> None:
    facts, errors = analyze((REAL / "logreg.skops").read_bytes())
    assert [(f.key, f.value) for f in facts] == [("skops.protocol", "2")]
    assert errors == []


def test_real_decision_tree_holds_the_tree_skops_leaves_untrusted() -> None:
    facts, _errors = analyze((REAL / "tree.skops").read_bytes())
    hits = [f for f in facts if f.key == "skops.untrusted_type"]
    assert [(f.value, f.detail["loader"]) for f in hits] == [("sklearn.tree._tree.Tree", "TreeNode")]
    assert hits[0].location.pointer == "schema.json#/content/content/tree_"


def test_each_loader_is_judged_by_its_own_default_list() -> None:
    # numpy.add is a trusted ufunc for a FunctionNode, but no ObjectNode may build it; builtins.eval is never trusted.
    assert untrusted(with_attribute("logreg.skops", "f_", function_node("numpy", "add"))) == []
    assert untrusted(with_attribute("logreg.skops", "f_", {**function_node("numpy", "add"),
                                                           "__loader__": "ObjectNode"})) == [
        ("ObjectNode", "numpy.add")]
    assert untrusted(with_attribute("logreg.skops", "f_", function_node("builtins", "eval"))) == [
        ("FunctionNode", "builtins.eval")]
    assert "sklearn.linear_model._logistic.LogisticRegression" in DEFAULT_TRUSTED["ObjectNode"]


def test_the_names_skops_adds_for_methods_and_bit_generators() -> None:
    import gen_skops

    cases = {path: data for path, data in gen_skops.fixtures().items() if path.startswith("AISEC-MDL-105/fail")}
    assert untrusted(cases["AISEC-MDL-105/fail/bound_method.skops"]) == [
        ("MethodNode", "collections.Counter"), ("MethodNode", "collections.Counter.update"),
        ("ObjectNode", "collections.Counter")]
    assert untrusted(cases["AISEC-MDL-105/fail/rng_not_a_bit_generator.skops"]) == [
        ("RandomGeneratorNode", "numpy.random.seed")]


def test_an_unknown_loader_is_reported_and_not_fully_scanned() -> None:
    facts, errors = analyze(with_attribute("logreg.skops", "x_", {
        "__class__": "Thing", "__module__": "acme", "__loader__": "FutureNode", "__id__": 3}))
    assert [f.value for f in facts if f.key == "skops.untrusted_type"] == ["acme.Thing"]
    assert [e.reason for e in errors] == ["unsupported"]


@pytest.mark.parametrize("schema", [b'{"__loader__": "ObjectNode", ', json.dumps(
    {"__loader__": "ObjectNode", "__module__": 3, "__class__": "X"}).encode()])
def test_a_broken_schema_fails_closed(schema: bytes) -> None:
    members = real_members("logreg.skops")
    members["schema.json"] = schema
    with pytest.raises(AnalyzerError):
        analyze(rezip(members))


def test_zips_that_are_not_skops_files_are_left_alone() -> None:
    assert analyze(rezip({"data.json": b"{}"})) == ([], [])
    assert analyze(rezip({"schema.json": b'{"type": "object", "properties": {}}'})) == ([], [])
