"""Executables among model files: headers parsed (never run), the image's end found, embedded GGUF analysed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from gen_executable import elf, llamafile, pe  # fixtures/ is on sys.path (tests/analyzers/__init__.py)
from gen_formats import gguf_model

from aisec.analysis import _analyze_nested
from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.executable import ExecutableAnalyzer
from aisec.errors import ArtifactError
from aisec.limits import Limits
from aisec.model import Fact
from aisec.scan import scan
from aisec.source import BytesSource


def facts(data: bytes) -> tuple[list[Fact], AnalysisContext]:
    context = AnalysisContext(path="model.bin", limits=Limits(), nested=_analyze_nested)
    found: list[Fact] = []
    try:
        found.extend(ExecutableAnalyzer().analyze(BytesSource(data, budget=Limits().max_read_bytes), context))
    except ArtifactError as exc:
        context.error("malformed", str(exc))
    return found, context


def test_the_image_end_of_this_machine_s_own_programs() -> None:
    """A real ELF (the Python interpreter running the test) ends where its headers say: nothing is appended."""
    data = Path(sys.executable).resolve().read_bytes()
    found, context = facts(data)
    assert not context.errors
    assert [(f.key, f.value, f.detail["image_end"]) for f in found] == [("executable.format", "elf", len(data))]


def test_a_real_pe_image_ends_at_its_last_section() -> None:
    import pip._vendor.distlib as distlib  # pip ships real Windows launcher executables

    launcher = Path(distlib.__file__).parent / "t64.exe"
    data = launcher.read_bytes()
    found, _ = facts(data)
    assert found[0].value == "pe" and 0 < int(found[0].detail["image_end"]) <= len(data)
    found, _ = facts(data + b"\0" * 4 + gguf_model(None))
    embedded = [f for f in found if f.key == "executable.embedded_model"]
    assert [f.detail["offset"] for f in embedded] == [len(data) + 4]
    assert any(f.key == "gguf.architecture" and f.location.member == f"@{len(data) + 4}.gguf" for f in found)


def test_llamafile_gguf_is_a_zip_member_not_an_appended_model() -> None:
    found, context = facts(llamafile({"m.gguf": gguf_model(None), ".args": b"-m\nm.gguf\n"}))
    assert not context.errors
    assert [(f.key, f.value) for f in found] == [("executable.format", "ape"), ("executable.embedded_model", "gguf")]
    assert found[1].detail["member"] == "m.gguf"


@pytest.mark.parametrize("data", [b"MZ" + bytes(200), b"\x7fELF\x05\x01" + bytes(100), b"\xca\xfe\xba\xbe" + bytes(64)])
def test_data_with_a_program_magic_is_not_an_executable(data: bytes) -> None:
    assert facts(data) == ([], facts(data)[1]) and not facts(data)[1].errors


def test_headers_that_point_past_the_file_are_reported_and_not_fully_scanned() -> None:
    program = bytearray(elf())
    program[56:58] = (60000).to_bytes(2, "little")  # e_phnum far beyond the file
    found, context = facts(bytes(program))
    assert [f.value for f in found] == ["elf"] and "headers cannot be parsed" in context.errors[0].message
    found, context = facts(pe()[:0x160])  # section table cut off
    assert [f.value for f in found] == ["pe"] and "runs past the end" in context.errors[0].message
    found, context = facts(pe()[:0x300])  # the section's data cut off
    assert [f.value for f in found] == ["pe"] and "past the end of the file" in context.errors[0].message


def test_scan_reports_the_program_and_the_embedded_template(tmp_path: Path) -> None:
    from gen_executable import fixtures

    target = tmp_path / "weights.bin"
    target.write_bytes(fixtures()["AISEC-MDL-096/fail/elf_with_gguf.bin"])
    shutil.copy(target, tmp_path / "copy.gguf")  # the name lies either way
    report = scan([tmp_path], policy="audit", jobs=0)
    rules = {(Path(f.path).name, f.rule_id) for f in report.findings}
    for name in ("weights.bin", "copy.gguf"):
        assert {(name, "AISEC-MDL-095"), (name, "AISEC-MDL-096"), (name, "AISEC-MDL-020")} <= rules
    assert not report.errors
