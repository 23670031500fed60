"""Hugging Face folders: auto_map remote code, its static red flags, chat templates, pickle beside safetensors."""

from __future__ import annotations

import json
from pathlib import Path

import chat_templates as ct
import gen_formats as gf

from aisec.analyzers.hf_folder import HFFolderAnalyzer
from tests.analyzers.util import run
from tests.conftest import FIXTURES

ANALYZER = HFFolderAnalyzer()


def _folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    return tmp_path


def test_auto_map_references_with_existence_and_other_repos() -> None:
    result = run(ANALYZER, b"", fs_path=FIXTURES / "AISEC-MDL-038" / "fail" / "remote_code")
    refs = {f.value: (f.detail["exists"], f.detail["module_file"], f.location.pointer) for f in result.facts
            if f.key == "hf.remote_code"}
    assert refs == {"configuration_tiny.TinyConfig": (True, "configuration_tiny.py", "/auto_map/AutoConfig"),
                    "modeling_tiny.TinyModel": (True, "modeling_tiny.py", "/auto_map/AutoModel")}
    other = run(ANALYZER, b"", fs_path=FIXTURES / "AISEC-MDL-048" / "fail" / "other_repo")
    assert [(f.detail["other_repo"], f.detail["exists"]) for f in other.facts if f.key == "hf.remote_code"] == \
        [("someone/tiny-code", False)]


def test_tokenizer_auto_map_lists_skip_nulls() -> None:
    result = run(ANALYZER, b"", fs_path=FIXTURES / "AISEC-MDL-048" / "fail" / "tokenizer_auto_map")
    assert result.values("hf.remote_code") == ["tokenization_tiny.TinyTokenizer"]


def test_calls_resolved_through_import_aliases_with_lines() -> None:
    result = run(ANALYZER, b"", fs_path=FIXTURES / "AISEC-MDL-040" / "fail" / "dangerous_call")
    calls = {f.value: f.location.line for f in result.facts if f.key == "hf.remote_code_call"}
    assert calls["os.system"] == 7 and calls["subprocess.run"] == 8 and calls["builtins.exec"] == 9
    paths = {f.location.path for f in result.facts if f.key == "hf.remote_code_call"}
    assert paths == {"artifact/modeling_tiny.py"}


def test_relative_imports_are_followed_and_comments_ignored(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {
        "config.json": json.dumps({"auto_map": {"AutoModel": "modeling_x.X"}}).encode(),
        "modeling_x.py": b"from .helpers import go\n# os.system('x')\nclass X: pass\n",
        "helpers.py": b"import socket\ndef go():\n    return socket.create_connection(('h', 1))\n"})
    result = run(ANALYZER, b"", fs_path=folder)
    assert result.values("hf.remote_code_import") == ["socket"]
    assert result.values("hf.remote_code_call") == ["socket.create_connection"]


def test_unparseable_remote_code_and_bad_config_are_scan_errors(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"config.json": json.dumps({"auto_map": {"AutoModel": "m.X"}}).encode(),
                                "m.py": b"def broken(:\n", "tokenizer_config.json": b'{"a": 1, "a": 2}'})
    result = run(ANALYZER, b"", fs_path=folder)
    messages = [e.message for e in result.errors]
    assert any("m.py does not parse" in m for m in messages)
    assert any("tokenizer_config.json is not valid JSON" in m for m in messages)


def test_templates_in_tokenizer_config_lists_and_chat_template_json(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {
        "tokenizer_config.json": json.dumps({"chat_template": [{"name": "default", "template": ct.LLAMA3}, {
            "name": "rag", "template": ct.OBFUSCATIONS["concat_tilde"]}]}).encode(),
        "chat_template.json": json.dumps({"chat_template": ct.ESCAPES["subclasses"]}).encode()})
    result = run(ANALYZER, b"", fs_path=folder)
    assert {str(f.detail["source"]) for f in result.facts if f.key == "template.obfuscation"} == \
        {"tokenizer_config.json:chat_template.rag"}
    assert {f.location.path for f in result.facts if f.key == "template.escape"} == {"artifact/chat_template.json"}


def test_pickle_beside_safetensors_is_found_by_content(tmp_path: Path) -> None:
    from pickle_ops import ordered_dict_p2

    folder = _folder(tmp_path, {"model.safetensors": gf.safetensors_valid(),
                                "weights.dat": ordered_dict_p2([("w", 1)]), "README.md": b"# model\n"})
    result = run(ANALYZER, b"", fs_path=folder)
    assert [(f.value, f.detail["kind"]) for f in result.facts if f.key == "hf.unsafe_format_with_safetensors"] == \
        [("weights.dat", "pickle")]


def test_a_fifo_named_like_a_config_does_not_hang_the_scan(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "config.json")
    (tmp_path / "model.safetensors").write_bytes(gf.safetensors_valid())
    result = run(ANALYZER, b"", fs_path=tmp_path)
    assert result.raised is None and result.values("hf.remote_code") == []


def test_module_paths_never_leave_the_folder(tmp_path: Path) -> None:
    (tmp_path / "evil.py").write_bytes(b"import subprocess\nsubprocess.run(['id'])\n")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "modeling_x.py").symlink_to(tmp_path / "evil.py")
    _folder(folder, {"config.json": json.dumps({"auto_map": {"AutoModel": "modeling_x.X",
                                                             "AutoConfig": ".tmp.evil.Config"}}).encode()})
    result = run(ANALYZER, b"", fs_path=folder)
    assert {(f.value, f.detail["exists"]) for f in result.facts if f.key == "hf.remote_code"} == \
        {("modeling_x.X", False), (".tmp.evil.Config", False)}
    assert result.values("hf.remote_code_import") == [] and result.values("hf.remote_code_call") == []
