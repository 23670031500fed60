"""Hydra/OmegaConf YAML configs and NeMo archives: every _target_ is read from the composed YAML, never loaded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gen_nemo import nemo_archive  # fixtures/ is on sys.path (tests/analyzers/__init__.py)

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.hydra_config import HydraConfigAnalyzer
from aisec.errors import ArtifactError
from aisec.limits import Limits
from aisec.model import Fact
from aisec.scan import scan
from aisec.source import BytesSource


def facts(text: str, name: str = "model_config.yaml") -> list[Fact]:
    context = AnalysisContext(path=name, limits=Limits())
    data = text.encode()
    return list(HydraConfigAnalyzer().analyze(BytesSource(data, budget=len(data) + 1), context))


def pairs(found: list[Fact]) -> list[tuple[str, object, str | None]]:
    return [(f.key, f.value, f.location.pointer) for f in found]


def test_targets_with_their_yaml_path_and_line() -> None:
    found = facts("target: nemo.collections.asr.models.EncDecCTCModel\nmodel:\n  dec:\n"
                  "    _target_: os.system\n    command: id\n  opt:\n    - _target_: torch.optim.AdamW\n")
    assert pairs(found) == [("hydra.target", "nemo.collections.asr.models.EncDecCTCModel", "/target"),
                            ("hydra.target", "os.system", "/model/dec/_target_"),
                            ("hydra.target", "torch.optim.AdamW", "/model/opt/0/_target_")]
    assert [f.location.line for f in found] == [1, 4, 7]


def test_legacy_target_keys_count_only_where_they_are_instantiated() -> None:
    text = "target: os.system\nexample: {target: os.system}\nold: {cls: acme.Model, params: {x: 1}}\n"
    assert pairs(facts(text, "notes.yaml")) == [("hydra.target", "acme.Model", "/old/cls")]
    assert ("hydra.target", "os.system", "/target") in pairs(facts(text, "model_config.yaml"))


def test_non_literal_targets_tags_and_resolvers() -> None:
    found = facts("a: {_target_: '${oc.env:CLS}'}\nb: {_target_: [os, system]}\n"
                  "c: !!python/object/apply:os.system ['id']\nd: ${eval:'1+1'}\ne: '!!python/name:os.system'\n")
    assert pairs(found) == [("hydra.target_unresolved", "${oc.env:CLS}", "/a/_target_"),
                            ("hydra.resolver", "oc.env", "/a/_target_"),
                            ("hydra.target_unresolved", "<sequence>", "/b/_target_"),
                            ("yaml.python_tag", "python/object/apply:os.system", "/c"),
                            ("hydra.resolver", "eval", "/d")]


def test_only_yaml_files_are_read() -> None:
    assert facts("_target_: os.system\n", "README.txt") == []


def test_an_alias_bomb_is_walked_once_per_node() -> None:
    lines = ["a0: &a0 {_target_: os.system}"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]  # 9**9 paths when expanded
    started = time.process_time()
    found = facts("\n".join(lines) + "\n")
    assert time.process_time() - started < 5
    assert pairs(found) == [("hydra.target", "os.system", "/a0/_target_")]


@pytest.mark.parametrize("text", ["_target_: [unclosed\n", "a: b: c  # _target_\n",
                                  "- " * 100_000 + "{_target_: x}\n", "[" * 300 + "${eval:1}" + "]" * 300])
def test_malformed_or_deep_configs_are_artifact_errors(text: str) -> None:
    with pytest.raises(ArtifactError):
        facts(text)


def test_unparsable_yaml_without_anything_to_instantiate_is_left_alone() -> None:
    helm = "spec:\n  replicas: {{ .Values.replicas }}\n  image: {{ .Values.image }}: x\n"
    assert facts(helm, "deployment.yaml") == []


def test_a_nemo_archive_is_scanned_member_by_member(tmp_path: Path) -> None:
    config = ("target: nemo.collections.asr.models.EncDecCTCModel\nmodel:\n"
              "  decoder: {_target_: subprocess.check_output, args: [id]}\n")
    for name, gzip in (("plain.nemo", False), ("packed.nemo", True)):
        (tmp_path / name).write_bytes(nemo_archive(config, gzip=gzip))
    report = scan([tmp_path], jobs=0)
    hits = sorted((f.rule_id, f.path, f.location.member or "") for f in report.findings
                  if f.rule_id.startswith("AISEC-MDL-08"))
    assert [(r, p) for r, p, _ in hits] == [("AISEC-MDL-080", "packed.nemo"), ("AISEC-MDL-080", "plain.nemo")]
    assert all(m.endswith("model_config.yaml") for _, _, m in hits)
    assert not [f for f in report.findings if f.rule_id == "AISEC-GEN-002"]  # .nemo is a tar: no mismatch
    assert not report.errors
