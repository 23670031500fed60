"""Progress inside a large dataset file (rows and bytes), from the in-process and the worker-process executor."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from aisec import executor, file_progress
from aisec.analysis import ArtifactResult
from aisec.progress import ProgressLine
from aisec.scan import scan


class _Recorder:
    """A progress object that keeps what executors tell it (the CLI's ProgressLine draws the same calls)."""

    def __init__(self) -> None:
        self.finished: list[str] = []
        self.inside: list[tuple[str, int, int, int]] = []

    def __call__(self, result: ArtifactResult) -> None:
        self.finished.append(result.artifact.path)

    def in_file(self, path: str, rows: int, bytes_read: int, size: int) -> None:
        self.inside.append((path, rows, bytes_read, size))


@pytest.fixture
def big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    # Real-sized files would make a slow test; the thresholds are lowered instead (the code path is the same).
    monkeypatch.setattr(executor, "IN_FILE_MIN_BYTES", 100_000)
    monkeypatch.setattr(executor, "IN_FILE_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(file_progress, "EVERY_ROWS", 1000)
    path = tmp_path / "big.csv"
    path.write_text("id,value,note\n" + "".join(f"{i},{i * 7 % 1000},row number {i}\n" for i in range(40_000)))
    (tmp_path / "small.csv").write_text("id,value\n1,2\n3,4\n")
    return path


@pytest.mark.parametrize("jobs", [0, 1])
def test_a_large_file_reports_rows_and_bytes_while_it_is_read(big: Path, jobs: int) -> None:
    seen: list[_Recorder] = []

    def progress(files: int, size: int) -> _Recorder:
        seen.append(_Recorder())
        return seen[-1]

    scan(["."], jobs=jobs, progress=progress)
    recorder = seen[0]
    assert sorted(recorder.finished) == ["big.csv", "small.csv"]
    assert recorder.inside and {p for p, *_ in recorder.inside} == {"big.csv"}
    size = big.stat().st_size
    rows = [r for _, r, _, _ in recorder.inside]
    assert rows == sorted(rows) and all(r % 1000 == 0 for r in rows) and all(s == size for *_, s in recorder.inside)
    if jobs == 0:  # every report arrives in-process; from a worker only what the parent happens to poll
        assert rows[-1] == 40_000 and 0 < recorder.inside[-1][2] <= size
    assert file_progress._sink is None or jobs == 1


def test_progress_line_shows_the_file_being_read() -> None:
    stream = io.StringIO()
    line = ProgressLine(total_files=3, total_bytes=5 * 1024 * 1024 * 1024, stream=stream)
    line.in_file("data/huge.jsonl", 1_234_567, 512 * 1024 * 1024, 4 * 1024 * 1024 * 1024)
    assert "data/huge.jsonl: 1,234,567 rows, 512.0/4,096.0 MiB" in stream.getvalue()
    line.close()
    assert stream.getvalue().endswith("\r\x1b[K")
