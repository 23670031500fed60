"""The GitHub Action, the pre-commit hook and the example workflow: their shape, and that what they run exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from aisec.cli import build_parser
from tests.conftest import REPO


def _load(name: str) -> Any:
    return yaml.safe_load((REPO / name).read_text(encoding="utf-8"))


def _scan_argv(command: str) -> list[str]:
    """``scan ...`` from the ``aisec scan`` line of a shell script, with its shell variables made concrete."""
    line = next(ln for ln in command.splitlines() if ln.strip().startswith("aisec scan"))
    line = line.replace('"${paths[@]}"', "models").replace('"$AISEC_SARIF_FILE"', "out.sarif")
    return shlex.split(line)[1:]


def test_action_is_a_composite_that_installs_itself_scans_and_always_uploads() -> None:
    action = _load("action.yml")
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert {"paths", "policy", "fail-on", "sarif-file", "category"} <= set(inputs)
    assert all("description" in spec and "default" in spec for spec in inputs.values())
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert install["env"]["AISEC_ACTION_PATH"] == "${{ github.action_path }}" and "$AISEC_ACTION_PATH" in install["run"]
    scan = next(s for s in steps if s.get("id") == "scan")
    assert all(s.get("shell") == "bash" for s in steps if "run" in s)
    # inputs reach the script through the environment only (no ${{ }} expansion inside the script)
    assert "${{" not in scan["run"]
    assert scan["env"]["AISEC_FAIL_ON"] == "${{ inputs.fail-on }}"
    assert scan["env"]["AISEC_POLICY"] == "${{ inputs.policy }}"
    args = build_parser().parse_args(_scan_argv(scan["run"]))
    assert args.verb == "scan" and args.sarif == "out.sarif" and args.paths == ["models"]
    upload = steps[-1]
    assert upload["uses"] == "github/codeql-action/upload-sarif@v3"
    assert upload["if"].startswith("always()")
    assert upload["with"] == {"sarif_file": "${{ inputs.sarif-file }}", "category": "${{ inputs.category }}"}
    text = (REPO / "action.yml").read_text(encoding="utf-8")
    assert "security-events: write" in text and "contents: read" in text


def test_action_inputs_map_to_environment_variables_aisec_reads() -> None:
    from aisec.config import ENV_VARS

    scan = next(s for s in _load("action.yml")["runs"]["steps"] if s.get("id") == "scan")
    used = {k for k in scan["env"] if k.startswith("AISEC_") and k not in ("AISEC_PATHS", "AISEC_SARIF_FILE")}
    assert used <= set(ENV_VARS.values())
    # empty defaults so the repository's aisec.yaml is not overridden by the action
    inputs = _load("action.yml")["inputs"]
    assert inputs["policy"]["default"] == "" and inputs["fail-on"]["default"] == ""


def test_example_workflow_uses_the_action_with_the_documented_permissions() -> None:
    workflow = _load("examples/github-workflow.yml")
    assert workflow["permissions"] == {"contents": "read", "security-events": "write"}
    steps = workflow["jobs"]["scan"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    ours = next(s for s in steps if "aisec" in s.get("uses", "") and "checkout" not in s["uses"])
    inputs = set(_load("action.yml")["inputs"])
    assert set(ours["with"]) <= inputs
    assert ours["with"]["fail-on"] == "high" and ours["with"]["min-severity"] == "info"


def test_pre_commit_hook_runs_aisec_scan_on_model_and_dataset_files() -> None:
    hooks = _load(".pre-commit-hooks.yaml")
    assert isinstance(hooks, list) and len(hooks) == 1
    hook = hooks[0]
    assert hook["id"] == "aisec" and hook["entry"] == "aisec scan" and hook["language"] == "python"
    assert hook["pass_filenames"] is True and hook["require_serial"] is True
    args = build_parser().parse_args([*shlex.split(hook["entry"])[1:], "models/a.pkl", "data/train.csv"])
    assert args.verb == "scan" and args.paths == ["models/a.pkl", "data/train.csv"]
    pattern = re.compile(hook["files"])
    for name in ("model.pkl", "weights/PYTORCH_MODEL.BIN", "a/b/model.safetensors", "m.gguf", "x.onnx", "t.parquet",
                 "train.jsonl", "d/data.csv", "m/model.sig", "config.json", "tokenizer_config.json",
                 "chat_template.jinja", "ckpt.pt", "arr.npz", "model.keras", "saved_model.pb", "bundle.tar.gz"):
        assert pattern.search(name), name
    for name in ("setup.py", "README.md", "src/app.ts", "Makefile", "picklerick.py", "notes.txt"):
        assert not pattern.search(name), name


def test_console_script_the_hooks_call_is_declared() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^aisec = "aisec\.cli:main"$', text, re.M)


def test_ci_installs_chromium_before_the_suite_only_when_missing() -> None:
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    install = script.index("apt-get install -y -qq chromium")
    assert script.index("command -v chromium") < install < script.index('bash -c "$cmd"')
    assert "AISEC_CI_PRINT_ONLY" in script[: script.index("command -v chromium")]


def test_readme_documents_the_workflow_files() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    for needle in ("examples/github-workflow.yml", "security-events: write", "id: aisec", "--baseline",
                   "gitlab-sast", "aisec report", "verify-attestation", "AISEC_FAIL_ON", "[tool.aisec]"):
        assert needle in text, needle
    assert Path(REPO / "examples" / "github-workflow.yml").is_file()
