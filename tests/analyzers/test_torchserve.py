"""TorchServe .mar archives: the manifest's handler, the archive's Python files and requirements, never imported."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

from gen_torchserve import mar  # fixtures/ is on sys.path (tests/analyzers/__init__.py)

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.torchserve import TorchServeAnalyzer
from aisec.limits import Limits
from aisec.model import Fact
from aisec.scan import scan
from aisec.source import BytesSource


def facts(data: bytes) -> tuple[list[Fact], AnalysisContext]:
    context = AnalysisContext(path="model.mar", limits=Limits())
    return list(TorchServeAnalyzer().analyze(BytesSource(data, budget=10 * len(data) + 4096), context)), context


def test_handler_code_is_parsed_and_resolved_through_imports() -> None:
    found, context = facts(mar("serve.handler:handle", {
        "serve/handler.py": b"import subprocess as sp\nfrom base64 import b64decode\n\n\ndef handle(d, c):\n"
                            b"    sp.check_output(['id'])\n    eval(b64decode(d))\n"}))
    assert not context.errors
    handler = next(f for f in found if f.key == "torchserve.handler")
    assert (handler.value, handler.detail["builtin"], handler.detail["exists"]) == \
        ("serve.handler:handle", False, True)
    calls = {(f.value, f.location.pointer, f.location.line) for f in found if f.key == "torchserve.code_call"}
    assert ("subprocess.check_output", "serve/handler.py", 6) in calls
    assert [f.value for f in found if f.key == "torchserve.code_obfuscation"] == ["builtins.eval"]


def test_a_zip_without_a_manifest_is_not_a_mar() -> None:
    found, context = facts(zipped({"handler.py": b"import os\nos.system('id')\n",
                                   "MAR-INF/manifest.txt": b"{}"}))
    assert found == [] and not context.errors


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_broken_manifest_or_handler_source_is_not_fully_scanned() -> None:
    for manifest, message in ((b'{"model": {"handler": "h.py"', "is not valid JSON"), (b"[]", "not a JSON object"),
                              (b'{"model": "h.py"}', "no 'model' object")):
        found, context = facts(zipped({"h.py": b"import os\n", "MAR-INF/MANIFEST.json": manifest}))
        assert found == [] and [e.reason for e in context.errors] == ["malformed"]
        assert message in context.errors[0].message
    data = mar("handler.py", {"handler.py": b"def handle(:\n"})
    found, context = facts(data)
    assert [f.key for f in found] == ["torchserve.handler"]
    assert [(e.reason, e.location.pointer) for e in context.errors] == [("malformed", "handler.py")]


def test_requirement_origins() -> None:
    found, _ = facts(mar("image_classifier", {"req.txt": (
        b"torch==2.3\n# comment\n-e .\nacme @ https://acme.example/acme.whl\n./wheels/x.whl\n"
        b"--index-url https://mirror.example/simple\nnumpy  # arrays\n")}, requirements="req.txt"))
    assert [(f.value, f.detail["origin"]) for f in found if f.key == "torchserve.requirement"] == [
        ("torch==2.3", "index"), ("-e .", "option"), ("acme @ https://acme.example/acme.whl", "url"),
        ("./wheels/x.whl", "path"), ("--index-url https://mirror.example/simple", "option"), ("numpy", "index")]


def test_the_serialized_model_inside_is_analysed_as_a_nested_pickle(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os
            return os.system, ("true",)

    data = mar("image_classifier", {})
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buffer, "w") as out:
        for info in src.infolist():
            out.writestr(info, pickle.dumps(Boom(), protocol=2) if info.filename == "model.pt" else src.read(info))
    path = tmp_path / "weights.bin"  # the name lies; the content is a .mar
    path.write_bytes(buffer.getvalue())
    report = scan([path], policy="audit", jobs=0)
    hits = [f for f in report.findings if "model.pt" in (f.location.member or "")]
    assert any(f.severity.name == "CRITICAL" for f in hits), [f.rule_id for f in report.findings]
    assert not report.errors
