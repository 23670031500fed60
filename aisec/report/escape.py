"""File names that are not valid UTF-8 in reports: readable in text, escaped in JSON, percent-encoded in URIs.

Paths reach the reports as ``str`` decoded with ``surrogateescape`` (what ``os`` gives for undecodable bytes);
written as is they crash any UTF-8 writer. Each format gets a form that round-trips to the original bytes.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

_SURROGATE = re.compile("[\ud800-\udfff]")
URI_SAFE = "/!$&'()*+,;=:@-._~"
"""Characters left as they are in a SARIF ``uri`` (RFC 3986 path characters)."""


def readable(text: str) -> str:
    """For people: each undecodable byte shown as ``\\xNN`` (``bad\\xffname.pkl``), the rest unchanged."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def json_text(text: str) -> str:
    """JSON text with every lone surrogate written as a ``\\uXXXX`` escape (valid JSON that parses back to the
    same ``str``, whose ``os.fsencode`` is the original name); outside strings JSON holds no such characters."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_readable(text: str) -> str:
    """JSON text with each undecodable byte shown as ``\\xNN`` (for SARIF and GitLab, whose consumers show
    messages to people and may refuse lone surrogates; the exact name is in the percent-encoded URI)."""
    return _SURROGATE.sub(lambda m: f"\\\\x{ord(m.group()) - 0xDC00:02x}" if 0xDC80 <= ord(m.group()) <= 0xDCFF
                          else f"\\u{ord(m.group()):04x}", text)


def uri_of(path: str) -> str:
    """A relative URI for ``path``: its bytes (undecodable ones included) percent-encoded."""
    return quote(os.fsencode(path), safe=URI_SAFE)
