"""Reporters: each turns a ``Report`` (and nothing else) into text. Registered here and nowhere else."""

from __future__ import annotations

import enum
from typing import NoReturn

from aisec.model import Report
from aisec.report import escape


class OutputFormat(enum.Enum):
    """Every report format the CLI offers."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    GITLAB_SAST = "gitlab-sast"
    CYCLONEDX = "cyclonedx"


def _unreachable(value: NoReturn) -> NoReturn:
    raise AssertionError(f"unhandled output format {value!r}")


def render(report: Report, fmt: OutputFormat, *, colour: bool = False) -> str:
    """Render ``report`` in ``fmt``; exhaustive over :class:`OutputFormat`."""
    # File names that are not UTF-8 are escaped here, once for every format, so no writer can crash on them.
    # Each reporter is imported when its format is asked for (start-up pays only for the one it writes).
    if fmt is OutputFormat.TEXT:
        from aisec.report.text import render_text

        return escape.readable(render_text(report, colour=colour))
    if fmt is OutputFormat.JSON:
        from aisec.report.json import render_json

        return escape.json_text(render_json(report))
    if fmt is OutputFormat.SARIF:
        from aisec.report.sarif import render_sarif

        return escape.json_readable(render_sarif(report))
    if fmt is OutputFormat.GITLAB_SAST:
        from aisec.report.gitlab import render_gitlab_sast

        return escape.json_readable(render_gitlab_sast(report))
    if fmt is OutputFormat.CYCLONEDX:
        from aisec.report.cyclonedx import render_cyclonedx

        return escape.json_readable(render_cyclonedx(report))
    _unreachable(fmt)


__all__ = ["OutputFormat", "render"]
