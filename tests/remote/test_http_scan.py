"""``aisec scan https://…`` against a local ranged HTTP server: a 2 GiB checkpoint costs under 1 MiB on the wire."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aisec.scan import scan
from benchmarks.bench_models import write_sparse_checkpoint
from tests.conftest import fixture_path
from tests.remote.servers import range_http

GIB = 1024 ** 3


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[int]]]:
    """A folder with a sparse 2 GiB PyTorch checkpoint (holes on disk), a malicious pickle, an object whose
    transfer breaks, and a large file on a path that ignores Range."""
    root = tmp_path_factory.mktemp("http")
    write_sparse_checkpoint(root / "big.pt", 2 * GIB)
    evil = fixture_path("AISEC-MDL-001", "fail", "os_system_p4.pkl").read_bytes()
    (root / "evil.pkl").write_bytes(evil)
    (root / "broken.pkl").write_bytes(evil)
    write_sparse_checkpoint(root / "norange.pt", 64 * 1024 * 1024)
    with range_http(root, broken=frozenset({"broken.pkl"}), no_ranges=frozenset({"norange.pt"})) as server:
        yield server


def test_a_2_gib_checkpoint_is_scanned_with_under_1_mib_on_the_wire(served: tuple[str, list[int]]) -> None:
    url, sent = served
    before = sum(sent)
    report = scan([f"{url}/big.pt"], jobs=1)  # read by a worker process, as the CLI does
    on_the_wire = sum(sent) - before
    assert not report.errors
    [artifact] = report.artifacts
    assert (artifact.path, artifact.kind.value, artifact.size) == (f"{url}/big.pt", "pytorch_zip", artifact.size)
    assert artifact.size >= 2 * GIB
    assert 0 < on_the_wire < 1024 * 1024, on_the_wire


def test_a_broken_transfer_is_not_fully_scanned_and_the_other_objects_are(served: tuple[str, list[int]]) -> None:
    url, _sent = served
    report = scan([f"{url}/broken.pkl", f"{url}/evil.pkl", f"{url}/missing.pkl"], jobs=0)
    errors = {e.path: e.reason for e in report.errors}
    assert errors == {f"{url}/broken.pkl": "io", f"{url}/missing.pkl": "not-found"}
    assert {(f.path, f.rule_id) for f in report.findings if f.rule_id in ("AISEC-MDL-001", "AISEC-GEN-001")} >= {
        (f"{url}/evil.pkl", "AISEC-MDL-001"), (f"{url}/broken.pkl", "AISEC-GEN-001"),
        (f"{url}/missing.pkl", "AISEC-GEN-001")}
    assert not report.trustworthy


def test_a_server_that_ignores_range_is_an_error_not_a_full_download(served: tuple[str, list[int]]) -> None:
    url, sent = served
    before = sum(sent)
    report = scan([f"{url}/norange.pt"], jobs=0)
    assert [e.reason for e in report.errors] == ["io"]
    assert "range" in report.errors[0].message.lower()
    assert sum(sent) - before < 16 * 1024 * 1024  # refused early: nowhere near the 64 MiB object
