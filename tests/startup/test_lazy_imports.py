"""Start-up stays light: scanning a model imports no dataset or signing stack, and the registry agrees with itself."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from aisec.analyzers import REGISTRY, all_analyzers, analyzers_for
from aisec.model import ArtifactKind

REPO = Path(__file__).resolve().parents[2]
DATASET_STACK = ("numpy", "scipy", "sklearn", "pyarrow", "cleanlab", "pandas")
CONFIG_STACK = ("pydantic", "yaml", "cryptography", "jinja2", "modelscan")


def _modules_after(code: str, cwd: Path) -> set[str]:
    """The top-level packages a fresh interpreter holds after running ``code``."""
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, timeout=120,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd)})
    assert run.returncode == 0, run.stderr
    return set(json.loads(run.stdout.splitlines()[-1]))


def test_registry_kinds_are_the_analyzers_own() -> None:
    for entry, analyzer in zip(REGISTRY, all_analyzers(), strict=True):
        assert type(analyzer).__name__ == entry.name
        assert entry.kinds == analyzer.kinds, entry.name


@pytest.mark.parametrize("kind", list(ArtifactKind))
def test_analyzers_for_is_the_registry_order(kind: ArtifactKind) -> None:
    expected = [a for a in all_analyzers() if kind in a.kinds]
    assert list(analyzers_for(kind)) == expected


def test_scanning_a_model_folder_loads_no_dataset_or_config_stack(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "model.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    (target / "config.json").write_text('{"model_type": "bert"}')
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"
    header += b" " * (63 - len(header) % 64) + b"\n"
    (target / "w.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(16))
    code = (f"from aisec.scan import scan\nreport = scan([{str(target)!r}], jobs=0)\n"
            "assert len(report.artifacts) == 4 and not report.errors, report.errors\n")
    cold = _modules_after(code, tmp_path)  # validates the rules (every analyzer) and fills the cache
    assert {"pydantic", "yaml"} <= cold
    # Warm: no validation; an unsigned folder loads neither the bundle parser nor the manifest/hashing code.
    warm = _modules_after(code + "import sys\nassert not {'aisec.signing.bundle', 'aisec.signing.manifest'} & "
                          "set(sys.modules)\n", tmp_path)
    heavy = warm & {*DATASET_STACK, *CONFIG_STACK}
    assert not heavy, sorted(heavy)
    # Nor the standard library's archive readers (no zip or tar here), difflib (no misspelt key) or traceback
    # (no analyzer bug): ~25 M instructions of a one-pickle scan's ~515 M.
    unused = warm & {"zipfile", "tarfile", "difflib", "traceback"}
    assert not unused, sorted(unused)


def test_scanning_a_dataset_still_runs_the_dataset_analyzer(tmp_path: Path) -> None:
    target = tmp_path / "train.csv"
    target.write_text("text,label\n" + "".join(f"row {i} is fine,{i % 2}\n" for i in range(40)))
    code = (f"from aisec.scan import scan\nreport = scan([{str(target)!r}], jobs=0)\n"
            "assert report.artifacts[0].kind.value == 'csv' and not report.errors, report.errors\n")
    assert "numpy" in _modules_after(code, tmp_path)


def test_the_command_line_parser_loads_no_heavy_stack(tmp_path: Path) -> None:
    loaded = _modules_after("import aisec.cli\naisec.cli.build_parser()\n", tmp_path)
    heavy = loaded & {*DATASET_STACK, *CONFIG_STACK}
    assert not heavy, sorted(heavy)


def test_version_and_a_verb_import_only_what_they_need(tmp_path: Path) -> None:
    code = "from aisec.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
    version = _modules_after(code, tmp_path)
    assert "aisec" in version and not version & {"pydantic", "yaml", "numpy", "cryptography"}
    # Not even the parser: argparse (and gettext, shutil, bz2, lzma behind it) loads when a verb is parsed.
    assert not version & {"argparse", "gettext", "traceback", "shutil", "bz2", "lzma"}, sorted(version)
    code = ("import sys\nfrom aisec.cli.main import build_parser\nbuild_parser('scan')\n"
            "assert not {'aisec.cli.signing', 'aisec.cli.dataset', 'aisec.cli.rules'} & set(sys.modules)\n")
    _modules_after(code, tmp_path)


@pytest.mark.parametrize("argv", [
    ["scan", "models", "-f", "sarif", "-o", "out.sarif", "--hashes", "-j", "2"],
    ["verify", "model", "--signature", "model.sig", "--public-key", "k.pem"],
    ["rules", "list", "--policy", "strict"],
    ["dataset", "check", "data"],
    ["config", "show"],
])
def test_a_verb_parses_the_same_with_its_module_alone(argv: list[str]) -> None:
    from aisec.cli.main import build_parser

    assert vars(build_parser(argv[0]).parse_args(argv)) == vars(build_parser().parse_args(argv))


def test_npy_itemsize_without_numpy_agrees_with_numpy() -> None:
    import warnings

    import numpy

    from aisec.analyzers.numpy_npy import _itemsize

    for order in ("", "<", ">", "|", "="):
        for code in "?bBhHiIlLqQefdgFDGuicSUVMm":
            for digits in ("", "0", "1", "2", "4", "8", "10", "16"):
                for unit in ("", "[ns]", "[D]"):
                    descr = order + code + digits + unit
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        try:
                            expected: int | None = numpy.dtype(descr).itemsize
                        except (TypeError, ValueError):
                            expected = None
                    assert _itemsize(descr) == expected, descr
