"""Identify a file's kind from its content (magic bytes and structure), never from its name."""

from __future__ import annotations

import io
import itertools
import json
import pickletools
import re
import struct
from pathlib import PurePosixPath

from aisec import protobuf_wire
from aisec.model import ArtifactKind

SNIFF_BYTES = 64 * 1024
"""How many leading bytes content sniffing looks at."""

_PICKLE_PROTO = 0x80
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_NPY_MAGIC = b"\x93NUMPY"
_PARQUET_MAGIC = b"PAR1"
LZMA_ALONE_PREFIX = b"\x5d\x00"
"""joblib's prefix for ``compress='lzma'`` (.lzma properties byte 0x5d, low byte of the dictionary size)."""
_GGUF_MAGIC = b"GGUF"
JOBLIB_ZFILE_PREFIX = b"ZF"
"""joblib <= 0.9.3 compressed pickles ("Z-files"): ``ZF``, a hex length padded to 19 bytes, zlib data.

joblib 1.x still loads them (``numpy_pickle_compat.read_zfile``) whatever the file is called."""
_ZFILE_HEADER = len(JOBLIB_ZFILE_PREFIX) + 19
# Opcodes that may start a protocol 0/1 pickle, i.e. a pickle without a PROTO header.
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_ARG_TUPLES = frozenset({"TUPLE", "EMPTY_TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "GET", "BINGET", "LONG_BINGET"})
_TEXT_PICKLE_STARTS = (b"c", b"(", b"]", b"}", b"I", b"L", b"F", b"S", b"V", b"N", b"\x88", b"\x89")

EXTENSION_KINDS: dict[str, str] = {
    ".pkl": "pickle", ".pickle": "pickle", ".pt": "pytorch", ".pth": "pytorch", ".bin": "binary",
    ".ckpt": "pytorch", ".joblib": "pickle", ".dill": "pickle", ".safetensors": "safetensors",
    ".gguf": "gguf", ".onnx": "onnx", ".h5": "hdf5", ".hdf5": "hdf5", ".keras": "keras_zip",
    ".npy": "npy", ".npz": "npz", ".pb": "protobuf", ".zip": "zip", ".7z": "7z", ".tar": "tar", ".gz": "gzip",
    ".bz2": "bzip2", ".xz": "xz", ".json": "json", ".jsonl": "jsonl", ".csv": "csv",
    ".parquet": "parquet", ".txt": "text", ".md": "text", ".py": "python", ".jinja": "jinja",
    ".sig": "signature", ".yaml": "text", ".yml": "text", ".nemo": "nemo",
    ".mar": "zip", ".ubj": "xgboost_ubj", ".cbm": "catboost", ".skops": "skops",
    ".rds": "r_data", ".rda": "r_data", ".rdata": "r_data",
    ".pmml": "text",
}
"""What a file name's extension claims; only used to report mismatches."""

_COMPRESSED = frozenset({ArtifactKind.GZIP, ArtifactKind.BZIP2, ArtifactKind.XZ, ArtifactKind.ZLIB, ArtifactKind.LZ4})
_TEXT_KINDS = frozenset({ArtifactKind.TEXT, ArtifactKind.CSV, ArtifactKind.JSON, ArtifactKind.JSONL, ArtifactKind.JINJA,
                         ArtifactKind.PYTHON})
# Extensions whose claim is satisfied by several content kinds.
_COMPATIBLE: dict[str, frozenset[ArtifactKind]] = {
    # ".bin" claims only "not text": raw tensors, legacy PyTorch pickles, old GGML files all use it.
    "binary": frozenset(ArtifactKind) - _TEXT_KINDS,
    # A compressed wrapper is opened and judged by its content; joblib names zlib dumps ".gz" and so on.
    "gzip": _COMPRESSED, "bzip2": _COMPRESSED, "xz": _COMPRESSED,
    "pytorch": frozenset({ArtifactKind.PYTORCH_ZIP, ArtifactKind.TORCHSCRIPT_ZIP, ArtifactKind.PICKLE,
                          ArtifactKind.ZIP, ArtifactKind.TAR}),
    "pickle": frozenset({ArtifactKind.PICKLE, ArtifactKind.ZLIB, ArtifactKind.GZIP, ArtifactKind.BZIP2,
                         ArtifactKind.XZ, ArtifactKind.LZ4}),
    "keras_zip": frozenset({ArtifactKind.KERAS_ZIP, ArtifactKind.ZIP}),
    "npz": frozenset({ArtifactKind.NPZ, ArtifactKind.ZIP}),
    "zip": frozenset({ArtifactKind.ZIP, ArtifactKind.PYTORCH_ZIP, ArtifactKind.KERAS_ZIP, ArtifactKind.NPZ,
                      ArtifactKind.TORCHSCRIPT_ZIP}),
    "json": frozenset({ArtifactKind.JSON, ArtifactKind.JSON_RECORDS}),
    "jsonl": frozenset({ArtifactKind.JSONL, ArtifactKind.JSON, ArtifactKind.JSON_RECORDS}),
    "text": frozenset({ArtifactKind.TEXT, ArtifactKind.CSV, ArtifactKind.JSON, ArtifactKind.JSONL,
                       ArtifactKind.JSON_RECORDS,
                       ArtifactKind.EMPTY, ArtifactKind.JINJA, ArtifactKind.PYTHON}),
    "csv": frozenset({ArtifactKind.CSV, ArtifactKind.TEXT}),
    "python": frozenset({ArtifactKind.PYTHON, ArtifactKind.TEXT}),
    "jinja": frozenset({ArtifactKind.JINJA, ArtifactKind.TEXT}),
    "protobuf": frozenset({ArtifactKind.PROTOBUF, ArtifactKind.TF_SAVEDMODEL, ArtifactKind.ONNX,
                           ArtifactKind.BINARY}),
    "onnx": frozenset({ArtifactKind.ONNX, ArtifactKind.PROTOBUF}),
    "signature": frozenset({ArtifactKind.SIGNATURE, ArtifactKind.JSON}),
    # NeMo writes a plain tar (older releases gzip it).
    "nemo": frozenset({ArtifactKind.TAR, ArtifactKind.GZIP}),
    # Formats made to avoid pickle: xgboost UBJSON and CatBoost are binary documents, skops a zip.
    "xgboost_ubj": frozenset({ArtifactKind.BINARY}),
    "catboost": frozenset({ArtifactKind.BINARY}),
    "skops": frozenset({ArtifactKind.ZIP}),
    # saveRDS/save gzip by default (bzip2 and xz on request); an uncompressed stream is binary or ASCII text.
    "r_data": _COMPRESSED | {ArtifactKind.BINARY, ArtifactKind.TEXT},
}


def declared_kind(name: str) -> str | None:
    """The kind a file name claims, from its (last) extension."""
    suffix = PurePosixPath(name).suffix.lower()
    return EXTENSION_KINDS.get(suffix)


def extension_matches(declared: str | None, kind: ArtifactKind) -> bool:
    """True when the name's claim is compatible with the sniffed content (or makes no claim)."""
    if declared is None or kind is ArtifactKind.EMPTY:
        return True
    allowed = _COMPATIBLE.get(declared)
    if allowed is not None:
        return kind in allowed
    return bool(declared == kind.value)


def sniff(head: bytes, *, zip_names: tuple[str, ...] = (), name: str = "") -> ArtifactKind:
    """Decide an artifact kind from its first bytes (and its zip member names, when a zip).

    ``name`` is used only to break ties between text formats that share a grammar (never for binaries).
    """
    if not head:
        return ArtifactKind.EMPTY
    binary = _sniff_binary(head)
    if binary is not None:
        if binary is ArtifactKind.ZIP:
            return classify_zip(zip_names)
        return binary
    return _sniff_text(head, name)


def _sniff_binary(head: bytes) -> ArtifactKind | None:
    if head.startswith(_ZIP_MAGICS):
        return ArtifactKind.ZIP
    if head[:1] == bytes([_PICKLE_PROTO]) and len(head) > 1 and head[1] <= 5:
        return ArtifactKind.PICKLE
    simple = (
        (_HDF5_MAGIC, ArtifactKind.HDF5), (_NPY_MAGIC, ArtifactKind.NPY), (_GGUF_MAGIC, ArtifactKind.GGUF),
        (_PARQUET_MAGIC, ArtifactKind.PARQUET), (b"\x1f\x8b", ArtifactKind.GZIP), (b"BZh", ArtifactKind.BZIP2),
        (b"\xfd7zXZ\x00", ArtifactKind.XZ), (b"\x04\x22\x4d\x18", ArtifactKind.LZ4),
        (b"7z\xbc\xaf\x27\x1c", ArtifactKind.SEVEN_ZIP),
    )
    for magic, kind in simple:
        if head.startswith(magic):
            return kind
    if _looks_like_lzma_alone(head):
        return ArtifactKind.XZ
    if joblib_zfile_offset(head) is not None:
        return ArtifactKind.ZLIB
    if len(head) >= 262 and head[257:262] == b"ustar":
        return ArtifactKind.TAR
    proto = protobuf_wire.classify(head)
    if proto is not None:
        return ArtifactKind(proto)
    if _looks_like_zlib(head) and not _looks_like_text_pickle(head):  # "(S" is both a zlib header and a pickle
        return ArtifactKind.ZLIB
    if _looks_like_safetensors(head):
        return ArtifactKind.SAFETENSORS
    # The HDF5 superblock may sit at 512, 1024, 2048 … when a user block precedes it.
    for off in (512, 1024, 2048, 4096, 8192):
        if head[off:off + 8] == _HDF5_MAGIC:
            return ArtifactKind.HDF5
    return None


def _looks_like_lzma_alone(head: bytes) -> bool:
    """Legacy .lzma (joblib's compress='lzma'): joblib dispatches on the bytes 5d 00 alone.

    liblzma's .lzma decoder is not picky about the dictionary size (any value is rounded up), so a
    "power of two" test would let a loadable file through; only the uncompressed size must be sane.
    """
    if len(head) < 13 or not head.startswith(LZMA_ALONE_PREFIX):
        return False
    (raw_size,) = struct.unpack("<Q", head[5:13])
    return bool(raw_size == 0xFFFFFFFFFFFFFFFF or raw_size < 1 << 48)


def joblib_zfile_offset(head: bytes) -> int | None:
    """Where the zlib stream of a joblib Z-file starts (after the header and the optional space), or None."""
    if not head.startswith(JOBLIB_ZFILE_PREFIX) or len(head) < _ZFILE_HEADER + 2:
        return None
    # joblib <= 0.8.4 on Python 2 wrote one more space; joblib skips a space there (zlib data never starts so).
    start = _ZFILE_HEADER + 1 if head[_ZFILE_HEADER:_ZFILE_HEADER + 1] == b" " else _ZFILE_HEADER
    return start if _looks_like_zlib(head[start:start + 2]) else None


def _looks_like_zlib(head: bytes) -> bool:
    if len(head) < 2:
        return False
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf * 256 + flg) % 31 == 0 and cmf in (0x08, 0x18, 0x28,
                                                                                        0x38, 0x48, 0x58,
                                                                                        0x68, 0x78)


def _looks_like_safetensors(head: bytes) -> bool:
    if len(head) < 10:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 2 <= length <= 100 * 1024 * 1024 * 1024 and head[8:9] == b"{" and head[9:10] in b'"}\t\n\r '


def classify_zip(names: tuple[str, ...]) -> ArtifactKind:
    """Tell PyTorch, TorchScript, Keras v3 and NumPy .npz layouts apart from a plain zip."""
    if not names:
        return ArtifactKind.ZIP
    base = {n.rsplit("/", 1)[-1] for n in names}
    tops = {n.split("/", 1)[0] for n in names}
    if "config.json" in names and ("metadata.json" in names or "model.weights.h5" in names):
        return ArtifactKind.KERAS_ZIP
    if any(n.endswith("/constants.pkl") or n.startswith("code/") or "/code/" in n for n in names) and \
            "data.pkl" in base:
        return ArtifactKind.TORCHSCRIPT_ZIP
    if "data.pkl" in base and len(tops) == 1:
        return ArtifactKind.PYTORCH_ZIP
    if all(n.endswith(".npy") for n in names):
        return ArtifactKind.NPZ
    return ArtifactKind.ZIP


def _sniff_text(head: bytes, name: str) -> ArtifactKind:
    if _looks_like_text_pickle(head):
        return ArtifactKind.PICKLE
    if head[:1] in (b"\x08", b"\x0a") and len(head) < SNIFF_BYTES and protobuf_wire.is_onnx_tensor(head):
        return ArtifactKind.BINARY  # an ONNX TensorProto is data, however printable its bytes happen to be
    if b"\x00" in head[:8192]:
        return ArtifactKind.ONNX if _looks_like_onnx(head) else _protobuf_or_binary(head)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a genuinely invalid byte, not a cut multi-byte character
            return _protobuf_or_binary(head)
        text = head[: exc.start].decode("utf-8")
    return _classify_text(text, name)


def _classify_text(text: str, name: str) -> ArtifactKind:
    stripped = text.lstrip("\ufeff \t\r\n")
    lower = name.lower()
    if stripped.startswith(("{%", "{{", "{#")):
        return ArtifactKind.JINJA  # Jinja delimiters, never valid JSON
    if stripped.startswith(("{", "[")):
        if _is_jsonl(stripped):
            return ArtifactKind.JSONL
        if '"mediaType"' in stripped[:2048] and "sigstore" in stripped[:2048]:
            return ArtifactKind.SIGNATURE
        from aisec.datasets.json_array_reader import looks_like_records

        return ArtifactKind.JSON_RECORDS if looks_like_records(stripped) else ArtifactKind.JSON
    if _looks_like_python(text, lower):
        return ArtifactKind.PYTHON  # Python source that merely holds template strings is still Python
    if lower.endswith((".yaml", ".yml")):
        return ArtifactKind.TEXT  # YAML that holds Jinja is a config; its templates are analyzed per string
    if "{%" in text or ("{{" in text and lower.endswith((".jinja", ".j2"))):
        return ArtifactKind.JINJA
    if lower.endswith(".py"):
        return ArtifactKind.PYTHON
    if _looks_like_csv(text):
        return ArtifactKind.CSV
    return ArtifactKind.TEXT


_PYTHON_STATEMENT = re.compile(r"^(?:from\s+[\w.]+\s+import\s|import\s+[\w.]+|def\s+\w+\s*\(|class\s+\w+[(:])", re.M)


def _looks_like_python(text: str, lower_name: str) -> bool:
    if text.startswith("#!") and "python" in text.split("\n", 1)[0]:
        return True
    return lower_name.endswith(".py") and _PYTHON_STATEMENT.search(text) is not None


def _is_jsonl(text: str) -> bool:
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if len(lines) < 2:
        return False
    parsed = 0
    for ln in lines[:-1]:  # the last line may be cut by the sniff window
        try:
            json.loads(ln)
        except (ValueError, RecursionError):  # a deeply nested line must not crash discovery
            return False
        parsed += 1
    return parsed >= 1 and lines[0].lstrip().startswith("{")


def _looks_like_csv(text: str) -> bool:
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if len(lines) < 2:
        return False
    for sep in (",", "\t", ";", "|"):
        counts = {ln.count(sep) for ln in lines[:-1]}
        if len(counts) == 1 and next(iter(counts)) >= 1:
            return True
    return _csv_records_agree(text)


def _csv_records_agree(text: str) -> bool:
    """Quoted fields may hold newlines or delimiters: parse records, not lines (the last one may be cut)."""
    import csv
    body = text[: text.rfind("\n") + 1]
    for sep in (",", "\t", ";", "|"):
        try:
            widths = [len(r) for r in itertools.islice(csv.reader(io.StringIO(body), delimiter=sep), 50) if r]
        except csv.Error:
            continue
        widths = widths[:-1]
        if len(widths) >= 3 and widths[0] >= 2 and sum(w == widths[0] for w in widths) >= 0.9 * len(widths):
            return True
    return False


def _looks_like_text_pickle(head: bytes) -> bool:
    """Protocol 0/1 pickles have no header; recognise them by a valid opcode walk that ends in STOP."""
    if not head.startswith(_TEXT_PICKLE_STARTS):
        return False
    ops = 0
    truncated = False
    imported = called = marked = False
    previous = ""
    try:
        for count, (opcode, arg, _pos) in enumerate(pickletools.genops(io.BytesIO(head)), start=1):
            ops = count
            name = opcode.name
            if name == "STOP":
                return count >= 2
            if name in ("GLOBAL", "INST") and not imported:
                module, _, attr = str(arg).partition(" ")
                imported = bool(_DOTTED.fullmatch(module) and _DOTTED.fullmatch(attr))
            # A call the unpickler would really make: REDUCE on an argument tuple, OBJ/INST after a MARK
            # (plain text such as a requirements file decodes to opcodes too, but not to these shapes).
            called = called or (imported and ((name == "REDUCE" and previous in _ARG_TUPLES)
                                             or (name in ("OBJ", "INST") and marked)))
            marked = marked or name == "MARK"
            previous = name
    except (ValueError, EOFError, struct.error) as exc:
        # A pickle cut short (no STOP) still runs every call before the cut when loaded.
        truncated = "exhausted" in str(exc) or "remain" in str(exc)
    if imported and called:
        # A global called before garbage runs when loaded (the loader fails only after the call).
        return True
    # A long pickle may not finish inside the sniff window: a GLOBAL "module\nname\n" start still counts.
    first = head.split(b"\n", 2)
    return head.startswith(b"c") and (len(head) >= SNIFF_BYTES or (truncated and ops >= 3)) and \
        len(first) == 3 and first[0][1:].replace(b".", b"").replace(b"_", b"").isalnum() and \
        first[1].replace(b"_", b"").isalnum()


def _looks_like_onnx(head: bytes) -> bool:
    # ModelProto: field 1 (ir_version, varint) usually first, and producer/graph fields follow.
    return bool(head[:1] == b"\x08" and (b"\x12" in head[:64] or b"\x3a" in head[:64]) and
                (b"onnx" in head[:4096].lower() or b"\x3a" in head[:16]))


def _protobuf_or_binary(head: bytes) -> ArtifactKind:
    if (head[:1] == b"\x08" and b"saved_model" in head[:4096].lower()) or (b"\x12" in head[:2] and \
            b"node" in head[:4096]):
        return ArtifactKind.PROTOBUF
    return ArtifactKind.BINARY
