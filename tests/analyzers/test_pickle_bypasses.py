"""Each pickle bypass family is seen through: the walker resolves what really gets called."""

from __future__ import annotations

from pathlib import Path

import pickle_ops as ops
import pytest

from tests.analyzers.pickle_helpers import analyze_bytes, rule_ids, values

CMD = "true"


def test_memo_indirection_resolves_to_the_stored_global(tmp_path: Path) -> None:
    """A callable stored with BINPUT, popped, and fetched back with BINGET is still os.system."""
    facts, findings, _ = analyze_bytes(tmp_path, ops.memo_indirect_call(CMD))
    assert "os.system" in values(facts, "pickle.call")
    assert "AISEC-MDL-001" in rule_ids(findings)


def test_dotted_name_through_harmless_module_is_normalised(tmp_path: Path) -> None:
    """Protocol 4 find_class walks ``pathlib`` + ``os.system`` by getattr: it is os.system (denylist os.*)."""
    facts, findings, _ = analyze_bytes(tmp_path, ops.dotted_name_call(CMD))
    imports = {f.value: f for f in facts if f.key == "pickle.import"}
    assert imports["os.system"].detail["alias_of"] == "pathlib.os.system"
    assert imports["os.system"].detail["called"] is True
    assert any(f.rule_id == "AISEC-MDL-001" and f.evidence["value"] == "os.system" for f in findings)


@pytest.mark.parametrize("builder", [ops.getattr_call, ops.vars_get_call, ops.attrgetter_call,
                                     ops.reduce_getattr_call], ids=["getattr", "vars+dict.get", "attrgetter",
                                                                   "functools.reduce"])
def test_attribute_traversal_resolves_the_reached_callable(tmp_path: Path, builder: object) -> None:
    """getattr/vars/dict.get/attrgetter/reduce chains from pathlib.os all end at a call of os.system."""
    facts, findings, _ = analyze_bytes(tmp_path, builder(CMD))  # type: ignore[operator]
    assert "pathlib.os.system" in values(facts, "pickle.call")
    assert "os.system" in values(facts, "pickle.import")
    assert "AISEC-MDL-001" in rule_ids(findings)


def test_stack_global_from_a_decodable_constant_is_resolved(tmp_path: Path) -> None:
    """``codecs.decode('bf', 'rot13')`` as the STACK_GLOBAL module is evaluated: os.system, not dynamic."""
    facts, _, _ = analyze_bytes(tmp_path, ops.rot13_stack_global(CMD))
    assert "os.system" in values(facts, "pickle.call")
    assert not values(facts, "pickle.dynamic_global")


def test_stack_global_from_a_computed_value_is_obfuscation(tmp_path: Path) -> None:
    """A STACK_GLOBAL module computed by a call cannot be named statically: MDL-004 critical."""
    facts, findings, _ = analyze_bytes(tmp_path, ops.computed_stack_global(CMD))
    assert any("<result of builtins.str.lower>" in str(v) for v in values(facts, "pickle.dynamic_global"))
    assert "AISEC-MDL-004" in rule_ids(findings)


def test_extension_opcode_is_obfuscation(tmp_path: Path) -> None:
    """EXT1 resolves to whatever copyreg.add_extension registered in the loading process."""
    facts, findings, _ = analyze_bytes(tmp_path, ops.extension_call(0x42))
    assert values(facts, "pickle.extension") == {"copyreg.extension[66]"}
    assert "AISEC-MDL-004" in rule_ids(findings)


@pytest.mark.parametrize("encoding", ["raw", "base64", "hex", "fromhex"])
def test_nested_pickle_payload_is_decoded_and_analyzed(tmp_path: Path, encoding: str) -> None:
    """pickle.loads of a raw, base64, codecs-hex or bytes.fromhex payload: the inner os.system is found."""
    facts, findings, _ = analyze_bytes(tmp_path, ops.nested_loads(ops.system_call_p4(CMD), encoding))
    inner = [f for f in facts if f.key == "pickle.call" and f.value == "os.system"]
    assert inner and inner[0].location.member is not None and "nested pickle" in inner[0].location.member
    assert {"AISEC-MDL-001", "AISEC-MDL-005"} <= rule_ids(findings)


def test_stacked_pickles_are_all_analyzed(tmp_path: Path) -> None:
    """A benign first stream does not hide a malicious second one."""
    data = ops.ordered_dict_p2([("a", 1)]) + ops.system_call_p2(CMD)
    facts, findings, _ = analyze_bytes(tmp_path, data)
    assert values(facts, "pickle.streams") == {2}
    assert "AISEC-MDL-001" in rule_ids(findings)


@pytest.mark.parametrize("builder", [ops.build_on_global, lambda: ops.setitem_on_global(CMD)],
                         ids=["build-on-class", "setitem-os.environ"])
def test_mutating_a_global_is_reported(tmp_path: Path, builder: object) -> None:
    """BUILD/SETITEM on an imported global monkey-patches the loader."""
    _, findings, _ = analyze_bytes(tmp_path, builder())  # type: ignore[operator]
    assert "AISEC-MDL-006" in rule_ids(findings)


def test_call_before_truncation_is_still_reported(tmp_path: Path) -> None:
    """Fail closed: the REDUCE runs before the loader notices the missing STOP."""
    _, findings, errors = analyze_bytes(tmp_path, ops.system_call_p0(CMD)[:-1])
    assert {"AISEC-MDL-001", "AISEC-GEN-001"} <= rule_ids(findings)
    assert any(e.reason == "malformed" for e in errors)


def test_junk_after_a_valid_pickle_is_reported(tmp_path: Path) -> None:
    """Trailing bytes after STOP become MDL-008, not silence."""
    facts, findings, _ = analyze_bytes(tmp_path, ops.ordered_dict_p2([("a", 1)]) + b"\xff\xfe junk")
    assert values(facts, "pickle.trailing_bytes") == {len(b"\xff\xfe junk")}
    assert "AISEC-MDL-008" in rule_ids(findings)


def test_memoized_literal_globals_are_not_obfuscation(tmp_path: Path) -> None:
    """CPython's protocol 4 output memoizes module names and fetches them back: still literal globals."""
    import pickle
    from collections import OrderedDict

    facts, findings, _ = analyze_bytes(tmp_path, pickle.dumps(OrderedDict(a=[1, 2]), protocol=4))
    assert values(facts, "pickle.import") == {"collections.OrderedDict"}
    assert not [f for f in findings if f.severity.rank >= 2]


class TestTorchWeightsOnlyPatterns:
    """Patterns behind weights_only unpickler bugs (GHSA-53q9-r3pm-6pq6 family; see each docstring)."""

    def test_setitem_on_rebuilt_tensor(self, tmp_path: Path) -> None:
        """pytorch/pytorch#170085 (CVE-2026-24747): SETITEM on a tensor corrupted memory under weights_only."""
        from gen_pickle import setitem_on_tensor

        facts, findings, _ = analyze_bytes(tmp_path, setitem_on_tensor())
        assert "setitem-on-tensor" in values(facts, "torch.weights_only_hazard")
        assert "AISEC-MDL-007" in rule_ids(findings)

    def test_tensor_view_past_its_storage(self, tmp_path: Path) -> None:
        """pytorch/pytorch#184652: size/stride reaching past the storage read process memory."""
        data = ops.state_dict_pickle([("w", ops.rebuild_tensor_ops(numel=5, size=(2, 3), stride=(3, 1)))])
        facts, _, _ = analyze_bytes(tmp_path, data)
        assert "tensor-out-of-bounds" in values(facts, "torch.weights_only_hazard")

    def test_in_bounds_tensor_is_quiet(self, tmp_path: Path) -> None:
        """The exact fit (offset 0, 2x3 over 6 elements) is not a hazard."""
        facts, findings, _ = analyze_bytes(tmp_path, ops.state_dict_pickle([("w", ops.rebuild_tensor_ops())]))
        assert not values(facts, "torch.weights_only_hazard")
        assert not [f for f in findings if f.severity.rank >= 2]

    def test_malformed_rebuild_from_type(self, tmp_path: Path) -> None:
        """pytorch/pytorch#169570: _rebuild_from_type_v2 without its function/type globals."""
        from gen_pickle import rebuild_from_type_malformed

        facts, _, _ = analyze_bytes(tmp_path, rebuild_from_type_malformed())
        assert "rebuild-from-type-malformed" in values(facts, "torch.weights_only_hazard")

    def test_negative_numel(self, tmp_path: Path) -> None:
        """pytorch/pytorch#181310: element counts that overflow the byte size computation."""
        facts, _, _ = analyze_bytes(tmp_path, ops.state_dict_pickle([("w", ops.rebuild_tensor_ops(numel=-1))]))
        assert "storage-numel-overflow" in values(facts, "torch.weights_only_hazard")
