"""Regression tests for the fail-open holes of issue 11 §3: each one passed a loadable payload before its fix."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import gen_archive as ga
import joblib
import pickle_ops as ops
import pytest
from joblib.numpy_pickle_compat import write_zfile

from aisec.scan import scan
from tests.analyzers.pickle_helpers import analyze_bytes, rule_ids, values

EVIL = ops.system_call_p2("true")
JOBLIB_DATA = Path(joblib.__file__).parent / "test" / "data"
"""joblib's own historic dumps (joblib 0.8.4 … 0.11), shipped inside the joblib wheel."""


def _zfile(data: bytes) -> bytes:
    buffer = io.BytesIO()
    write_zfile(buffer, data)
    return buffer.getvalue()


# --- 1. joblib's legacy Z-file (and every other layout joblib.load dispatches on) ---------------------------

@pytest.mark.parametrize("name", ["model.pkl", "model.joblib", "model.gz", "weights.txt", "no_extension"])
def test_joblib_zfile_is_unpacked_under_any_name(tmp_path: Path, name: str) -> None:
    """``ZF`` + hex length + zlib: joblib 1.6 unpickles it; the call inside is found whatever the name."""
    facts, findings, errors = analyze_bytes(tmp_path, _zfile(EVIL), name)
    assert "zlib" in values(facts, "artifact.kind")
    assert "os.system" in values(facts, "pickle.call")
    assert "AISEC-MDL-001" in rule_ids(findings)
    assert not errors


def test_joblib_zfile_with_python2_padding_space(tmp_path: Path) -> None:
    """joblib <= 0.8.4 wrote one more space after the length; joblib skips it, so must we."""
    facts, _, _ = analyze_bytes(tmp_path, ga.joblib_zfile(EVIL, py27_space=True), "old.pkl")
    assert "os.system" in values(facts, "pickle.call")


def test_joblib_zfile_fails_the_strict_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's reproduction: exit 0 under --policy strict before the fix."""
    (tmp_path / "clf.pkl").write_bytes(_zfile(EVIL))
    monkeypatch.chdir(tmp_path)
    report = scan([Path("clf.pkl")], policy="strict")
    assert any(f.rule_id == "AISEC-MDL-001" for f in report.findings)


def test_lzma_alone_with_any_dictionary_size(tmp_path: Path) -> None:
    """joblib takes ``5d 00`` as .lzma and liblzma rounds any dictionary size up: no 'plausible size' gate."""
    data = ga._lzma_alone(ops.system_call_p4("true"), dictionary=0x00123400)
    facts, findings, _ = analyze_bytes(tmp_path, data, "model.joblib")
    assert "xz" in values(facts, "artifact.kind")
    assert "AISEC-MDL-001" in rule_ids(findings)


def test_benign_zfile_is_quiet(tmp_path: Path) -> None:
    facts, findings, errors = analyze_bytes(tmp_path, _zfile(pickle.dumps({"w": [1.0, 2.0]}, protocol=2)),
                                            "numbers.pkl")
    assert "pickle" in values(facts, "artifact.member_kind")
    assert not [f for f in findings if f.severity.rank >= 2] and not errors


def _historic(pattern: str) -> list[Path]:
    found = sorted(JOBLIB_DATA.glob(pattern))
    assert found, f"joblib ships no {pattern} test files at {JOBLIB_DATA}"
    return found


@pytest.mark.parametrize("path", _historic("joblib_*compressed*.gz"), ids=lambda p: p.name)
def test_every_historic_joblib_compressed_dump_is_unpacked(tmp_path: Path, path: Path) -> None:
    """joblib 0.8.4 to 0.11 compressed dumps (Z-files, zlib, gzip) reach the pickle analyzer, without a scan error."""
    facts, _, errors = analyze_bytes(tmp_path, path.read_bytes(), path.name)
    assert "pickle" in values(facts, "artifact.member_kind"), values(facts, "artifact.kind")
    assert values(facts, "pickle.import")
    assert not errors


@pytest.mark.parametrize("path", _historic("joblib_*.pkl.*"), ids=lambda p: p.name)
def test_every_historic_joblib_wrapper_is_unpacked(tmp_path: Path, path: Path) -> None:
    """joblib 0.10/0.11 .bz2/.gzip/.lzma/.xz dumps: decompressed and their pickle analyzed."""
    facts, _, errors = analyze_bytes(tmp_path, path.read_bytes(), path.name)
    assert "pickle" in values(facts, "artifact.member_kind")
    assert not errors


@pytest.mark.parametrize("path", _historic("joblib_*.npy.z"), ids=lambda p: p.name)
def test_historic_zfile_array_companions_are_unpacked_and_quiet(tmp_path: Path, path: Path) -> None:
    """A Z-file companion holds raw array bytes (``ZNDArrayWrapper``): opened, found inert."""
    facts, findings, errors = analyze_bytes(tmp_path, path.read_bytes(), path.name)
    assert values(facts, "artifact.member_kind") and "zlib" in values(facts, "artifact.kind")
    assert not [f for f in findings if f.severity.rank >= 2] and not errors
