"""Named lists that come from installed packages rather than from YAML (e.g. modelscan's denylist)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

ListEntries = tuple[tuple[str, str], ...]
"""(value, reason) pairs."""


def _modelscan_globals(level: str) -> Callable[[], ListEntries]:
    def load() -> ListEntries:
        from modelscan.settings import DEFAULT_SETTINGS

        table = DEFAULT_SETTINGS["unsafe_globals"][level]
        entries: list[tuple[str, str]] = []
        reason = f"modelscan unsafe_globals[{level}]"
        for module, names in sorted(table.items()):
            module = "builtins" if module == "__builtin__" else module
            if names == "*":
                entries.append((module, reason))
                entries.append((f"{module}.*", reason))
            else:
                entries.extend((f"{module}.{name}", reason) for name in sorted(names))
        return tuple(entries)
    return load


LIST_SOURCES: Mapping[str, Callable[[], ListEntries]] = {
    "modelscan.unsafe_globals.critical": _modelscan_globals("CRITICAL"),
    "modelscan.unsafe_globals.high": _modelscan_globals("HIGH"),
    "modelscan.unsafe_globals.medium": _modelscan_globals("MEDIUM"),
    "modelscan.unsafe_globals.low": _modelscan_globals("LOW"),
}
"""Every list source a policy may ``include``; registered here and nowhere else."""
