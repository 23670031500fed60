"""Column roles a user can see and set: the missing-role notice in every format, the flags, the environment, the
project file, per-file roles in the policy, and inference on real tables and a real corpus."""

from __future__ import annotations

import bz2
import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aisec.cli import EXIT_ERROR, main
from aisec.config import CONFIG_ENV, ENV_VARS
from aisec.datasets.records import Row
from aisec.datasets.roles import infer_roles
from aisec.datasets.settings import DatasetSettings
from aisec.scan import scan
from benchmarks.poisonbench.corpora import REVIEWS_FILE

RT_CORPUS = REVIEWS_FILE  # real Rotten Tomatoes snippets (plot summaries left out), committed with the benchmark
Cli = Callable[..., tuple[int, str, str]]


def _table(name: str, label: str) -> tuple[list[str], list[list[str]]]:
    """A scikit-learn bundled table (real data) with its target column renamed."""
    from sklearn import datasets

    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame.rename(columns={"target": label})
    return [str(c) for c in frame.columns], [[str(v) for v in row] for row in frame.itertuples(index=False)]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _wine_with_conflict(path: Path, label: str) -> Path:
    """Real wine rows, with the first row repeated under another cultivar (a conflicting duplicate, AISEC-DAT-020,
    which only a known label column can reveal)."""
    header, rows = _table("wine", label)
    twin = [*rows[0][:-1], "2" if rows[0][-1] != "2" else "1"]
    return _write(path, header, [*rows, twin])


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    for var in (*ENV_VARS.values(), CONFIG_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([argv[0], "--jobs", "0", "--quiet", *argv[1:]] if argv[0] == "scan" else list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


def _rules(out: str) -> list[str]:
    return [f["rule_id"] for f in json.loads(out)["findings"]]


def test_missing_label_is_a_notice_in_text_json_and_sarif(tmp_path: Path, cli: Cli, sarif_validator: Any) -> None:
    _wine_with_conflict(tmp_path / "wine.csv", "cultivar")
    _code, text, _ = cli("scan", "wine.csv", "--sarif", "out.sarif", "--json", "out.json")
    notice = [line for line in text.splitlines() if line.startswith("Notice:")]
    assert len(notice) == 1 and "wine.csv: no label column" in notice[0] and "--label-column" in notice[0]
    assert "settings.dataset.label_column" in notice[0] and "cultivar" in notice[0]
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["notices"] == [notice[0].removeprefix("Notice: ")]
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    assert not list(sarif_validator.iter_errors(sarif))
    notes = sarif["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
    assert [n["message"]["text"] for n in notes] == document["notices"]
    assert "AISEC-DAT-020" not in _rules(cli("scan", "wine.csv", "-f", "json", "--policy", "audit")[1])


def test_label_column_flag_runs_the_label_rules(tmp_path: Path, cli: Cli) -> None:
    _wine_with_conflict(tmp_path / "wine.csv", "cultivar")
    _code, out, _ = cli("scan", "wine.csv", "-f", "json", "--policy", "audit", "--label-column", "cultivar")
    document = json.loads(out)
    assert "AISEC-DAT-020" in _rules(out) and "AISEC-DAT-045" not in _rules(out)
    assert not any("label column" in n for n in document["notices"])
    # A name that is not in the file is said to be absent, never silently ignored.
    _code, out, _ = cli("scan", "wine.csv", "-f", "json", "--label-column", "kultivar")
    assert any("configured kultivar not in the file" in n for n in json.loads(out)["notices"])


def test_environment_and_project_file_set_the_columns(tmp_path: Path, cli: Cli,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _wine_with_conflict(tmp_path / "wine.csv", "cultivar")
    monkeypatch.setenv("AISEC_LABEL_COLUMN", "cultivar")
    assert "AISEC-DAT-020" in _rules(cli("scan", "wine.csv", "-f", "json", "--policy", "audit")[1])
    monkeypatch.delenv("AISEC_LABEL_COLUMN")
    (tmp_path / "aisec.yaml").write_text("label_column: cultivar\ntext_columns: [notes, summary]\n")
    assert "AISEC-DAT-020" in _rules(cli("scan", "wine.csv", "-f", "json", "--policy", "audit")[1])
    monkeypatch.setenv("AISEC_TEXT_COLUMNS", "body, title")
    _code, out, _ = cli("config", "show", "--json", "--text-column", "review", "--text-column", "headline")
    settings = json.loads(out)["settings"]
    assert settings["label_column"] == {"value": "cultivar", "source": "project file aisec.yaml"}
    assert settings["text_columns"] == {"value": "review,headline", "source": "command line (--text-column)"}
    _code, out, _ = cli("config", "show")
    assert "text_columns  body,title" in out and "from environment (AISEC_TEXT_COLUMNS)" in out


def test_text_column_flag_is_repeatable_and_validated(tmp_path: Path, cli: Cli) -> None:
    header = ["headline", "body", "verdict"]
    rows = [[f"Headline {i}", f"Body text number {i} of the report, long enough.", "up" if i % 2 else "down"]
            for i in range(60)]
    _write(tmp_path / "news.csv", header, rows)
    report = scan([tmp_path / "news.csv"], policy="audit", jobs=0, text_columns=["headline", "body"],
                  label_column="verdict")
    assert not report.notices
    assert cli("scan", "news.csv", "--text-column", "a,b")[0] == EXIT_ERROR


def test_per_file_roles_in_the_policy(tmp_path: Path, cli: Cli) -> None:
    _wine_with_conflict(tmp_path / "data" / "cellar" / "wine.csv", "cultivar")
    _wine_with_conflict(tmp_path / "data" / "lab" / "wine.csv", "grape")
    policy = tmp_path / "roles.yaml"
    policy.write_text("name: roles\nextends: audit\nsettings:\n  dataset:\n    roles:\n"
                      "      - {glob: 'data/cellar/*.csv', label_column: cultivar}\n"
                      "      - {glob: 'data/lab/**', label_column: grape}\n"
                      "      - {glob: 'data/**', label_column: never_used}\n")
    _code, out, _ = cli("scan", "data", "-f", "json", "--policy", str(policy))
    conflicts = sorted(f["path"] for f in json.loads(out)["findings"] if f["rule_id"] == "AISEC-DAT-020")
    assert conflicts == ["data/cellar/wine.csv", "data/lab/wine.csv"]
    assert not json.loads(out)["notices"]
    # The command line beats the policy's per-file roles.
    _code, out, _ = cli("scan", "data", "-f", "json", "--policy", str(policy), "--label-column", "grape")
    paths = sorted(f["path"] for f in json.loads(out)["findings"] if f["rule_id"] == "AISEC-DAT-020")
    assert paths == ["data/lab/wine.csv"]


@pytest.mark.parametrize(("roles", "complaint"), [
    ("{label_column: y}", "roles[0].glob must be a non-empty path pattern"),
    ("{glob: '*.csv', label: y}", "roles[0]: unknown key 'label' (did you mean 'label_column'?)"),
    ("{glob: '*.csv', text_columns: body}", "roles[0].text_columns must be a non-empty list"),
    ("{glob: '*.csv'}", "roles[0] sets no column"),
    ("'*.csv'", "roles[0] must be a mapping"),
])
def test_bad_per_file_roles_stop_the_scan_with_a_clear_error(tmp_path: Path, cli: Cli, roles: str,
                                                             complaint: str) -> None:
    _wine_with_conflict(tmp_path / "wine.csv", "cultivar")
    (tmp_path / "bad.yaml").write_text(f"name: bad\nextends: default\nsettings:\n  dataset:\n    roles: [{roles}]\n")
    code, _out, err = cli("scan", "wine.csv", "--policy", "bad.yaml")
    assert code == EXIT_ERROR and complaint in err


def _rows(header: list[str], rows: list[list[str]]) -> list[Row]:
    return [Row(index=i, line=i + 2, values=dict(zip(header, row, strict=True))) for i, row in enumerate(rows[:500])]


@pytest.mark.parametrize("name", ["wine", "breast_cancer", "iris", "digits", "diabetes"])
@pytest.mark.parametrize("label", ["cultivar", "y_value", "kind"])
def test_ordinary_tables_never_get_a_wrong_label(name: str, label: str) -> None:
    header, rows = _table(name, label)
    roles = infer_roles(_rows(header, rows), DatasetSettings())
    assert roles.label is None, f"{name}: {roles.label} guessed as the label"
    assert not roles.text
    named = infer_roles(_rows(*_table(name, "target")), DatasetSettings())
    assert named.label == ("target" if name != "diabetes" else None)  # diabetes' target is a continuous outcome


def test_rotten_tomatoes_category_is_the_label_even_when_sorted() -> None:
    with bz2.open(RT_CORPUS, "rt", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for _, row in zip(range(3000), reader, strict=False)]
    head = sorted(rows, key=lambda r: r[header.index("category")])  # the first 500 rows hold one class
    roles = infer_roles(_rows(header, head), DatasetSettings())
    assert roles.label == "category" and "text" in roles.text
