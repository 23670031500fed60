"""Scan settings from flag, environment, project file or default, and where each value came from."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aisec.errors import ConfigError
from aisec.model import Severity

if TYPE_CHECKING:
    from aisec.config_schema import _ProjectSpec


PROJECT_FILES = ("aisec.yaml", ".aisec.yaml")
"""Project files read implicitly, from the working directory only, in this order of precedence."""
PYPROJECT = "pyproject.toml"
"""Read implicitly (its ``[tool.aisec]`` table) from the working directory when no project file exists."""
CONFIG_ENV = "AISEC_CONFIG"
"""Environment variable naming a project file explicitly, like ``--config``."""
MAX_PYPROJECT_BYTES = 1024 * 1024

KEYS = ("policy", "fail_on", "min_severity", "format", "rules", "label_column", "text_columns")
"""The settings a project file, the environment and the command line can give."""
ENV_VARS = {key: f"AISEC_{key.upper()}" for key in KEYS}
"""``AISEC_POLICY``, ``AISEC_FAIL_ON``, ``AISEC_MIN_SEVERITY``, ``AISEC_FORMAT``, ``AISEC_RULES``,
``AISEC_LABEL_COLUMN``, ``AISEC_TEXT_COLUMNS`` (comma-separated)."""
FLAGS = {"policy": "--policy", "fail_on": "--fail-on", "min_severity": "--min-severity", "format": "--format",
         "rules": "--rules", "label_column": "--label-column", "text_columns": "--text-column"}
DEFAULTS: Mapping[str, str | None] = {"policy": "default", "fail_on": None, "min_severity": None, "format": "text",
                                      "rules": None, "label_column": None, "text_columns": None}
"""Built-in defaults; None for fail_on and min_severity means "the policy's own value", for the dataset columns
"the policy's, else inferred"."""

SeverityName = Literal["critical", "high", "medium", "low", "info"]
FormatName = Literal["text", "json", "sarif", "gitlab-sast", "cyclonedx"]

@dataclass(frozen=True, kw_only=True)
class Setting:
    """One effective value and its origin (``command line``, ``environment``, a file, or ``default``)."""

    value: str | None
    source: str


@dataclass(frozen=True, kw_only=True)
class EffectiveConfig:
    """Every scan setting after precedence, the project file used (if any) and notices about ignored ones."""

    settings: Mapping[str, Setting]
    project_file: str | None
    notices: tuple[str, ...]

    def value(self, key: str) -> str | None:
        """The effective value of ``key``."""
        return self.settings[key].value

    def severity(self, key: str) -> Severity | None:
        """``fail_on`` or ``min_severity`` as a :class:`Severity` (None: the policy decides)."""
        text = self.value(key)
        return Severity.parse(text) if text is not None else None

    def columns(self, key: str) -> tuple[str, ...]:
        """``text_columns`` as names (stored comma-separated, as ``AISEC_TEXT_COLUMNS`` gives them)."""
        return split_columns(self.value(key))


def split_columns(text: str | None) -> tuple[str, ...]:
    """``"a, b"`` → ``("a", "b")``; ``None`` or blanks → ``()``."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def resolve(*, cli: Mapping[str, str | None], env: Mapping[str, str] | None = None, cwd: Path | None = None,
            explicit: str | None = None, targets: Sequence[str | Path] = ()) -> EffectiveConfig:
    """Apply the precedence flag > ``AISEC_*`` variable > project file > built-in default.

    Implicitly only the working directory's ``aisec.yaml``, ``.aisec.yaml`` or ``pyproject.toml``
    ``[tool.aisec]`` is read; ``explicit`` (``--config``, else ``$AISEC_CONFIG``) replaces that search. A project
    file at the top of a scanned folder other than the working directory is never read: a scanned model must
    not configure its own scan. Each one found becomes a notice.
    """
    env = os.environ if env is None else env
    cwd = (cwd or Path.cwd()).resolve()
    notices: list[str] = []
    explicit = explicit or env.get(CONFIG_ENV) or None
    project_path: Path | None
    spec: _ProjectSpec | None
    if explicit is not None:
        given = _absolute(Path(explicit), cwd)
        if not given.is_file():
            raise ConfigError("configuration file not found", source=explicit)
        project_path, spec = given, _read_project(given)
    else:
        project_path, spec, skipped = _discover(cwd)
        notices.extend(f"{p}: not read, {project_path.name if project_path else '?'} takes precedence"
                       for p in skipped)
    notices.extend(_ignored_in_targets(targets, cwd, project_path))
    settings: dict[str, Setting] = {}
    for key in KEYS:
        settings[key] = _pick(key, cli.get(key), env, spec, project_path, cwd)
    return EffectiveConfig(settings=settings, project_file=str(project_path) if project_path else None,
                           notices=tuple(notices))


def _pick(key: str, flag: str | None, env: Mapping[str, str], spec: _ProjectSpec | None,
          project_path: Path | None, cwd: Path) -> Setting:
    if flag is not None:
        return Setting(value=flag, source=f"command line ({FLAGS[key]})")
    var = ENV_VARS[key]
    raw = env.get(var, "").strip()
    if raw:  # an empty variable counts as unset, so CI templates can pass optional inputs through
        return Setting(value=_check_env(key, raw, var), source=f"environment ({var})")
    from_file = getattr(spec, key) if spec is not None else None
    if isinstance(from_file, list):
        from_file = ",".join(from_file)
    if from_file is not None and project_path is not None:
        if key in ("policy", "rules"):
            from_file = _relative_to_file(key, from_file, project_path)
        return Setting(value=from_file, source=f"project file {_shown(project_path, cwd)}")
    return Setting(value=DEFAULTS[key], source="default")


def _check_env(key: str, raw: str, var: str) -> str:
    from pydantic import ValidationError  # only when the environment sets something: pydantic is slow to import

    from aisec.config_schema import _ProjectSpec
    from aisec.engine.yamlio import first_validation_problem

    try:
        if key in ("fail_on", "min_severity"):
            return Severity.parse(raw).value
        if key == "format":
            _ProjectSpec.model_validate({"format": raw})
        if key == "text_columns":
            return ",".join(split_columns(raw))
    except (ValueError, ValidationError) as exc:
        message = str(exc) if not isinstance(exc, ValidationError) else first_validation_problem(exc)[1]
        raise ConfigError(message, source=f"environment variable {var}") from None
    return raw


def _relative_to_file(key: str, value: str, project_path: Path) -> str:
    # A policy name (no slash, no .yaml) stays a name; paths are relative to the file that names them.
    if key == "policy" and "/" not in value and not value.endswith((".yaml", ".yml")):
        return value
    path = Path(value)
    return str(path if path.is_absolute() else project_path.parent / path)


def _discover(cwd: Path) -> tuple[Path | None, _ProjectSpec | None, list[str]]:
    found: list[Path] = [cwd / name for name in PROJECT_FILES if (cwd / name).is_file()]
    pyproject = cwd / PYPROJECT
    if pyproject.is_file() and _has_tool_table(pyproject):
        found.append(pyproject)
    if not found:
        return None, None, []
    chosen = found[0]
    return chosen, _read_project(chosen), [p.name for p in found[1:]]


def _ignored_in_targets(targets: Sequence[str | Path], cwd: Path, used: Path | None) -> list[str]:
    notices: list[str] = []
    seen: set[Path] = set()
    for target in targets:
        folder = Path(target)
        if not folder.is_dir():
            continue
        folder = folder.resolve()
        if folder == cwd or folder in seen:
            continue
        seen.add(folder)
        candidates = [folder / name for name in PROJECT_FILES]
        candidates.append(folder / PYPROJECT)
        for path in candidates:
            if not path.is_file() or (used is not None and path.resolve() == used.resolve()):
                continue
            if path.name == PYPROJECT and not _has_tool_table(path):
                continue
            notices.append(f"{_shown(path, cwd)}: configuration inside a scanned folder was not read (a scanned "
                           "artifact must not configure its own scan); pass it with --config if you trust it")
    return notices


def _toml() -> Any:
    """tomllib (tomli before Python 3.11), imported only when a pyproject.toml is there to read."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def _has_tool_table(path: Path) -> bool:
    """Whether ``path`` configures aisec: a ``tool.aisec`` table, however it is spelled in TOML.

    A file that mentions aisec but does not parse counts (its reading then fails loudly): a broken
    configuration must not silently fall back to a weaker default.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(MAX_PYPROJECT_BYTES + 1)
    except OSError:
        return False
    if b"aisec" not in head:
        return False
    tomllib = _toml()
    try:
        document = tomllib.loads(head.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True
    tool = document.get("tool")
    return isinstance(tool, dict) and "aisec" in tool


def _read_project(path: Path) -> _ProjectSpec:
    from pydantic import ValidationError

    from aisec.config_schema import _ProjectSpec
    from aisec.engine.yamlio import first_validation_problem, read_yaml

    source = str(path)
    raw: Any
    if path.suffix == ".toml":
        raw = _read_toml_table(path)
        source = f"{path} [tool.aisec]"
    else:
        raw = read_yaml(path, error=ConfigError)
        if raw is None:
            raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("a configuration file must hold one mapping of settings", source=source)
    try:
        return _ProjectSpec.model_validate(dict(raw))
    except ValidationError as exc:
        field, message = first_validation_problem(exc, _ProjectSpec)
        raise ConfigError(message, source=source, field=field) from None


def _read_toml_table(path: Path) -> Any:
    tomllib = _toml()
    try:
        if path.stat().st_size > MAX_PYPROJECT_BYTES:
            raise ConfigError(f"file is larger than {MAX_PYPROJECT_BYTES} bytes", source=str(path))
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", source=str(path)) from None
    tool = document.get("tool", {})
    table = tool.get("aisec") if isinstance(tool, dict) else None
    if table is None:
        raise ConfigError("no [tool.aisec] table", source=str(path))
    return table


def _absolute(path: Path, cwd: Path) -> Path:
    return path if path.is_absolute() else cwd / path


def _shown(path: Path, cwd: Path) -> str:
    try:
        return path.resolve().relative_to(cwd).as_posix()
    except ValueError:
        return str(path)


def effective(config: EffectiveConfig, *, policy_fail_on: str | None = None,
              policy_min_severity: str | None = None) -> dict[str, Setting]:
    """Every setting as a scan uses it: a value left to the policy is the policy's, from ``the policy``.

    The one source of ``aisec config show`` and ``aisec config show --json``, so the two views cannot disagree.
    """
    policy_values = {"fail_on": policy_fail_on, "min_severity": policy_min_severity}
    rows: dict[str, Setting] = {}
    for key in KEYS:
        setting = config.settings[key]
        if setting.value is None and key in policy_values:
            setting = Setting(value=policy_values[key], source="the policy")
        elif setting.value is None and key in ("label_column", "text_columns"):
            setting = Setting(value=None, source="the policy, else inferred per file")
        rows[key] = setting
    return rows


def describe(config: EffectiveConfig, *, policy_fail_on: str | None = None,
             policy_min_severity: str | None = None) -> str:
    """``aisec config show``: one line per setting with its value and origin, then the notices."""
    lines = [f"project file: {config.project_file or '(none)'}"]
    rows = effective(config, policy_fail_on=policy_fail_on, policy_min_severity=policy_min_severity)
    for key, setting in rows.items():
        value = setting.value if setting.value is not None else "(none)"
        lines.append(f"{key:<13} {value:<20} from {setting.source}")
    lines.extend(f"notice: {n}" for n in config.notices)
    return "\n".join(lines) + "\n"


def as_document(config: EffectiveConfig, *, policy_fail_on: str | None = None,
                policy_min_severity: str | None = None) -> dict[str, Any]:
    """The JSON form of ``aisec config show --json`` (the same rows as :func:`describe`)."""
    rows = effective(config, policy_fail_on=policy_fail_on, policy_min_severity=policy_min_severity)
    return {"project_file": config.project_file,
            "settings": {k: {"value": s.value, "source": s.source} for k, s in rows.items()},
            "notices": list(config.notices)}


__all__ = ["CONFIG_ENV", "ENV_VARS", "PROJECT_FILES", "EffectiveConfig", "Setting", "as_document", "describe",
           "effective", "resolve"]
