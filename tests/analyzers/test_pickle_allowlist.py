"""The evidence-built allowlist admits what real libraries write and nothing a payload could reuse as a gadget."""

from __future__ import annotations

from pathlib import Path

import pickle_ops as ops
import pytest

from tests.analyzers.pickle_helpers import analyze_bytes, rule_ids
from tests.conftest import REPO

CORPUS = REPO / "tests" / "realworld" / "corpus" / "generated"
CMD = "true"
NEWOBJ = b"\x81"


def _loud(findings: list, floor: str = "medium") -> set[str]:  # type: ignore[type-arg]
    order = ["info", "low", "medium", "high", "critical"]
    return {f.rule_id for f in findings if order.index(f.severity.value) >= order.index(floor)}


def test_pandas_frame_with_a_time_zone_is_quiet(tmp_path: Path) -> None:
    """pandas 3 pickles ZoneInfo._unpickle as getattr(ZoneInfo, '_unpickle'): a literal lookup, not a finding."""
    facts, findings, errors = analyze_bytes(tmp_path, (CORPUS / "pandas" / "frame.pkl").read_bytes())
    getattr_facts = [f for f in facts if f.key == "pickle.import" and f.value == "builtins.getattr"]
    assert getattr_facts and all(f.detail.get("literal_lookup_only") is True for f in getattr_facts)
    assert "zoneinfo.ZoneInfo._unpickle" in {f.value for f in facts if f.key == "pickle.call"}
    assert not _loud(findings), [f.message for f in findings if f.severity.value != "info"]
    assert not errors


def test_literal_getattr_of_a_classmethod_is_judged_as_that_classmethod(tmp_path: Path) -> None:
    lookup = ops.call(ops.stack_global("builtins", "getattr"), ops.stack_global("zoneinfo", "ZoneInfo"),
                      ops.unicode("_unpickle"))
    data = ops.wrap4(ops.call(lookup, ops.unicode("UTC"), b"\x88"))
    _, findings, _ = analyze_bytes(tmp_path, data)
    assert not _loud(findings)


def test_literal_getattr_reaching_a_denied_callable_is_critical(tmp_path: Path) -> None:
    """getattr is waived only as a lookup; what it reaches (os.system) is still the denylisted call."""
    _, findings, _ = analyze_bytes(tmp_path, ops.getattr_call(CMD))
    hits = {f.evidence["value"] for f in findings if f.rule_id == "AISEC-MDL-001"}
    assert "os.system" in hits and "builtins.getattr" not in hits


def test_getattr_that_escapes_into_data_stays_critical(tmp_path: Path) -> None:
    """A getattr put into a container (to be called later by something else) is not a literal lookup."""
    lookup = ops.call(ops.stack_global("builtins", "getattr"), ops.stack_global("zoneinfo", "ZoneInfo"),
                      ops.unicode("_unpickle"))
    escaped = ops.binget(2) + b"\x85"  # the memoized getattr global (memo 2), in a tuple
    _, findings, _ = analyze_bytes(tmp_path, ops.wrap4(lookup + ops.pop() + escaped))
    assert any(f.rule_id == "AISEC-MDL-001" and f.evidence["value"] == "builtins.getattr" for f in findings)


def test_getattr_on_a_computed_object_stays_critical(tmp_path: Path) -> None:
    """getattr(<result of a call>, 'x'): the target cannot be named, so getattr itself is reported."""
    obj = ops.call(ops.stack_global("collections", "OrderedDict"))
    data = ops.wrap4(ops.call(ops.call(ops.stack_global("builtins", "getattr"), obj, ops.unicode("update")),
                              ops.unicode("x")))
    _, findings, _ = analyze_bytes(tmp_path, data)
    assert any(f.rule_id == "AISEC-MDL-001" and f.evidence["value"] == "builtins.getattr" for f in findings)


def test_booster_rebuilt_with_newobj_is_quiet(tmp_path: Path) -> None:
    """xgboost/lightgbm Boosters pickle as NEWOBJ + BUILD (cls.__new__, then __setstate__ parses model bytes)."""
    for name in ("xgboost/booster.pkl", "xgboost/classifier.pkl", "lightgbm/booster.pkl", "lightgbm/classifier.pkl"):
        _, findings, _ = analyze_bytes(tmp_path, (CORPUS / name).read_bytes())
        assert not _loud(findings), (name, [f.message for f in findings if f.severity.value != "info"])


@pytest.mark.parametrize("cls", [("xgboost.core", "Booster"), ("lightgbm.basic", "Booster")])
def test_booster_called_with_a_model_file_is_high(tmp_path: Path, cls: tuple[str, str]) -> None:
    """Booster(model_file=...) reads a file: calling the class (REDUCE) is not the reconstruct path."""
    data = ops.wrap4(ops.call(ops.stack_global(*cls), b"N", b"N", ops.unicode("/etc/passwd")))
    _, findings, _ = analyze_bytes(tmp_path, data)
    assert "AISEC-MDL-002" in rule_ids(findings)


def test_newobj_then_call_of_the_same_class_is_high(tmp_path: Path) -> None:
    """A harmless NEWOBJ first must not hide a later real call of the same class (facts are deduplicated)."""
    cls = ops.stack_global("xgboost.core", "Booster")
    newobj = ops.binget(2) + b")" + NEWOBJ
    called = ops.binget(2) + ops.tuple_of(b"N", b"N", ops.unicode("/etc/passwd")) + ops.reduce()
    data = ops.wrap4(cls + ops.pop() + newobj + ops.pop() + called)
    facts, findings, _ = analyze_bytes(tmp_path, data)
    call = next(f for f in facts if f.key == "pickle.call" and f.value == "xgboost.core.Booster")
    assert "new_instance" not in call.detail
    assert "AISEC-MDL-002" in rule_ids(findings)


@pytest.mark.parametrize(("module", "name"), [("pandas.core.frame", "DataFrame.to_csv"), ("pandas", "DataFrame.to_csv"),
                                              ("pandas.core.frame", "DataFrame.eval"),
                                              ("torch.nn.modules.module", "Module.register_forward_hook"),
                                              ("scipy.sparse", "save_npz"), ("torch.serialization", "load")])
def test_methods_under_allowlisted_namespaces_are_denied(tmp_path: Path, module: str, name: str) -> None:
    """pandas.core.*, torch.nn.modules.* and scipy.sparse.* are allowed for classes, never for their methods."""
    data = ops.wrap4(ops.call(ops.stack_global(module, name), b"N", ops.unicode("/tmp/x")))
    _, findings, _ = analyze_bytes(tmp_path, data)
    assert "AISEC-MDL-001" in rule_ids(findings)


def test_denylist_exception_is_exact(tmp_path: Path) -> None:
    """torch.serialization._get_layout is excepted by exact name; its neighbours are not."""
    ok = ops.wrap4(ops.call(ops.stack_global("torch.serialization", "_get_layout"), ops.unicode("torch.sparse_coo")))
    assert not _loud(analyze_bytes(tmp_path, ok)[1])
    near = ops.wrap4(ops.call(ops.stack_global("torch.serialization", "_get_layouts"), ops.unicode("x")))
    assert "AISEC-MDL-001" in rule_ids(analyze_bytes(tmp_path, near)[1])


def test_joblib_historic_side_files_are_plain_names(tmp_path: Path) -> None:
    """joblib 0.9.2's own dumps name their side files plainly: a side-file fact each, none escaping."""
    data = (CORPUS.parent / "joblib_historic" / "joblib_0.9.2_pickle_py35_np19.pkl").read_bytes()
    facts, findings, _ = analyze_bytes(tmp_path, data)
    sides = [f for f in facts if f.key == "pickle.joblib_side_file"]
    assert len(sides) == 4 and not any(f.detail["escapes"] for f in sides)
    assert not _loud(findings)


@pytest.mark.parametrize("name", ["/etc/x.npy", "../x.npy", "a/b.npy", "C:x.npy", ""])
def test_joblib_side_file_outside_the_folder_is_high(tmp_path: Path, name: str) -> None:
    from gen_allowlist import ndarray_wrapper

    _, findings, _ = analyze_bytes(tmp_path, ndarray_wrapper(name))
    assert "AISEC-MDL-062" in rule_ids(findings)


def test_joblib_wrapper_called_directly_is_high(tmp_path: Path) -> None:
    """NDArrayWrapper(filename, subclass) sets the side file by constructor: only NEWOBJ + state is admitted."""
    data = ops.wrap4(ops.call(ops.stack_global("joblib.numpy_pickle", "NDArrayWrapper"), ops.unicode("/etc/x.npy"),
                              ops.stack_global("numpy", "ndarray")))
    _, findings, _ = analyze_bytes(tmp_path, data)
    assert "AISEC-MDL-002" in rule_ids(findings)


def test_audit_names_the_entry_that_allowed_or_denied_each_global(tmp_path: Path) -> None:
    """--policy audit: AISEC-MDL-060/061 name the admitting entry and its reason; MDL-001 names the denying one."""
    _, findings, _ = analyze_bytes(tmp_path, (CORPUS / "xgboost" / "classifier.pkl").read_bytes())
    admitted = {f.evidence["value"]: f for f in findings if f.rule_id in ("AISEC-MDL-060", "AISEC-MDL-061")}
    booster = admitted["xgboost.core.Booster"]
    assert booster.rule_id == "AISEC-MDL-061" and booster.evidence["list_entry"] == "xgboost.core.Booster"
    assert "XGBoosterUnserializeFromBuffer" in str(booster.evidence["list_reason"])
    assert "'builtins.bytearray' (plain value)" in admitted["builtins.bytearray"].message
    _, denied, _ = analyze_bytes(tmp_path, ops.getattr_call(CMD))
    system = next(f for f in denied if f.rule_id == "AISEC-MDL-001" and f.evidence["value"] == "os.system")
    assert system.evidence["list_entry"] in ("os.*", "os.system")


def test_an_organisation_extends_the_allowlist_and_sees_its_own_entry_at_work(tmp_path: Path) -> None:
    """The README's recipe: an own policy with a reason per entry; `--min-severity info` names the entry at work."""
    from aisec.model import Severity
    from aisec.scan import scan

    sample = tmp_path / "model.pkl"
    sample.write_bytes(ops.wrap4(ops.call(ops.stack_global("acme_ml.layers", "ScaledDense"), ops.unicode("relu"))))
    policy = tmp_path / "acme.yaml"
    policy.write_text("name: acme\nextends: default\nlists:\n  pickle_allowlist:\n"
                      "    - {value: acme_ml.layers.ScaledDense, reason: 'acme-ml 2.3: plain layer (SEC-812)'}\n",
                      encoding="utf-8")
    before = scan([sample], policy="default", min_severity=Severity.INFO, jobs=0)
    assert "AISEC-MDL-002" in {f.rule_id for f in before.findings}
    after = scan([sample], policy=policy, min_severity=Severity.INFO, jobs=0)
    assert not _loud(list(after.findings), "low")
    trail = [f for f in after.findings if f.rule_id == "AISEC-MDL-060"]
    assert [(f.evidence["list_entry"], f.evidence["list_reason"]) for f in trail] == [
        ("acme_ml.layers.ScaledDense", "acme-ml 2.3: plain layer (SEC-812)")]


_RECONSTRUCTOR_CASES = {
    # copyreg._reconstructor(cls, object, None): object.__new__(cls), then BUILD runs cls.__setstate__.
    "reconstructor": b"ccopy_reg\n_reconstructor\np0\n(cacme.evil\nThing\np1\nc__builtin__\nobject\np2\nNtp3\nRp4\n.",
    # ... with a base other than object: base.__new__(cls, state) and base.__init__(obj, state) really run.
    "reconstructor-base": b"ccopy_reg\n_reconstructor\n(c__builtin__\nobject\ncacme.evil\nBase\nS'x'\ntR.",
    "newobj-helper": b"ccopy_reg\n__newobj__\n(cacme.evil\nThing\ntR.",
}


@pytest.mark.parametrize("case", sorted(_RECONSTRUCTOR_CASES))
def test_copyreg_helpers_are_not_weaker_than_the_class_they_build(tmp_path: Path, case: str) -> None:
    """Before: the class was only 'imported' (medium) although the allowlisted helper instantiates it; NEWOBJ on
    the same class (what protocol 2 writes) was high."""
    _, findings, _ = analyze_bytes(tmp_path, _RECONSTRUCTOR_CASES[case])
    unreviewed = {f.evidence["value"] for f in findings if f.rule_id == "AISEC-MDL-002"}
    assert unreviewed == {"acme.evil.Base" if case == "reconstructor-base" else "acme.evil.Thing"}


def test_copyreg_reconstruction_of_allowlisted_classes_stays_quiet(tmp_path: Path) -> None:
    """An allowlisted class rebuilt through copyreg on an allowlisted builtin base stays below low."""
    data = b"ccopy_reg\n_reconstructor\n(ccollections\nOrderedDict\nc__builtin__\ndict\n(dtR."
    _, findings, _ = analyze_bytes(tmp_path, data)
    assert not _loud(findings, "low")
