"""A vectorised pre-screen: which raw lines can carry a per-cell text signal, decided per batch by one RE2 pass.

The screen is derived from the scanner's own pattern declarations (every compiled pattern in
``aisec.datasets.text_signals``), each rewritten into an RE2 pattern that matches *at least* wherever the
original can match on any cell of the line, so lines it rejects provably carry no signal:

- lookarounds and ``^``/``$`` anchors are dropped and every bounded repeat loses its upper bound (a raw line
  holds the cell plus quotes, delimiters and escapes, which may sit inside a match's window);
- matching is case-insensitive and a literal space matches any whitespace run (the injection phrases run on
  case-folded text whose whitespace runs were collapsed);
- the letters-only ("squeezed") injection patterns, which defeat ``i g n o r e``, get a run of non-letters
  allowed after every character;
- ``\\s`` is spelt as Python's ASCII whitespace (RE2's is narrower);
- any non-ASCII byte or NUL (hidden characters, homoglyphs, NFKC tricks, invalid UTF-8), and any JSON ``\\u``
  escape, makes a line a candidate, because Unicode-only signals are checked exactly by the scanner.

JSON escapes other than ``\\u`` are undone on the batch before matching (``\\n`` becomes a space, which every
pattern accepts wherever it accepts a line feed), so a phrase split by ``\\n`` or ``\\"`` is still seen.
Patterns only ever applied to non-ASCII text are listed in ``NON_ASCII_ONLY``; a new pattern is picked up
automatically and ``tests/datasets/test_prescreen.py`` checks the superset property on generated and real text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

# Python 3.11 keeps the regex parser in re._parser; it is the parser re itself uses, so the rewrite sees
# exactly the pattern Python compiles.
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as P  # type: ignore[attr-defined]
from typing import Any

from aisec.datasets import text_signals

NON_ASCII_ONLY = frozenset({"_WORD", "_SUSPICIOUS"})
"""Scanner patterns that only run on non-ASCII cells (which are always candidates)."""
SQUEEZED = frozenset({"SQUEEZED_INJECTION"})
"""Scanner patterns matched on the letters and digits of a cell only (``squeezed`` text)."""

_PY_SPACE = "\\t-\\r\\x1c-\\x1f "
"""Python's ``\\s`` on ASCII text: tab, line feed, vertical tab, form feed, carriage return, 0x1c-0x1f, space."""
_NOT_ALNUM = "[^0-9A-Za-z]*"
_ALWAYS = ["[^\\x01-\\x7f]", "\\\\u"]
"""Non-ASCII bytes (and NUL, which readers turn into U+FFFD) and JSON unicode escapes."""


class Unsupported(ValueError):
    """A pattern construct the rewrite cannot widen soundly."""


def declared_patterns() -> Iterator[tuple[str, re.Pattern[str]]]:
    """Every compiled pattern ``text_signals`` declares at module level, alone or in ``(name, pattern)`` tuples."""
    for name, value in sorted(vars(text_signals).items()):
        if isinstance(value, re.Pattern):
            yield name, value
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], re.Pattern):
                    yield f"{name}[{i}]", item[1]


def _char(code: int, in_class: bool) -> str:
    ch = chr(code)
    if ch.isalnum() and ch.isascii():
        return ch
    if in_class and ch == " ":
        return " "
    return f"\\x{{{code:x}}}" if code > 0xFF else f"\\x{code:02x}"


def _class(items: list[tuple[Any, Any]], negated: bool) -> str:
    parts: list[str] = []
    for op, arg in items:
        if op is C.NEGATE:
            continue
        if op is C.LITERAL:
            parts.append(_char(arg, True))
        elif op is C.RANGE:
            parts.append(f"{_char(arg[0], True)}-{_char(arg[1], True)}")
        elif op is C.CATEGORY:
            if arg is C.CATEGORY_DIGIT:
                parts.append("0-9")
            elif arg is C.CATEGORY_WORD:
                parts.append("0-9A-Za-z_")
            elif arg is C.CATEGORY_SPACE:
                parts.append(_PY_SPACE)
            elif not negated and arg is C.CATEGORY_NOT_DIGIT:
                parts.append("\\D")
            elif not negated and arg is C.CATEGORY_NOT_WORD:
                parts.append("\\W")
            elif not negated and arg is C.CATEGORY_NOT_SPACE:
                parts.append("\\S")  # RE2's \S is wider than Python's on ASCII: still a superset
            else:
                raise Unsupported(f"class category {arg}")
        else:
            raise Unsupported(f"class item {op}")
    return ("[^" if negated else "[") + "".join(parts) + "]"


def _emit(tree: Any, squeezed: bool) -> str:
    out: list[str] = []
    for op, arg in tree:
        piece: str
        single = True
        if op is C.LITERAL:
            piece = f"[{_PY_SPACE}]+" if arg == 0x20 and not squeezed else _char(arg, False)
        elif op is C.NOT_LITERAL:
            piece = f"[^{_char(arg, True)}]"
        elif op is C.ANY:
            piece = "(?s:.)"  # wider than Python's dot without DOTALL
        elif op is C.IN:
            negated = bool(arg) and arg[0][0] is C.NEGATE
            piece = _class(arg, negated)
        elif op is C.BRANCH:
            piece = "(?:" + "|".join(_emit(branch, squeezed) for branch in arg[1]) + ")"
            single = False
        elif op is C.SUBPATTERN:
            piece = "(?:" + _emit(arg[3], squeezed) + ")"
            single = False
        elif op is C.ATOMIC_GROUP:
            piece = "(?:" + _emit(arg, squeezed) + ")"
            single = False
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            low, _high, item = arg
            piece = "(?:" + _emit(item, squeezed) + ")" + ("*" if low == 0 else "+" if low == 1 else f"{{{low},}}")
            single = False
        elif op in (C.ASSERT, C.ASSERT_NOT, C.AT):
            continue  # dropping a lookaround or an anchor only widens the match
        else:
            raise Unsupported(f"regex construct {op}")
        if single and _may_be_quote(op, arg):
            piece = f"(?:{piece})+"  # CSV doubles a quote inside a quoted field
        out.append(piece)
        if squeezed and single:
            out.append(_NOT_ALNUM)
    return "".join(out)


def _may_be_quote(op: Any, arg: Any) -> bool:
    """Whether a one-character element can match a CSV quote character (``"`` or ``'``)."""
    return any(_may_be(op, arg, quote) for quote in (0x22, 0x27))


def _may_be(op: Any, arg: Any, code: int) -> bool:
    if op is C.LITERAL:
        return bool(arg == code)
    if op is C.NOT_LITERAL:
        return bool(arg != code)
    if op is C.ANY:
        return True
    negated = bool(arg) and arg[0][0] is C.NEGATE
    hit = False
    for kind, value in arg:
        if kind is C.LITERAL:
            hit = hit or value == code
        elif kind is C.RANGE:
            hit = hit or value[0] <= code <= value[1]
        elif kind is C.CATEGORY:
            hit = hit or value in (C.CATEGORY_NOT_DIGIT, C.CATEGORY_NOT_WORD, C.CATEGORY_NOT_SPACE)
    return hit != negated


def widened(pattern: re.Pattern[str], *, squeezed: bool = False) -> str:
    """An RE2 pattern that matches a raw line wherever ``pattern`` matches one of its cells (see module doc)."""
    return _emit(P.parse(pattern.pattern, pattern.flags), squeezed)


SECOND_GROUP = 4
"""Widened patterns per RE2 call in the second stage (fewer calls save compilations, more states cost time)."""
_MAX_SET = 32
"""Most alternative strings a literal factor may hold (``(?:ba|z|da|k)?sh`` expands to five)."""
Info = tuple[frozenset[str] | None, frozenset[str] | None]
"""(every string the subpattern can match, if few and known; strings one of which every match contains)."""


_BOUNDARY = "\x00"
"""Stands for ``\\b`` inside a literal factor (a cell always meets its neighbours at a non-word character)."""


def _score(strings: frozenset[str]) -> tuple[int, float]:
    """Longer is rarer: the shortest alternative counts first, then the average (word boundaries count one)."""
    lengths = [len(x.replace(_BOUNDARY, "")) + (1 if _BOUNDARY in x else 0) for x in strings]
    return min(lengths), sum(lengths) / len(lengths)


def _has_empty(strings: frozenset[str]) -> bool:
    """Whether a factor set holds a string that is empty apart from word boundaries (it then requires nothing)."""
    return any(not x.replace(_BOUNDARY, "") for x in strings)


def _sequence(tree: Any, squeezed: bool) -> Info:
    run: frozenset[str] | None = frozenset({""})
    best: frozenset[str] | None = None
    whole = True

    def consider(strings: frozenset[str] | None) -> None:
        nonlocal best
        if strings and not _has_empty(strings) and (best is None or _score(strings) > _score(best)):
            best = strings

    for op, arg in tree:
        exact, factors = _element(op, arg, squeezed)
        if exact is not None and run is not None and len(run) * len(exact) <= _MAX_SET:
            run = frozenset(a + b for a in run for b in exact)
            continue
        whole = False
        consider(run)
        if exact is not None:
            run = exact
        else:
            consider(factors)
            run = frozenset({""})
    consider(run)
    return (run if whole else None), best


def _element(op: Any, arg: Any, squeezed: bool) -> Info:
    if op is C.LITERAL:
        ch = chr(arg).lower()
        # A space may be any whitespace run, a quote may be doubled: neither can sit in a literal factor.
        return (None, None) if ch.isspace() or ch in "\"'" or not ch.isascii() else (frozenset({ch}), frozenset({ch}))
    if op is C.IN:
        chars = {chr(v).lower() for k, v in arg if k is C.LITERAL}
        if len(chars) != len(arg) or len(chars) > 8 or any(c.isspace() or c in "\"'" or not c.isascii()
                                                          for c in chars):
            return None, None
        return frozenset(chars), frozenset(chars)
    if op is C.BRANCH:
        infos = [_sequence(branch, squeezed) for branch in arg[1]]
        exact = None
        if all(e is not None for e, _ in infos):
            union = frozenset().union(*(e for e, _ in infos if e is not None))
            exact = union if len(union) <= _MAX_SET else None
        picks = [e if e is not None and "" not in e else f for e, f in infos]
        factors = frozenset().union(*(p for p in picks if p is not None)) if all(picks) else None
        return exact, factors
    if op is C.SUBPATTERN:
        return _sequence(arg[3], squeezed)
    if op is C.ATOMIC_GROUP:
        return _sequence(arg, squeezed)
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        low, high, item = arg
        exact, factors = _sequence(item, squeezed)
        if low == 0:
            return ((exact | {""}) if high == 1 and exact is not None else None), None
        return (exact if low == high == 1 else None), (exact if exact is not None and "" not in exact else factors)
    if op is C.AT and arg is C.AT_BOUNDARY and not squeezed:
        return frozenset({_BOUNDARY}), None
    if op in (C.ASSERT, C.ASSERT_NOT, C.AT):
        return frozenset({""}), None
    return None, None


def literal_factors(pattern: re.Pattern[str], *, squeezed: bool = False) -> frozenset[str] | None:
    """Lower-case strings one of which every match of ``pattern`` contains (``None`` when there is no such set)."""
    exact, factors = _sequence(P.parse(pattern.pattern, pattern.flags), squeezed)
    if exact is not None and not _has_empty(exact):
        return exact
    return factors


def _literal(text: str, squeezed: bool) -> str:
    if squeezed:
        return "".join(_char(ord(c), False) + _NOT_ALNUM for c in text)
    return "".join("\\b" if c == _BOUNDARY else _char(ord(c), False) for c in text)


@lru_cache(maxsize=1)
def screen_patterns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The screen: fast first RE2 patterns (one alternation of literal factors, plus the widened form of each
    pattern without a literal factor) and the widened patterns that decide the lines the first ones let through.
    Separate calls keep each RE2 automaton small: a counted class ORed into a big alternation multiplies states."""
    literals = list(_ALWAYS)
    first: list[str] = []
    second = list(_ALWAYS)
    for name, pattern in declared_patterns():
        base = name.split("[", 1)[0]
        if base in NON_ASCII_ONLY:
            continue
        squeezed = base in SQUEEZED
        wide = widened(pattern, squeezed=squeezed)
        second.append(wide)
        factors = literal_factors(pattern, squeezed=squeezed)
        if factors is None:
            first.append(wide)
        else:
            literals.extend(_literal(f, squeezed) for f in sorted(factors))
    literal_pattern = "|".join(f"(?:{p})" for p in dict.fromkeys(literals))
    groups = ["|".join(f"(?:{p})" for p in second[i:i + SECOND_GROUP]) for i in range(0, len(second), SECOND_GROUP)]
    return tuple(f"(?i){p}" for p in (literal_pattern, *first)), tuple(f"(?i){p}" for p in groups)


_JSON_ESCAPE = re.compile(rb'\\(["\\/bfnrt])')
_PLAIN = {b'"': b'"', b"\\": b"\\", b"/": b"/", b"b": b"\x08", b"f": b"\x0c", b"n": b" ", b"r": b" ", b"t": b"\t"}
"""What the screen sees for each two-character JSON escape: the character itself, except that a line feed or
carriage return becomes a space (every pattern accepts a space wherever it accepts either), so lines keep their
breaks."""


def unescape_json(raw: bytes) -> bytes:
    """Undo JSON's two-character escapes without changing where lines break; ``\\uXXXX`` stays (a candidate)."""
    if b"\\" not in raw:
        return raw
    return _JSON_ESCAPE.sub(lambda m: _PLAIN[m.group(1)], raw)


def candidate_lines(raw: bytes, *, json: bool) -> bytearray:
    """For a batch of whole lines (``raw`` ends with a newline or is the file's last line): 1 per line that can
    carry a per-cell signal, 0 for a line that provably cannot."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    data = unescape_json(raw) if json else raw
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    count = len(ends) + (0 if data.endswith(b"\n") or not data else 1)
    if not count:
        return bytearray()
    offsets = np.empty(count + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:len(ends) + 1] = ends + 1
    offsets[count] = len(data)
    lines = pa.LargeBinaryArray.from_buffers(pa.large_binary(), count,
                                             [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    first, second = screen_patterns()
    maybe = np.zeros(count, dtype=bool)
    for pattern in first:
        maybe |= np.asarray(pc.match_substring_regex(lines, pattern).to_numpy(zero_copy_only=False), dtype=bool)
    where = np.flatnonzero(maybe)
    flags = np.zeros(count, dtype=np.uint8)
    if len(where):
        subset = lines.take(pa.array(where))
        found = np.zeros(len(where), dtype=bool)
        for pattern in second:
            found |= np.asarray(pc.match_substring_regex(subset, pattern).to_numpy(zero_copy_only=False), dtype=bool)
        flags[where] = found
    return bytearray(flags.tobytes())
