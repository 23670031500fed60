"""Model cards and metadata files (README front matter, config/metadata JSON and YAML): secrets and suspicious URLs.

A model card is read as text, line by line, through the dataset text screens (``aisec.datasets.text_signals``:
the named secret patterns, high-entropy tokens and the URL finder), so a credential or a link is reported the same
way in a card as in a dataset cell. A card's YAML front matter is parsed with PyYAML's safe loader (plain data
only); its ``library_name`` is compared with the files beside it (informational).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aisec.analyzers.base import AnalysisContext
from aisec.model import ArtifactKind, Fact, Location, Scalar
from aisec.source import Source

if TYPE_CHECKING:
    from aisec.datasets.text_signals import TextScanner

MAX_CARD_BYTES = 8 * 1024 * 1024
"""Largest card or metadata file read (real ones are kilobytes; a long README with tables stays under 1 MB)."""
MAX_FRONT_MATTER_BYTES = 256 * 1024
"""Largest YAML front matter parsed (Hugging Face's model-index blocks reach tens of KB)."""
MAX_FOLDER_ENTRIES = 10_000
"""Entries of the card's folder listed to compare ``library_name`` with the files present."""
WINDOW = 50_000
"""Characters screened at once; longer lines (minified JSON) are screened in overlapping windows."""
_OVERLAP = 512

CARD_NAMES = frozenset({"readme.md", "model_card.md", "modelcard.md", "model-card.md"})
METADATA_NAMES = frozenset({"mlmodel", "model_index.json", "modules.json", "metadata.json", "params.json"})
"""Metadata files whose names say nothing generic (MLflow's ``MLmodel`` is YAML without an extension)."""

PASTE_SITES = frozenset({"pastebin.com", "paste.ee", "hastebin.com", "ghostbin.com", "ghostbin.co", "rentry.co",
                         "rentry.org", "justpaste.it", "pastes.io", "dpaste.org", "dpaste.com", "paste.rs",
                         "controlc.com", "termbin.com", "transfer.sh", "0x0.st", "paste.c-net.org", "ix.io",
                         "sprunge.us", "privatebin.net", "pastebin.pl", "paste.mozilla.org", "bpa.st"})
"""Anonymous paste and file-drop hosts: content that changes after review, a classic second-stage host."""
SHORTENERS = frozenset({"bit.ly", "bitly.com", "tinyurl.com", "t.co", "goo.gl", "is.gd", "ow.ly", "buff.ly",
                        "rb.gy", "cutt.ly", "shorturl.at", "tiny.cc", "t.ly", "rebrand.ly", "bl.ink", "s.id",
                        "v.gd", "lnkd.in", "shorte.st", "adf.ly", "tiny.one", "urlz.fr", "qr.ae"})
"""URL shorteners: the target is hidden from the reader and can be changed after review."""
TUNNELS = (".ngrok.io", ".ngrok-free.app", ".ngrok.app", ".trycloudflare.com", ".serveo.net", ".loca.lt",
           ".localhost.run")
"""Tunnel endpoints that expose someone's machine under a throwaway name."""
WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".safetensors", ".gguf", ".ggml", ".onnx", ".h5", ".hdf5",
                   ".keras", ".pkl", ".pickle", ".joblib", ".tflite", ".pb", ".msgpack", ".npz", ".npy", ".mlmodel",
                   ".pte", ".pdparams", ".nemo", ".mar", ".zip", ".tar", ".tar.gz", ".tgz", ".7z")
"""Downloads that are model weights or archives of them: fetched over plain HTTP, anyone on the path swaps them."""
_DATA_SCRIPT = re.compile(r"(?i)\bdata:(text/html|text/javascript|application/(?:x-)?javascript|image/svg\+xml|"
                          r"application/xhtml\+xml|text/xml)(;base64)?,([^\s\"')>\]]{0,4096})")
_JS_URI = re.compile(r"(?i)(?:\]\(\s*|href\s*=\s*[\"']?\s*|src\s*=\s*[\"']?\s*)(javascript:[^\s\"')>]{1,200})")
_SCRIPT_MARKUP = re.compile(r"(?i)<script|\bon[a-z]{3,20}\s*=|javascript:")
_SECRET_ANCHORS = ("-----BEGIN", "AKIA", "ASIA", "gh", "github_pat_", "xox", "sk-", "AIza", "_live_", "hf_", "eyJ")
_KEY_WORDS = ("key", "secret", "passw", "token", "bearer")
_SECRET_KEY = re.compile(r"(?i)[\"']?\b([\w.-]{0,40}(?:api[_-]?key|apikey|access[_-]?key|secret|password|passwd|"
                         r"auth[_-]?token|access[_-]?token|hub[_-]?token|hf[_-]?token|bearer|private[_-]?key|"
                         r"client[_-]?secret)[\w.-]{0,40})[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9+/_.=~-]{16,200})[\"']?")
"""A credential-named key with a literal value (``"hub_token": "…"``, ``WANDB_API_KEY=…``)."""
_PLACEHOLDER = re.compile(r"(?i)your|xxxx|example|placeholder|changeme|dummy|redacted|\*{3}|<|\.\.\.|_here|"
                          r"^(?:none|null|true|false)$")
LIBRARY_FILES: Mapping[str, tuple[str, ...]] = {
    "transformers": ("config.json",),
    "diffusers": ("model_index.json", "config.json"),
    "sentence-transformers": ("modules.json", "config_sentence_transformers.json"),
    "peft": ("adapter_config.json",),
    "gguf": ("*.gguf",),
    "llama.cpp": ("*.gguf",),
    "onnx": ("*.onnx",),
    "keras": ("*.keras", "*.h5", "saved_model.pb"),
    "tf-keras": ("*.keras", "*.h5", "saved_model.pb"),
    "timm": ("config.json",),
    "open_clip": ("open_clip_config.json",),
    "nemo": ("*.nemo",),
    "sklearn": ("*.skops", "*.pkl", "*.joblib"),
    "scikit-learn": ("*.skops", "*.pkl", "*.joblib"),
    "mlx": ("*.safetensors", "*.npz"),
}
"""What a ``library_name`` in a card's front matter needs beside it to load (any one of the names or globs)."""


def card_role(name: str) -> str | None:
    """``card`` for a model card, ``metadata`` for a config/metadata file, None for anything else (by file name)."""
    base = name.rsplit("/", 1)[-1].lower()
    if base in CARD_NAMES:
        return "card"
    if base in METADATA_NAMES or base.endswith((".yaml", ".yml")):
        return "metadata"
    if base.endswith(".json") and ("config" in base or "metadata" in base):
        return "metadata"
    return None


class ModelCardAnalyzer:
    """Reports secrets, suspicious URLs and misleading front-matter claims in model cards and metadata files."""

    name = "model_card"
    kinds = frozenset({ArtifactKind.TEXT, ArtifactKind.JSON, ArtifactKind.CSV, ArtifactKind.JINJA})
    provides: Mapping[str, str] = {
        "card.secret": "a credential in a model card or metadata file (value the pattern: private_key, "
                       "huggingface_token, …, high_entropy_token, credential_assignment; detail preview, role)",
        "card.url": "a suspicious URL in a model card or metadata file (value raw_ip, paste_site, shortener, "
                    "tunnel, insecure_download or script_uri; detail url, host, role)",
        "card.library_mismatch": "a model card's front matter names a library_name whose files are not beside the "
                                 "card (value the library; detail expected)",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Only files named like a model card or a config/metadata file are read."""
        name = (context.member or context.path).rsplit("!/", 1)[-1]
        role = card_role(name)
        if role is None:
            return
        if source.size > MAX_CARD_BYTES:
            context.error("limit", f"{role} file larger than {MAX_CARD_BYTES} bytes was not screened",
                          location=context.at(), limit="max_read_bytes")
            return
        text = source.read_at(0, source.size).decode("utf-8", "replace")
        yield from screen_text(text, context, role=role)
        if role == "card":
            yield from _front_matter(text, context)


def screen_text(text: str, context: AnalysisContext, *, role: str) -> Iterator[Fact]:
    """Secrets and suspicious URLs, line by line (each located by its 1-based line)."""
    from aisec.datasets.text_signals import TextScanner

    scanner = TextScanner(max_chars=WINDOW + _OVERLAP)
    seen: set[tuple[str, str, int]] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        for start in range(0, max(len(line), 1), WINDOW):
            chunk = line[start:start + WINDOW + _OVERLAP]
            for fact in _line_facts(scanner, chunk, context, number, role):
                key = (fact.key, str(fact.detail.get("url") or fact.detail.get("preview") or fact.value), number)
                if key not in seen:
                    seen.add(key)
                    yield fact


def _line_facts(scanner: TextScanner, line: str, context: AnalysisContext, number: int,
                role: str) -> Iterator[Fact]:
    where = context.at(line=number)
    hits = scanner.secrets_and_urls(line) if "://" in line or _maybe_secret(line) else []
    url_spans = [(hit.start, hit.end) for hit in hits if hit.key == "dataset.url_host"]
    secret_spans: list[tuple[int, int]] = []
    for hit in hits:
        if hit.key == "dataset.secret":
            if hit.value == "high_entropy_token" and any(s <= hit.start < e for s, e in url_spans):
                continue  # a URL's query or path id (``?package_id=…``); named key patterns still match in URLs
            secret_spans.append((hit.start, hit.end))
            yield context.fact("card.secret", hit.value, location=where, role=role,
                               preview=str(hit.detail.get("preview", "")))
        elif hit.key == "dataset.url_host":
            kind = url_kind(str(hit.detail.get("url", "")), hit.value)
            if kind is not None:
                yield context.fact("card.url", kind, location=where, role=role, host=hit.value[:200],
                                   url=str(hit.detail.get("url", ""))[:300])
    lower = line.lower()
    if ("=" in line or ":" in line) and any(word in lower for word in _KEY_WORDS):
        for m in _SECRET_KEY.finditer(line):
            value = m.group(2)
            if any(s <= m.start(2) < e for s, e in secret_spans) or not _looks_secret(value):
                continue
            yield context.fact("card.secret", "credential_assignment", location=where, role=role,
                               preview=f"{m.group(1)[:60]}={value[:4]}…({len(value)} chars)")
    if "data:" in lower or "javascript:" in lower:
        yield from _script_uris(line, context, where, role)


def _maybe_secret(line: str) -> bool:
    """The dataset screen's own cheap test (an anchor word or a 32-character run) before its regexes run."""
    return any(word in line for word in _SECRET_ANCHORS) or any(len(chunk) >= 32 for chunk in line.split())


def _looks_secret(value: str) -> bool:
    from aisec.datasets.text_signals import shannon_entropy

    if _PLACEHOLDER.search(value) or value.startswith(("$", "os.environ")) or value.isdigit():
        return False
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return len(value) >= 16 and classes >= 2 and shannon_entropy(value) >= 3.5


def url_kind(url: str, host: str) -> str | None:
    """Why a URL is suspicious in a model card, or None."""
    host = host.lower().rstrip(".")
    if _public_or_obfuscated_ip(host):
        return "raw_ip"
    if host in PASTE_SITES or any(host.endswith("." + p) for p in PASTE_SITES):
        return "paste_site"
    if host in SHORTENERS:
        return "shortener"
    if host.endswith(TUNNELS):
        return "tunnel"
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "ftp") and not _local(host) and \
            parts.path.lower().endswith(WEIGHT_SUFFIXES):
        return "insecure_download"
    return None


def _public_or_obfuscated_ip(host: str) -> bool:
    """A global IP address, or an IPv4 address spelled in decimal/hex/octal (an obfuscation in itself).

    Loopback and private addresses are how READMEs document local servers (``http://127.0.0.1:7860``).
    """
    try:
        return ipaddress.ip_address(host.strip("[]")).is_global
    except ValueError:
        return bool(re.fullmatch(r"(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+)){0,3}", host))


def _local(host: str) -> bool:
    if host == "localhost" or host.endswith(".local"):
        return True
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_global
    except ValueError:
        return False


def _script_uris(line: str, context: AnalysisContext, where: Location, role: str) -> Iterator[Fact]:
    import base64
    import binascii
    from urllib.parse import unquote

    for m in _DATA_SCRIPT.finditer(line):
        media, encoded, payload = m.group(1).lower(), bool(m.group(2)), m.group(3)
        if encoded:
            try:
                body = base64.b64decode(payload[: len(payload) // 4 * 4]).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                body = ""
        else:
            body = unquote(payload)
        if "javascript" in media or _SCRIPT_MARKUP.search(body):
            yield context.fact("card.url", "script_uri", location=where, role=role, host="data:" + media,
                               url=m.group(0)[:300])
    for m in _JS_URI.finditer(line):
        yield context.fact("card.url", "script_uri", location=where, role=role, host="javascript:",
                           url=m.group(1)[:300])


def _front_matter(text: str, context: AnalysisContext) -> Iterator[Fact]:
    """The YAML block between the first two ``---`` lines, read as plain data (``yaml.safe_load``)."""
    stripped = text.lstrip("\ufeff")
    if not stripped.startswith("---"):
        return
    lines = stripped.splitlines()
    if lines[0].strip() != "---":
        return
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() in ("---", "...")), None)
    if end is None:
        return  # a horizontal rule opening a document, not front matter
    block = "\n".join(lines[1:end])
    if "{{" in block or "{%" in block:
        return  # a card template (huggingface_hub's own): its front matter is filled in when rendered
    if len(block) > MAX_FRONT_MATTER_BYTES:
        context.error("limit", f"model card front matter larger than {MAX_FRONT_MATTER_BYTES} bytes was not parsed",
                      location=context.at(line=1), limit="max_read_bytes")
        return
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(block, Loader=loader)  # noqa: S506 - a safe loader: plain scalars, lists and maps only
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        context.error("malformed", f"model card front matter does not parse as YAML: {str(exc)[:200]}",
                      location=context.at(line=1))
        return
    if not isinstance(data, dict):
        return
    library = data.get("library_name")
    if isinstance(library, str) and context.member is None and context.fs_path is not None:
        fact = _library_claim(library.strip().lower(), Path(context.fs_path).parent, context)
        if fact is not None:
            yield fact


def _library_claim(library: str, folder: Path, context: AnalysisContext) -> Fact | None:
    expected = LIBRARY_FILES.get(library)
    if expected is None:
        return None
    names: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                names.append(entry.name)
                if len(names) >= MAX_FOLDER_ENTRIES:
                    return None  # a folder this large is not a model folder; no claim is judged on part of it
    except OSError:
        return None
    import fnmatch

    if any(fnmatch.fnmatch(n.lower(), pattern) for n in names for pattern in expected):
        return None
    detail: dict[str, Scalar] = {"expected": " or ".join(expected)}
    return context.fact("card.library_mismatch", library[:100], location=context.at(line=1), **detail)
