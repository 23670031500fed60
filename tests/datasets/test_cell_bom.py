"""U+FEFF inside a value is a hidden character in every format: in Parquet strings and escaped in JSON no reader sees
it as a byte-order mark, so the text rules must."""

from __future__ import annotations

from pathlib import Path

from aisec.scan import scan
from tests.datasets.helpers import analyze


def test_bom_inside_a_parquet_cell_is_reported(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "notes.parquet"
    texts = [f"an ordinary note number {i}" for i in range(40)]
    texts[9] = "pass\ufeffword reset for the admin account"
    pq.write_table(pa.table({"text": texts}), path)
    facts, errors = analyze(path)
    assert not errors
    hidden = [f for f in facts if f.key == "dataset.invisible_char"]
    assert [(f.value, f.location.pointer, f.detail["row"]) for f in hidden] == \
        [("U+FEFF ZERO WIDTH NO-BREAK SPACE", "/9/text", 9)]
    assert [f.rule_id for f in scan([path], policy="default", jobs=0).findings
            if f.rule_id == "AISEC-DAT-001"] == ["AISEC-DAT-001"]


def test_escaped_bom_in_jsonl_is_reported_and_a_leading_file_bom_is_not(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(b'{"text": "note %d"}\n' % i for i in range(5)) +
                     b'{"text": "split\\ufeffword"}\n')
    facts, _ = analyze(path)
    hidden = [f for f in facts if f.key == "dataset.invisible_char"]
    assert [(f.location.line, f.detail["row"]) for f in hidden] == [(6, 5)]
    assert not [f for f in facts if f.key == "dataset.malformed"]
