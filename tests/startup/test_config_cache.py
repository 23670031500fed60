"""The configuration cache returns exactly what validation returns, and notices every change to its inputs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import pytest

from aisec.analyzers import fact_catalog
from aisec.engine import config_cache
from aisec.engine.policy import BUILTIN_POLICY_NAMES, load_policy
from aisec.engine.rules import load_rules
from aisec.errors import PolicyError
from aisec.paths import builtin_policies_dir, builtin_rules_dir
from aisec.scan import builtin_rules, cached_policy, load_configuration


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(config_cache.CACHE_ENV, str(folder))
    return folder


def test_cached_rules_equal_validated_rules(cache: Path) -> None:
    fresh = load_rules(builtin_rules_dir(), known_facts=fact_catalog())
    assert builtin_rules() == fresh  # cold: validated, then written
    assert len(list(cache.glob("rules-*.json"))) == 1
    assert builtin_rules() == fresh  # warm: decoded from the cache


@pytest.mark.parametrize("name", BUILTIN_POLICY_NAMES)
def test_cached_policies_equal_validated_policies(cache: Path, name: str) -> None:
    fresh = load_policy(name, policies_dir=builtin_policies_dir())
    assert cached_policy(name) == fresh
    warm = cached_policy(name)
    assert warm == fresh and warm.digest == fresh.digest and warm.limits == fresh.limits


def test_warm_configuration_binds_the_same_rules(cache: Path) -> None:
    cold = load_configuration("default")
    warm = load_configuration("default")
    assert warm[0] == cold[0] and warm[1] == cold[1]
    assert [b.rule.id for b in warm[2]] == [b.rule.id for b in cold[2]]
    assert [b.descriptor for b in warm[2]] == [b.descriptor for b in cold[2]]


def test_editing_any_file_of_an_extends_chain_invalidates(cache: Path, tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text("name: base\nextends: default\nfail_on: critical\n")
    child = tmp_path / "child.yaml"
    child.write_text("name: child\nextends: base.yaml\n")
    assert cached_policy(child).fail_on.value == "critical"
    assert cached_policy(child).fail_on.value == "critical"
    base.write_text("name: base\nextends: default\nfail_on: medium\n")
    assert cached_policy(child).fail_on.value == "medium"
    child.write_text("name: child\nextends: base.yaml\nfail_on: low\n")
    assert cached_policy(child).fail_on.value == "low"
    child.write_text("name: child\nextends: base.yaml\nfail_onn: low\n")
    with pytest.raises(PolicyError):
        cached_policy(child)  # a broken file is validated (and rejected), never served from the cache


def test_corrupt_or_foreign_entries_are_rebuilt(cache: Path) -> None:
    fresh = cached_policy("strict")
    (entry,) = cache.glob("policy-*.json")
    entry.write_text("{not json")
    assert cached_policy("strict") == fresh
    document = json.loads(entry.read_text())
    document["value"] = {"$dc": "subprocess:Popen", "f": {"args": ["true"]}}
    entry.write_text(json.dumps(document))
    assert cached_policy("strict") == fresh  # only aisec's own classes are ever constructed
    assert json.loads(entry.read_text())["value"]["$dc"].startswith("aisec.")


def test_empty_cache_setting_turns_the_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config_cache.CACHE_ENV, "")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cached_policy("audit") == load_policy("audit", policies_dir=builtin_policies_dir())
    assert not any(tmp_path.rglob("*.json"))


def test_refused_classes_and_values() -> None:
    with pytest.raises(TypeError):
        config_cache.decode({"$dc": "os:system", "f": {}})
    with pytest.raises(TypeError):
        config_cache.encode(object())
    value = {"a": (1, frozenset({"x"})), 2: [None, 1.5]}
    assert config_cache.decode(json.loads(json.dumps(config_cache.encode(value)))) == value


def test_trust_files_a_policy_names_are_inputs_of_its_entry(cache: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    key = tmp_path / "release.pub"
    key.write_bytes((Path(__file__).parents[1] / "data/signing/keys/signing-key-pub.pem").read_bytes())
    policy = tmp_path / "signed.yaml"
    policy.write_text("name: signed\nextends: default\nsettings:\n  signature:\n    public_keys: [release.pub]\n")
    assert cached_policy(policy).settings["signature"]["public_keys"] == ["release.pub"]
    assert cached_policy(policy).name == "signed"
    key.unlink()
    with pytest.raises(PolicyError, match="trust file"):
        cached_policy(policy)  # checked again at load, as without the cache


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch the content digest to count how many input files each lookup reads."""
    reads: list[int] = []
    real = config_cache.file_digest

    def counted(paths: Iterable[Path]) -> str:
        listed = list(paths)
        reads.append(len(listed))
        return real(listed)
    monkeypatch.setattr(config_cache, "file_digest", counted)
    return reads


def _settle(cache: Path) -> None:
    """Age the inputs past the racy window by moving the entry's own mtime forward (as time passing would)."""
    for entry in cache.glob("*.json"):
        later = entry.stat().st_mtime_ns + (config_cache.RACY_SECONDS + 60) * 1_000_000_000
        os.utime(entry, ns=(later, later))


def test_a_settled_entry_is_served_without_reading_its_inputs(cache: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "input.txt"
    source.write_text("one")
    builds: list[str] = []

    def build() -> str:
        builds.append(source.read_text())
        return builds[-1]
    reads = _counting(monkeypatch)
    assert config_cache.cached("t", "id", build, lambda _v: [source]) == "one"
    assert config_cache.cached("t", "id", build, lambda _v: [source]) == "one"
    assert reads == [1, 1] and builds == ["one"]  # just written: too recent to trust its stat, read it
    _settle(cache)
    assert config_cache.cached("t", "id", build, lambda _v: [source]) == "one"
    assert reads == [1, 1] and builds == ["one"]  # settled and unchanged: no input read


def test_a_same_size_edit_with_the_old_mtime_is_noticed(cache: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "input.txt"
    source.write_text("one")
    assert config_cache.cached("t", "id", source.read_text, lambda _v: [source]) == "one"
    _settle(cache)
    before = source.stat()
    source.write_text("two")  # same size; then the old mtime put back (ctime still moves)
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert config_cache.cached("t", "id", source.read_text, lambda _v: [source]) == "two"


def test_a_touched_unchanged_input_is_read_once_then_trusted(cache: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "input.txt"
    source.write_text("one")
    builds: list[str] = []

    def build() -> str:
        builds.append(source.read_text())
        return builds[-1]
    assert config_cache.cached("t", "id", build, lambda _v: [source]) == "one"
    old = source.stat().st_mtime_ns - 3_600 * 1_000_000_000
    os.utime(source, ns=(old, old))  # a checkout or touch: new stats, same bytes
    _settle(cache)
    reads = _counting(monkeypatch)
    assert config_cache.cached("t", "id", build, lambda _v: [source]) == "one"
    assert reads == [1] and builds == ["one"]  # compared by content, not rebuilt; its new stats recorded
    _settle(cache)
    assert config_cache.cached("t", "id", build, lambda _v: [source]) == "one"
    assert reads == [1]
