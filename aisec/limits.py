"""Named, configurable resource limits that every analyzer honours."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from aisec.errors import PolicyError
from aisec.suggest import unknown_key

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Upper bounds on the work aisec does for one artifact; hitting one is reported, never a pass."""

    max_file_bytes: int = 64 * GiB
    """Largest file aisec accepts at all (it reads only the parts it needs)."""
    max_read_bytes: int = 512 * MiB
    """Most bytes read from one artifact (headers, pickles, configs; not tensor data)."""
    max_pickle_opcodes: int = 5_000_000
    """Most pickle opcodes decoded per pickle stream."""
    max_stack_depth: int = 100_000
    """Largest symbolic pickle stack or memo."""
    max_archive_members: int = 10_000
    """Most members listed in one archive."""
    max_decompressed_bytes: int = 2 * GiB
    """Most bytes produced by decompressing one artifact or member."""
    max_compression_ratio: int = 200
    """Largest decompressed/compressed ratio accepted for a member."""
    max_nesting_depth: int = 8
    """Deepest archive-in-archive or wrapper nesting analyzed."""
    max_json_depth: int = 256
    """Deepest JSON nesting accepted in configs and headers."""
    max_header_bytes: int = 100 * MiB
    """Largest format header (safetensors JSON header, GGUF metadata)."""
    max_dataset_rows: int = 10_000_000
    """Most dataset rows read per file."""
    max_hash_bytes: int = 1 * GiB
    """With `--hashes` (or `--attest`), files up to this size get a SHA-256 in the report; larger ones are not read
    whole (signing hashes all)."""
    max_files: int = 100_000
    """Most files discovered in one scan."""
    max_seconds_per_file: float = 300.0
    """Wall-clock budget per artifact."""
    max_worker_memory_bytes: int = 16 * GiB
    """Address-space cap of each analysis worker process (``RLIMIT_AS``); a file that needs more is reported."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """All limit names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def overlay(self, values: Mapping[str, object], *, source: str = "policy") -> Limits:
        """Return a copy with ``values`` applied; unknown names or bad values are errors."""
        known = set(self.names())
        changes: dict[str, int | float] = {}
        for name, value in values.items():
            if name not in known:
                raise PolicyError(unknown_key("limit", name, known),
                                  source=source, field=f"limits.{name}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise PolicyError(f"limit '{name}' must be a positive number, got {value!r}",
                                  source=source, field=f"limits.{name}")
            changes[name] = value
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
