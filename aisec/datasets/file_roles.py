"""Per-file column roles from the policy (``settings.dataset.roles``: glob → columns), parsed strictly."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aisec.errors import PolicyError
from aisec.suggest import unknown_key

_KEYS = ("glob", "label_column", "text_columns", "id_columns")


@dataclass(frozen=True, kw_only=True)
class FileRoles:
    """Roles for the dataset files whose report path matches ``glob`` (``None``/empty: keep the file-wide value)."""

    glob: str
    """``fnmatch`` pattern on the report path (``*`` also crosses ``/``; ``dir/**`` is everything under dir)."""
    label_column: str | None = None
    text_columns: tuple[str, ...] = ()
    id_columns: tuple[str, ...] = ()

    def matches(self, path: str) -> bool:
        """Whether this entry applies to the file at report path ``path``."""
        if self.glob.endswith("/**"):
            prefix = self.glob[:-3]
            return path == prefix or path.startswith(prefix + "/")
        return fnmatch.fnmatchcase(path, self.glob)


def parse_file_roles(value: Any) -> tuple[FileRoles, ...]:
    """``settings.dataset.roles``: a list of mappings with a ``glob`` and at least one role; else a PolicyError."""
    where = "settings.dataset.roles"
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise PolicyError(f"{where} must be a list of {{glob, label_column, text_columns, id_columns}} entries",
                          field=where)
    out = []
    for i, entry in enumerate(value):
        field = f"{where}[{i}]"
        if not isinstance(entry, Mapping):
            raise PolicyError(f"{field} must be a mapping with a glob and the columns it sets", field=field)
        unknown = sorted(str(k) for k in entry if k not in _KEYS)
        if unknown:
            raise PolicyError(f"{field}: {unknown_key('key', unknown[0], _KEYS)}",
                              field=f"{field}.{unknown[0]}")
        glob = entry.get("glob")
        if not isinstance(glob, str) or not glob.strip():
            raise PolicyError(f"{field}.glob must be a non-empty path pattern such as 'data/reviews/*.csv'",
                              field=f"{field}.glob")
        label = entry.get("label_column")
        if label is not None and (not isinstance(label, str) or not label):
            raise PolicyError(f"{field}.label_column must be a non-empty string, got {label!r}",
                              field=f"{field}.label_column")
        lists = {key: _names(entry.get(key), f"{field}.{key}") for key in ("text_columns", "id_columns")}
        if label is None and not lists["text_columns"] and not lists["id_columns"]:
            raise PolicyError(f"{field} sets no column: give label_column, text_columns or id_columns",
                              field=field)
        out.append(FileRoles(glob=glob, label_column=label, text_columns=lists["text_columns"],
                             id_columns=lists["id_columns"]))
    return tuple(out)


def _names(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not value or \
            not all(isinstance(v, str) and v for v in value):
        raise PolicyError(f"{field} must be a non-empty list of column names, got {value!r}", field=field)
    return tuple(value)


def pick(entries: Sequence[FileRoles], path: str) -> FileRoles | None:
    """The first entry whose glob matches ``path`` (first match wins), or ``None``."""
    return next((e for e in entries if e.matches(path)), None)
