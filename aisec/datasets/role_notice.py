"""Say, in every report format, when a dataset has no label or text column, which rules that skipped and how to
name the column (a silent skip looks like a clean result)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aisec.datasets.roles import Roles
from aisec.datasets.settings import DatasetSettings
from aisec.model import Fact, Scalar

FACT = "dataset.roles_missing"
"""Fact key: value lists the missing roles (``label``, ``text`` or ``label, text``)."""
MAX_NAMED_FILES = 5
MAX_NAMED_COLUMNS = 12

SKIPPED = {
    "label": "label-error, label-noise, label-distribution, conflicting-label and backdoor-trigger rules did not run",
    "text": "near-duplicate text and text-trigger rules did not run",
}
HOW = {
    "label": "name it with --label-column NAME, AISEC_LABEL_COLUMN, or settings.dataset.label_column in the policy "
             "(per file: settings.dataset.roles)",
    "text": "name them with --text-column NAME (repeatable), AISEC_TEXT_COLUMNS, or settings.dataset.text_columns "
            "(per file: settings.dataset.roles)",
}


@dataclass(frozen=True, kw_only=True)
class Missing:
    """Roles a file lacks after configuration and inference."""

    roles: tuple[str, ...]
    """``label`` and/or ``text``."""
    configured: tuple[str, ...]
    """Configured column names that are not in the file (a typo or another file's schema)."""


def missing_roles(roles: Roles, settings: DatasetSettings) -> Missing | None:
    """What the file lacks, or ``None`` when it has a label and a text column (or no columns at all)."""
    if not roles.columns:
        return None
    # A table of numbers alone has nothing to name as text; any other string column might be the text.
    strings = [c for c in roles.columns if c not in (roles.label, *roles.ids, *roles.numeric)]
    wanted = (("label", roles.label is not None), ("text", bool(roles.text) or not strings))
    missing = tuple(name for name, present in wanted if not present)
    if not missing:
        return None
    configured = []
    if settings.label_column is not None and roles.label is None:
        configured.append(settings.label_column)
    configured.extend(c for c in settings.text_columns if c not in roles.columns)
    return Missing(roles=missing, configured=tuple(configured))


def fact_detail(missing: Missing, roles: Roles) -> dict[str, Scalar]:
    """Evidence for the ``dataset.roles_missing`` fact: the columns seen and the settings to use."""
    cols = roles.columns
    # Labels are often the last column, so a long header shows its start and its end.
    shown = ", ".join(cols) if len(cols) <= MAX_NAMED_COLUMNS else \
        ", ".join(cols[:MAX_NAMED_COLUMNS - 4]) + ", …, " + ", ".join(cols[-4:])
    detail: dict[str, Scalar] = {"columns": shown, "column_count": len(roles.columns),
                                    "skipped": "; ".join(SKIPPED[r] for r in missing.roles),
                                    "how": "; ".join(HOW[r] for r in missing.roles)}
    if missing.configured:
        detail["configured_but_absent"] = ", ".join(missing.configured)
    return detail


def notices(facts: Iterable[tuple[str, Fact]]) -> tuple[str, ...]:
    """One notice per missing role, naming the files (a few, then a count) and the setting to use."""
    by_role: dict[str, list[tuple[str, Fact]]] = {}
    for path, fact in facts:
        if fact.key != FACT:
            continue
        for role in str(fact.value).split(", "):
            by_role.setdefault(role, []).append((fact.location.path or path, fact))
    out = []
    for role in ("label", "text"):
        found = sorted(by_role.get(role, []), key=lambda item: item[0])
        if not found:
            continue
        if len(found) == 1:
            path, fact = found[0]
            absent = fact.detail.get("configured_but_absent")
            where = f"{path}: no {role} column" + (f" (configured {absent} not in the file)" if absent else "") + \
                f" among its columns ({fact.detail.get('columns', '')})"
        else:
            names = ", ".join(p for p, _ in found[:MAX_NAMED_FILES]) + \
                (f", … ({len(found)} in all)" if len(found) > MAX_NAMED_FILES else "")
            where = f"{len(found)} dataset files have no {role} column ({names})"
        out.append(f"{where}: {SKIPPED[role]}; {HOW[role]}")
    return tuple(out)
