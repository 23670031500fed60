"""One CLI scan of a hostile tree: nothing is written but the requested reports, nothing outside the root is read,
and a file that makes a parser loop in native code is cut off by the per-file time budget (exit code 2).

The tree holds archives whose member names climb out (``../``, absolute, through a symlink member), hard and
symbolic links, ONNX external data pointing outside, a Hugging Face folder whose ``auto_map`` and symlinked
module name files outside the root, a dataset full of paths, a config file planted in the scanned folder, and
an HDF5 file on which libhdf5 loops forever (found by fuzzing the Keras reader).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, REPO

HANG = Path(__file__).parent / "hangs" / "keras_hdf5_loop.h5"
ESCAPE_NAMES = ("../../escaped_zip.txt", "../escaped.txt", "a/../../../escaped_deep.txt")


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def _tar(absolute_target: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as archive:
        def add(info: tarfile.TarInfo, data: bytes = b"") -> None:
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)

        add(tarfile.TarInfo("../escaped_tar.txt"), b"x")
        add(tarfile.TarInfo(absolute_target), b"x")
        link = tarfile.TarInfo("up")
        link.type, link.linkname = tarfile.SYMTYPE, "../.."
        add(link)
        add(tarfile.TarInfo("up/escaped_via_link.txt"), b"x")
        hard = tarfile.TarInfo("passwd")
        hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/passwd"
        add(hard)
    return out.getvalue()


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if not p.is_dir() or p.is_symlink()}


@pytest.fixture(scope="module")
def hostile_scan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("hostile")
    absolute_target = str(base / "escaped_absolute.txt")
    scan = base / "work" / "scan"
    outside = base / "outside"
    for folder in (scan / "archives", scan / "model", outside, base / "out", base / "cwd"):
        folder.mkdir(parents=True)
    (outside / "evil.py").write_text("import os\nos.system('id')\n")
    archives = scan / "archives"
    (archives / "climb.zip").write_bytes(_zip({**{n: b"x" for n in ESCAPE_NAMES}, absolute_target: b"x"}))
    (archives / "links.tar").write_bytes(_tar(absolute_target))
    (archives / "zip_in_zip.zip").write_bytes(_zip({"inner.zip": _zip({"../../../escaped_inner.txt": b"x"})}))
    for name in ("parent.onnx", "absolute.onnx"):
        shutil.copyfile(FIXTURES / "AISEC-MDL-035" / "fail" / name, archives / name)
    (archives / "paths.csv").write_text("path,label\n../../../etc/passwd,1\n/etc/shadow,0\n~/.ssh/id_rsa,1\n")
    (archives / "aisec.yaml").write_text("policy: audit\nformat: sarif\n")  # planted config: must be ignored
    model = scan / "model"
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    (model / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))
    dotted = ".".join(outside.parts[1:])
    (model / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": f".{dotted}.evil.Model",
                                                                "AutoConfig": "modeling_link.Config"}}))
    os.symlink(outside / "evil.py", model / "modeling_link.py")
    shutil.copyfile(HANG, scan / "weights.h5")
    policy = base / "policy.yaml"  # outside the scanned tree: the policy is trusted input
    policy.write_text("name: hardening\nextends: audit\nlimits: {max_seconds_per_file: 3}\n")
    before = _snapshot(base)
    run = subprocess.run([sys.executable, "-m", "aisec", "scan", str(scan), "--policy", str(policy), "--format",
                          "json", "-o", str(base / "out" / "report.json"), "--sarif", str(base / "out" / "r.sarif"),
                          "--jobs", "2", "--quiet", "--no-color"],
                         cwd=base / "cwd", capture_output=True, text=True, timeout=240, check=False,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    after = _snapshot(base)
    report = json.loads((base / "out" / "report.json").read_text()) if (base / "out" / "report.json").exists() else {}
    return {"run": run, "before": before, "after": after, "report": report, "absolute": Path(absolute_target),
            "base": base}


def test_nothing_is_written_but_the_requested_reports(hostile_scan: dict[str, Any]) -> None:
    before, after = hostile_scan["before"], hostile_scan["after"]
    created = sorted(set(after) - set(before))
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert created == ["out/r.sarif", "out/report.json"], hostile_scan["run"].stderr
    assert changed == []
    assert not hostile_scan["absolute"].exists()
    assert not any(p.name.startswith("escaped") for p in hostile_scan["base"].parent.rglob("escaped*"))


def test_hostile_names_are_reported_not_followed(hostile_scan: dict[str, Any]) -> None:
    findings = hostile_scan["report"]["findings"]
    unsafe = {f["location"].get("pointer") for f in findings if "unsafe" in f["message"] or "climbs" in f["message"]
              or "../" in f["message"]}
    assert any(p and "escaped_zip" in p for p in unsafe), findings
    assert any(p and "escaped_tar" in p for p in unsafe)


def test_config_values_never_open_files_outside_the_root(hostile_scan: dict[str, Any]) -> None:
    findings = hostile_scan["report"]["findings"]
    # The auto_map references are reported (as code that cannot be reviewed: it is not in the folder), but the
    # outside module (by absolute path or through a symlink) is never read: no import/call finding can come from it.
    remote = [f for f in findings if f["rule_id"] == "AISEC-MDL-048"]
    assert len(remote) == 2
    assert not [f for f in findings if f["rule_id"] in ("AISEC-MDL-039", "AISEC-MDL-040")]
    # The symlink itself is reported by discovery (not followed out of the root), never read.
    link = [e for e in hostile_scan["report"]["errors"] if e["path"].endswith("modeling_link.py")]
    assert link and all("outside" in e["message"] or "symlink" in e["message"] for e in link), link


def test_a_native_parser_loop_is_cut_by_the_time_budget(hostile_scan: dict[str, Any]) -> None:
    run = hostile_scan["run"]
    assert run.returncode == 2, run.stderr
    errors = hostile_scan["report"]["errors"]
    timeouts = [e for e in errors if e["reason"] == "timeout"]
    assert [Path(e["path"]).name for e in timeouts] == ["weights.h5"]
    assert any(f["rule_id"] == "AISEC-GEN-001" and f["path"].endswith("weights.h5")
               for f in hostile_scan["report"]["findings"])
    assert hostile_scan["report"]["summary"]["complete"] is False


def test_a_config_planted_in_the_scanned_folder_is_not_used(hostile_scan: dict[str, Any]) -> None:
    assert hostile_scan["report"]["policy"]["name"] == "hardening"
