"""Regression tests for the fail-open holes of issue 11 §3: each one passed a loadable payload before its fix."""

from __future__ import annotations

import io
import pickle
import struct
from collections.abc import Callable
from pathlib import Path

import gen_archive as ga
import gen_holes as gh
import gen_pickle as gp
import joblib
import numpy as np
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


# --- 2. 7z archives, and every container kind aisec recognises ----------------------------------------------

def test_pickle_inside_7z_is_found(tmp_path: Path) -> None:
    """Before: 7z was not even recognised and passed clean."""
    data = ga.seven_zip([("config.json", b"{}"), ("model/data.pkl", EVIL)])
    facts, findings, errors = analyze_bytes(tmp_path, data, "model.7z")
    assert "7z" in values(facts, "artifact.kind")
    calls = [f for f in facts if f.key == "pickle.call" and f.value == "os.system"]
    assert calls and calls[0].location.member == "model/data.pkl"
    assert "AISEC-MDL-001" in rule_ids(findings) and not errors


def test_benign_7z_is_quiet(tmp_path: Path) -> None:
    data = ga.seven_zip([("config.json", b'{"a": 1}'), ("notes.txt", b"hello\n")])
    facts, findings, errors = analyze_bytes(tmp_path, data, "bundle.7z")
    assert values(facts, "archive.members") == {2}
    assert not [f for f in findings if f.severity.rank >= 2] and not errors


def test_encrypted_7z_is_an_incomplete_scan(tmp_path: Path) -> None:
    data = ga.seven_zip([("model.pkl", EVIL)], password="secret")
    _, findings, errors = analyze_bytes(tmp_path, data, "model.7z")
    assert [e.reason for e in errors] == ["encrypted"]
    assert "AISEC-GEN-001" in rule_ids(findings)


def test_7z_bomb_is_cut_at_the_ratio_limit(tmp_path: Path) -> None:
    data = ga.seven_zip([("zeros.bin", b"\x00" * (8 * 1024 * 1024))])
    facts, findings, errors = analyze_bytes(tmp_path, data, "zeros.7z")
    assert "7z" in values(facts, "archive.bomb")
    assert [e.limit for e in errors] == ["max_compression_ratio"]
    assert {"AISEC-MDL-011", "AISEC-GEN-001"} <= rule_ids(findings)


def test_7z_member_limit(tmp_path: Path) -> None:
    from aisec.limits import Limits

    data = ga.seven_zip([(f"m{i}.txt", b"x") for i in range(5)])
    _, _, errors = analyze_bytes(tmp_path, data, "many.7z", limits=Limits(max_archive_members=3))
    assert [e.limit for e in errors] == ["max_archive_members"]


def test_7z_traversal_name_is_reported_and_not_passed(tmp_path: Path) -> None:
    data = ga.seven_zip([("../evil.pkl", EVIL), ("ok.txt", b"fine")])
    facts, findings, errors = analyze_bytes(tmp_path, data, "trav.7z")
    assert "../evil.pkl" in values(facts, "archive.unsafe_path")
    assert "AISEC-MDL-009" in rule_ids(findings)
    assert [e.reason for e in errors] == ["unsupported"]


def test_damaged_7z_is_an_incomplete_scan(tmp_path: Path) -> None:
    data = ga.seven_zip([("model.pkl", EVIL)])[:40]
    _, findings, errors = analyze_bytes(tmp_path, data, "cut.7z")
    assert [e.reason for e in errors] == ["malformed"]
    assert "AISEC-GEN-001" in rule_ids(findings)


def test_keras_archive_members_are_analyzed(tmp_path: Path) -> None:
    """A .keras zip got only its config.json read: a pickle beside it passed clean."""
    facts, findings, _ = analyze_bytes(tmp_path, ga.keras_with_member("assets/hook.pkl", EVIL), "model.keras")
    assert "keras_zip" in values(facts, "artifact.kind")
    assert "AISEC-MDL-001" in rule_ids(findings)


def test_keras_config_is_analyzed_once(tmp_path: Path) -> None:
    data = ga.keras_with_member("assets/vocab.txt", b"a\nb\n")
    facts, findings, errors = analyze_bytes(tmp_path, data, "model.keras")
    assert len([f for f in facts if f.key == "keras.config_source"]) == 1
    assert not [f for f in findings if f.severity.rank >= 2] and not errors


def test_every_container_kind_has_an_analyzer() -> None:
    """A kind aisec recognises as a container but has no analyzer for would pass silently."""
    from aisec.analyzers import analyzers_for
    from aisec.model import ArtifactKind

    containers = {ArtifactKind.ZIP, ArtifactKind.PYTORCH_ZIP, ArtifactKind.TORCHSCRIPT_ZIP, ArtifactKind.KERAS_ZIP,
                  ArtifactKind.NPZ, ArtifactKind.TAR, ArtifactKind.SEVEN_ZIP, ArtifactKind.GZIP, ArtifactKind.BZIP2,
                  ArtifactKind.XZ, ArtifactKind.ZLIB, ArtifactKind.LZ4}
    openers = {"zip", "tar", "7z", "compressed"}
    missing = [k.value for k in containers if not openers & {a.name for a in analyzers_for(k)}]
    assert not missing


# --- 3. zip members flagged encrypted ------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [0, 8], ids=["stored", "deflated"])
def test_encryption_flag_on_clear_data_is_read_anyway(tmp_path: Path, compress: int) -> None:
    """The flag is only a claim: PyTorch's zip reader ignores it. Before: a medium note, the pickle unread."""
    data = ga.flag_encrypted(ga.build_zip([("archive/data.pkl", EVIL)], compress=compress))
    facts, findings, errors = analyze_bytes(tmp_path, data, "model.pt")
    assert "encryption-flag-on-clear-data" in values(facts, "archive.anomaly")
    assert "AISEC-MDL-001" in rule_ids(findings)
    assert not errors


def test_really_encrypted_member_is_an_incomplete_scan(tmp_path: Path) -> None:
    """A ZipCrypto member (``zipfile`` decrypts it with the password) cannot be vouched for: exit 2, not medium."""
    import zipfile

    data = ga.zipcrypto("model.pkl", EVIL, b"secret")
    assert zipfile.ZipFile(io.BytesIO(data)).read("model.pkl", pwd=b"secret") == EVIL
    facts, findings, errors = analyze_bytes(tmp_path, data, "model.zip")
    assert "encrypted" in values(facts, "archive.anomaly")
    assert [e.reason for e in errors] == ["encrypted"]
    assert "AISEC-GEN-001" in rule_ids(findings)


def test_benign_state_dict_with_the_flag_is_analyzed_quietly(tmp_path: Path) -> None:
    facts, findings, errors = analyze_bytes(tmp_path, ga.flag_encrypted(ga.benign_state_dict_zip()), "sd.pt")
    assert values(facts, "pickle.import") and not errors
    assert {f.rule_id for f in findings if f.severity.rank >= 3} == set()


# --- 4. pickle frames that disagree with their opcodes -------------------------------------------------------

@pytest.mark.parametrize(("build", "reason"), [
    (lambda: gh.frame_ends_inside_string("true"), "frame-ends-inside-an-opcode"),
    (lambda: gh.frame_inside_frame("true"), "frame-inside-a-frame"),
    (gh.frame_past_stop, "frame-past-stop"),
], ids=["inside-string", "nested", "past-stop"])
def test_frame_mismatch_is_high(tmp_path: Path, build: Callable[[], bytes], reason: str) -> None:
    facts, findings, _ = analyze_bytes(tmp_path, build(), "model.pkl")
    assert reason in values(facts, "pickle.frame_mismatch")
    assert any(f.rule_id == "AISEC-MDL-046" and f.severity.rank >= 3 for f in findings)


def test_frame_that_runs_into_joblib_array_data(tmp_path: Path) -> None:
    """joblib reads the array from the file after the frame: a frame past the wrapper's BUILD hides bytes."""
    data = bytearray(gp.joblib_dump({"a": np.arange(4.0)}))
    first = data.index(b"\x95")
    (length,) = struct.unpack("<Q", data[first + 1:first + 9])
    data[first + 1:first + 9] = struct.pack("<Q", length + 8)
    facts, _, _ = analyze_bytes(tmp_path, bytes(data), "arrays.joblib")
    assert "frame-covers-joblib-array-data" in values(facts, "pickle.frame_mismatch")


@pytest.mark.parametrize("protocol", [4, 5])
def test_standard_framing_is_not_a_mismatch(tmp_path: Path, protocol: int) -> None:
    obj = {"blob": b"\x00" * (100 * 1024), "rows": [list(range(30)) for _ in range(30)], "arr": np.arange(9.0)}
    facts, _, errors = analyze_bytes(tmp_path, pickle.dumps(obj, protocol=protocol), "data.pkl")
    assert not values(facts, "pickle.frame_mismatch") and not errors
    for compress in (0, 3):
        facts, _, _ = analyze_bytes(tmp_path, gp.joblib_dump(obj, compress=compress), f"d{compress}.joblib")
        assert not values(facts, "pickle.frame_mismatch")


# --- 5. Keras Lambda layers stored as Python source ----------------------------------------------------------

def _keras3(source: str) -> bytes:
    from gen_graphs import keras3_model, keras_zip

    return keras_zip(keras3_model(gh.lambda3(source)))


@pytest.mark.parametrize(("source", "call"), [
    ("lambda x: __import__('os').system('id') or x", "builtins.__import__"),
    ("lambda x: os.system('id') or x", "os.system"),
    ("lambda x: subprocess.run(['id']) and x", "subprocess.run"),
    ("lambda x: eval(x)", "builtins.eval"),
])
def test_lambda_source_is_analyzed_like_remote_code(tmp_path: Path, source: str, call: str) -> None:
    """Before: only the generic medium (AISEC-MDL-026) whatever the source did."""
    facts, findings, _ = analyze_bytes(tmp_path, _keras3(source), "model.keras")
    assert call in values(facts, "hf.remote_code_call")
    assert any(f.rule_id == "AISEC-MDL-040" and f.severity.rank >= 3 for f in findings)


def test_lambda_source_in_base64_in_a_keras2_h5(tmp_path: Path) -> None:
    from gen_graphs import keras2_model, keras_h5

    data = keras_h5(keras2_model(gh.lambda2_b64("lambda x: os.popen('id').read()")))
    facts, findings, _ = analyze_bytes(tmp_path, data, "model.h5")
    assert "os.popen" in values(facts, "hf.remote_code_call")
    assert "AISEC-MDL-040" in rule_ids(findings)


@pytest.mark.parametrize("source", [
    "lambda x: exec(__import__('base64').b64decode('aW1wb3J0IG9z'))",
    "lambda x: eval(''.join(chr(c) for c in [49]))",
    "lambda x: __import__('so'[::-1])",
    "lambda x: exec(bytes.fromhex('70617373'))",
])
def test_obfuscated_lambda_source_is_high(tmp_path: Path, source: str) -> None:
    facts, findings, _ = analyze_bytes(tmp_path, _keras3(source), "model.keras")
    assert values(facts, "hf.remote_code_obfuscation")
    assert "AISEC-MDL-047" in rule_ids(findings)


@pytest.mark.parametrize("source", ["lambda x: x * 2.0 + 1", "scale_inputs", "lambda x: tf.nn.relu(x)"])
def test_plain_lambda_source_stays_at_the_generic_medium(tmp_path: Path, source: str) -> None:
    _, findings, _ = analyze_bytes(tmp_path, _keras3(source), "model.keras")
    assert rule_ids([f for f in findings if f.severity.rank >= 2]) == {"AISEC-MDL-026"}


# --- 6. protobufs: structure beats printability -------------------------------------------------------------

def _pyfunc_graphs() -> dict[str, bytes]:
    from gen_graphs import function, graph, node

    pyfunc = node("cb", "PyFunc", "x")
    return {
        "versions-first": gh.graph_fields_reordered([node("x", "Placeholder"), pyfunc], [], first="versions"),
        "library-first": gh.graph_fields_reordered([node("x", "Placeholder")],
                                                   [function("__inference_f_1", pyfunc)], first="library"),
        "saved-model-v0": gh.saved_model_without_version(graph([node("x", "Placeholder"), pyfunc])),
    }


@pytest.mark.parametrize("layout", ["versions-first", "library-first", "saved-model-v0"])
def test_tensorflow_graphs_in_any_field_order_reach_the_op_rules(tmp_path: Path, layout: str) -> None:
    """Before: sniffed as text (or nothing), so PyFunc never reached AISEC-MDL-031."""
    facts, findings, _ = analyze_bytes(tmp_path, _pyfunc_graphs()[layout], "saved_model.pb")
    assert values(facts, "artifact.kind") & {"protobuf", "tf_savedmodel"}
    assert "PyFunc" in values(facts, "tf.op")
    assert "AISEC-MDL-031" in rule_ids(findings)


def _onnx_test_tensors() -> list[Path]:
    import onnx

    root = Path(onnx.__file__).parent / "backend" / "test" / "data"
    found = sorted(root.glob("*/*/test_data_set_0/*.pb"))
    assert len(found) > 100, root
    return found


def test_onnx_test_suite_tensors_are_data_not_text() -> None:
    """The ONNX package's own test tensors (TensorProto): before, 14 were 'text' and 2 'onnx' (a model)."""
    from aisec.sniff import SNIFF_BYTES, sniff

    kinds = {p.relative_to(p.parents[3]).as_posix(): sniff(p.read_bytes()[:SNIFF_BYTES], name=p.name).value
             for p in _onnx_test_tensors()}
    assert {k for k in kinds.values()} == {"binary"}, {p: k for p, k in kinds.items() if k != "binary"}


def test_text_is_still_text() -> None:
    from aisec.sniff import sniff

    for text in (b'"a","b"\n"1","2"\n', b"\nhello\n", b'"quoted" words\n' * 3, b"\x08"):
        assert sniff(text, name="x.txt").value in ("text", "csv", "binary"), text


# --- 7. chat templates beyond tokenizer_config.json ----------------------------------------------------------

def _folder_facts(tmp_path: Path, files: dict[str, bytes]) -> list:  # type: ignore[type-arg]
    from aisec.analyzers.hf_folder import HFFolderAnalyzer
    from tests.analyzers.util import run

    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return run(HFFolderAnalyzer(), b"", fs_path=tmp_path).facts


@pytest.mark.parametrize("value", ["string", "list"])
def test_chat_template_in_any_json_config(tmp_path: Path, value: str) -> None:
    """Before: only tokenizer_config.json, chat_template.json and processor_config.json were read."""
    import json

    import chat_templates as ct

    template = ct.ESCAPES["subclasses"]
    entry = template if value == "string" else [{"name": "default", "template": template}]
    facts = _folder_facts(tmp_path, {"generation_config.json": json.dumps({"chat_template": entry}).encode(),
                                     "config.json": b'{"model_type": "llama"}'})
    escapes = [f for f in facts if f.key == "template.escape"]
    assert escapes and {f.location.path.rsplit("/", 1)[-1] for f in escapes} == {"generation_config.json"}


def test_jinja_inside_a_yaml_config_is_analyzed(tmp_path: Path) -> None:
    import chat_templates as ct

    body = "\n".join("  " + line for line in ct.ESCAPES["subclasses"].splitlines())
    facts = _folder_facts(tmp_path, {"axolotl.yaml": f"base_model: x\nchat_template_jinja: |\n{body}\n".encode()})
    assert any(f.key == "template.escape" for f in facts)
    assert "axolotl.yaml:chat_template_jinja" in {f.value for f in facts if f.key == "template.found"}


def test_ordinary_yaml_with_jinja_delimiters_is_not_a_broken_template(tmp_path: Path) -> None:
    """A workflow file with ``{%`` in a shell line is YAML (text), not a Jinja template that fails to parse."""
    from aisec.sniff import sniff

    yaml_text = b"steps:\n  - run: echo '{% raw %} not closed'\n  - run: echo ${{ matrix.python }}\n"
    assert sniff(yaml_text, name="ci.yml").value == "text"
    facts = _folder_facts(tmp_path, {"ci.yml": yaml_text})
    assert not [f for f in facts if f.key in ("template.parse_error", "template.escape")]
    _, findings, errors = analyze_bytes(tmp_path, yaml_text, "workflow.yaml")
    assert not [f for f in findings if f.severity.rank >= 2] and not errors


# --- §4 severity by principle ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("ref", "files", "rule"), [
    ("someone/other-repo--modeling_x.Model", {}, "AISEC-MDL-048"),
    ("modeling_x.Model", {}, "AISEC-MDL-048"),
    ("modeling_x.Model", {"modeling_x.py": b"import torch\n\nclass Model(torch.nn.Module):\n    pass\n"},
     "AISEC-MDL-038"),
])
def test_auto_map_code_that_cannot_be_reviewed_is_high(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ref: str,
                                                       files: dict[str, bytes], rule: str) -> None:
    import json

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "x", "auto_map": {"AutoModel": ref}}))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    report = scan([Path("model")], policy="default")
    remote = {f.rule_id: f.severity.value for f in report.findings if f.rule_id in ("AISEC-MDL-038", "AISEC-MDL-048")}
    assert remote == {rule: "high" if rule == "AISEC-MDL-048" else "medium"}


def test_object_npy_with_an_allowlisted_pickle_is_low(tmp_path: Path) -> None:
    """np.save of an object array (written by numpy itself): needs allow_pickle, but nothing in it runs code."""
    buffer = io.BytesIO()
    np.save(buffer, np.array(["a", 1, 2.5, None], dtype=object), allow_pickle=True)
    facts, findings, _ = analyze_bytes(tmp_path, buffer.getvalue(), "objects.npy")
    assert values(facts, "numpy.object_array")
    assert {(f.rule_id, f.severity.value) for f in findings if f.severity.rank >= 1} == {("AISEC-MDL-013", "low")}


def test_object_npy_with_a_payload_is_still_critical(tmp_path: Path) -> None:
    data = ga.npy_bytes("|O", (1,), EVIL)
    _, findings, _ = analyze_bytes(tmp_path, data, "objects.npy")
    assert any(f.rule_id == "AISEC-MDL-001" and f.severity.value == "critical" for f in findings)


def test_gen002_says_what_the_content_is_and_what_the_name_claims(tmp_path: Path) -> None:
    _, findings, _ = analyze_bytes(tmp_path, EVIL, "weights.safetensors")
    (message,) = [f.message for f in findings if f.rule_id == "AISEC-GEN-002"]
    assert "the content is pickle" in message and "(.safetensors) claims safetensors" in message


@pytest.mark.parametrize(("data", "name"), [
    (bytes(range(256)) * 4, "tensor.bin"),  # raw tensor bytes: normal for .bin
    (b"x\x9c" + b"\x00" * 8, "weights.bin"),
])
def test_raw_binary_bin_is_not_a_mismatch(tmp_path: Path, data: bytes, name: str) -> None:
    _, findings, _ = analyze_bytes(tmp_path, data, name)
    assert "AISEC-GEN-002" not in rule_ids(findings)


def test_joblib_zlib_dump_named_gz_is_not_a_mismatch(tmp_path: Path) -> None:
    path = _historic("joblib_0.10.0_compressed_pickle_py35_np19.gz")[0]
    facts, findings, _ = analyze_bytes(tmp_path, path.read_bytes(), path.name)
    assert "zlib" in values(facts, "artifact.kind") and "AISEC-GEN-002" not in rule_ids(findings)


@pytest.mark.parametrize(("build", "where"), [
    (lambda: gh.safetensors_with(EVIL, b""), "gap"),
    (lambda: gh.safetensors_with(b"", EVIL), "trailing"),
    (lambda: gh.npy_with_tail(EVIL), "npy-tail"),
    (lambda: gh.npy_with_tail(ga.build_zip([("x.pkl", EVIL)])), "npy-tail"),
], ids=["safetensors-gap", "safetensors-tail", "npy-tail", "npy-tail-zip"])
def test_unaccounted_bytes_are_analyzed_like_a_file(tmp_path: Path, build: Callable[[], bytes], where: str) -> None:
    """Before: a pickle in a safetensors gap was a medium 'unused bytes' note, after a .npy nothing at all."""
    facts, findings, _ = analyze_bytes(tmp_path, build(), "weights.bin")
    payload = [f for f in facts if f.key == "format.unaccounted_payload"]
    assert payload and payload[0].detail["where"] == where
    assert {"AISEC-MDL-049", "AISEC-MDL-001"} <= rule_ids(findings)


def test_padding_and_real_npy_are_quiet(tmp_path: Path) -> None:
    for data, name in ((gh.safetensors_with(b"\x00" * 8, b""), "w.safetensors"), (gh.npy_with_tail(b""), "a.npy")):
        facts, findings, _ = analyze_bytes(tmp_path, data, name)
        assert not values(facts, "format.unaccounted_payload")
        assert "AISEC-MDL-049" not in rule_ids(findings)


@pytest.mark.parametrize(("data", "name", "rule"), [
    (gh.safetensors_with(b"\x01" * 8, b"\x01" * 8), "w.safetensors", "AISEC-MDL-024"),
    (gh.safetensors_with(EVIL, EVIL), "w.safetensors", "AISEC-MDL-049"),
], ids=["unused-bytes", "payload"])
def test_gap_and_tail_of_equal_length_are_distinct_findings(tmp_path: Path, data: bytes, name: str,
                                                            rule: str) -> None:
    """Before: fingerprints leave offsets out, so a gap and a tail of the same length had one fingerprint."""
    _, findings, _ = analyze_bytes(tmp_path, data, name)
    prints = [f.fingerprint for f in findings if f.rule_id == rule]
    assert len(prints) == 2 and len(set(prints)) == 2
