"""Find where a decoded JSON string value sits in its raw line, escapes included."""

from __future__ import annotations

import re

from aisec.datasets.records import Span, line_span

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]')


def escape_pointer_token(token: str) -> str:
    """RFC 6901 escaping of one reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def _unquote(body: str) -> str:
    import json
    try:
        value = json.loads(f'"{body}"')
    except ValueError:
        return body
    return value if isinstance(value, str) else body


def string_spans(raw: str) -> dict[str, tuple[int, int]]:
    """JSON pointer -> raw ``[start, end)`` of the string body (inside the quotes) for every string value."""
    spans: dict[str, tuple[int, int]] = {}
    stack: list[list[object]] = []  # [kind, key or index, expecting key]
    for match in _TOKEN.finditer(raw):
        tok = match.group()
        if tok in "{[":
            stack.append(["obj" if tok == "{" else "arr", 0 if tok == "[" else None, tok == "{"])
        elif tok in "}]":
            if stack:
                stack.pop()
        elif tok == ",":
            if stack:
                top = stack[-1]
                if top[0] == "obj":
                    top[2] = True
                else:
                    top[1] = int(top[1]) + 1  # type: ignore[call-overload]
        elif tok == ":":
            continue
        elif stack:
            top = stack[-1]
            if top[0] == "obj" and top[2]:
                top[1] = _unquote(tok[1:-1])
                top[2] = False
                continue
            pointer = "".join(f"/{escape_pointer_token(str(level[1]))}" for level in stack)
            spans[pointer] = (match.start() + 1, match.end() - 1)
    return spans


def decoded_offsets(raw: str, start: int, end: int) -> list[int]:
    """For each decoded character of the JSON string body ``raw[start:end]``: its raw offset.

    An escape (``\\n``, ``\\u202e``, a surrogate-pair ``\\ud83d\\ude00``) maps to the offset of its backslash,
    so a finding on an escaped character points at the escape sequence that produced it.
    """
    out: list[int] = []
    i = start
    while i < end:
        if raw[i] == "\\" and i + 1 < end:
            if raw[i + 1] == "u":
                unit = int(raw[i + 2:i + 6], 16) if re.fullmatch(r"[0-9a-fA-F]{4}", raw[i + 2:i + 6]) else 0
                is_pair = 0xD800 <= unit < 0xDC00 and raw[i + 6:i + 8] == "\\u" and \
                    re.fullmatch(r"[dD][c-fC-F][0-9a-fA-F]{2}", raw[i + 8:i + 12]) is not None
                out.append(i)
                i += 12 if is_pair else 6
                continue
            out.append(i)
            i += 2
            continue
        out.append(i)
        i += 1
    return out


def _escape_length(raw: str, offset: int) -> int:
    if raw[offset] != "\\":
        return 1
    if raw[offset + 1:offset + 2] == "u":
        if raw[offset + 6:offset + 8] == "\\u" and 0xD800 <= int(raw[offset + 2:offset + 6] or "0", 16) < 0xDC00:
            return 12
        return 6
    return 2


def json_locator(raw: str, line: int, pointer: str):  # type: ignore[no-untyped-def]
    """A locator for the string at ``pointer`` in the one-line JSON text ``raw``."""
    def locate(start: int, end: int) -> Span:
        span = string_spans(raw).get(pointer)
        if span is None:
            return Span(line=line)
        offsets = decoded_offsets(raw, *span)
        if not offsets:
            return line_span(raw, line, span[0], span[0] + 1)
        first = offsets[min(start, len(offsets) - 1)]
        last = offsets[min(max(end - 1, start), len(offsets) - 1)]
        return line_span(raw, line, first, last + _escape_length(raw, last))
    return locate
