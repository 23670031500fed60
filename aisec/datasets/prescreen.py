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
- a NUL, any JSON ``\\u`` escape and any non-ASCII character outside ``safe_chars()`` (hidden characters,
  homoglyphs, NFKC tricks; any non-ASCII byte at all when the batch is not valid UTF-8) make a line a candidate,
  because Unicode-only signals are checked exactly by the scanner. The safe characters (accented Latin letters,
  typographic quotes and dashes: the non-ASCII text of ordinary Western prose) are those no signal can see: NFKC
  and case folding leave them non-ASCII single characters, no ASCII character matches them case-insensitively,
  they are neither whitespace nor digits nor format characters, and their script is Latin or none. Where a pattern
  element can match such a character (``\\w``, ``.``, negated classes) the widened element also takes any run of
  non-ASCII bytes (RE2 matches the bytes of a binary array one by one).

JSON escapes other than ``\\u`` are undone on the batch before matching (``\\n`` becomes a space, which every
pattern accepts wherever it accepts a line feed), so a phrase split by ``\\n`` or ``\\"`` is still seen.
Patterns only ever applied to non-ASCII text are listed in ``NON_ASCII_ONLY``; a new pattern is picked up
automatically and ``tests/datasets/test_prescreen.py`` checks the superset property on generated and real text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

# Python 3.11 keeps the regex parser in re._parser; it is the parser re itself uses, so the rewrite sees
# exactly the pattern Python compiles.
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as P  # type: ignore[attr-defined]
from typing import Any

from aisec.datasets import text_signals

NON_ASCII_ONLY = frozenset({"_WORD", "_SUSPICIOUS"})
"""Scanner patterns that only run on non-ASCII cells with characters outside ``safe_chars()`` (always candidates)."""
GATES = frozenset({"_SPACED_OUT"})
"""Scanner patterns that report nothing themselves: they only decide whether the injection patterns run, and
those are screened on their own."""
REFINEMENTS = {"_TOKEN": "(?-i:" + "|".join(f"{a}[A-Za-z0-9+/_=-]*{b}[A-Za-z0-9+/_=-]*{c}" for a, b, c in (
    ("[a-z]", "[A-Z]", "[0-9]"), ("[a-z]", "[0-9]", "[A-Z]"), ("[A-Z]", "[a-z]", "[0-9]"),
    ("[A-Z]", "[0-9]", "[a-z]"), ("[0-9]", "[a-z]", "[A-Z]"), ("[0-9]", "[A-Z]", "[a-z]"))) + ")"}
"""A further condition a line must meet for a pattern's match to become a signal: ``TextScanner._secrets`` reports
a ``_TOKEN`` match only when the token holds a lower-case letter, an upper-case letter and a digit (long slugs,
hex digests and snake_case names do not). The pattern must match as well: both are necessary, so is their AND."""
SQUEEZED = frozenset({"SQUEEZED_INJECTION"})
"""Scanner patterns matched on the letters and digits of a cell only (``squeezed`` text)."""

_PY_SPACE = "\\t-\\r\\x1c-\\x1f "
"""Python's ``\\s`` on ASCII text: tab, line feed, vertical tab, form feed, carriage return, 0x1c-0x1f, space."""
_NOT_ALNUM = "[^0-9A-Za-z]*"
_ANY_NON_ASCII = "[^\\x01-\\x7f]"
"""Any non-ASCII byte or NUL (which readers turn into U+FFFD): candidates when a batch is not valid UTF-8."""
_ESCAPE = "\\\\u"
"""A JSON unicode escape (the screen does not decode them)."""
_HIGH_RUN = "[\\x80-\\xff]+"
"""The bytes of one or more non-ASCII characters (RE2 matches a binary array byte by byte)."""
_SAFE_BLOCKS = ((0xA1, 0x250), (0x2010, 0x2028), (0x2030, 0x205F))
"""Where safe characters are looked for: Latin-1 Supplement, Latin Extended-A/B, general punctuation."""


def _is_safe(ch: str) -> bool:
    """Whether no per-cell signal can see ``ch`` (see the module docstring)."""
    from aisec.datasets.unicode_sets import BIDI_CONTROLS, INVISIBLE, script_of

    folded = ch.casefold()
    if unicodedata.normalize("NFKC", ch) != ch or len(folded) != 1 or folded.isascii() or len(ch.lower()) != 1 \
            or len(ch.upper()) != 1 or ch.isspace() or ch.isnumeric() or ch in INVISIBLE or ch in BIDI_CONTROLS:
        return False
    if unicodedata.category(ch)[0] in "CZM" or script_of(ch) not in ("LATIN", ""):
        return False
    # Python's case-insensitive matching pairs a few non-ASCII characters with ASCII ones (K, \u017f ~ s).
    return not _ASCII_CLASS.fullmatch(ch) and not re.search(re.escape(ch), _ASCII, re.IGNORECASE) and \
        not re.fullmatch(r"\s|\d", ch)


_ASCII = "".join(chr(a) for a in range(1, 128))
_ASCII_CLASS = re.compile("[\x01-\x7f]", re.IGNORECASE)


@lru_cache(maxsize=1)
def safe_chars() -> frozenset[str]:
    """Non-ASCII characters that cannot carry or take part in a per-cell signal."""
    return frozenset(chr(c) for low, high in _SAFE_BLOCKS for c in range(low, high) if _is_safe(chr(c)))


def _bytes_class(values: set[int]) -> str:
    return "[" + "".join(f"\\x{v:02x}" for v in sorted(values)) + "]"


@lru_cache(maxsize=1)
def unsafe_pattern() -> str:
    """RE2 (bytes of valid UTF-8) matching a NUL or any non-ASCII character outside ``safe_chars()``."""
    tree: dict[int, dict[int, set[int]]] = {}
    for ch in safe_chars():
        data = ch.encode("utf-8")
        if len(data) == 2:
            tree.setdefault(data[0], {}).setdefault(-1, set()).add(data[1])
        else:
            tree.setdefault(data[0], {}).setdefault(data[1], set()).add(data[2])
    continuation = set(range(0x80, 0xC0))
    branches = ["\\x00", _bytes_class(set(range(0xC2, 0xF5)) - set(tree))]
    for lead, seconds in sorted(tree.items()):
        if -1 in seconds:  # two-byte characters
            branches.append(f"\\x{lead:02x}{_bytes_class(continuation - seconds[-1])}")
            continue
        branches.append(f"\\x{lead:02x}{_bytes_class(continuation - set(seconds))}")
        branches.extend(f"\\x{lead:02x}\\x{second:02x}{_bytes_class(continuation - thirds)}"
                        for second, thirds in sorted(seconds.items()))
    return "(?-i:" + "|".join(branches) + ")"


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
        # Non-ASCII members are left to the run of non-ASCII bytes _emit adds to such a class.
        if op is C.LITERAL and arg < 0x80:
            parts.append(_char(arg, True))
        elif op is C.RANGE and arg[0] < 0x80:
            parts.append(f"{_char(arg[0], True)}-{_char(min(arg[1], 0x7F), True)}")
        elif op in (C.LITERAL, C.RANGE):
            continue
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
    if not parts:
        return "[^\\x00-\\xff]" if not negated else "(?s:.)"  # nothing ASCII / anything
    return ("[^" if negated else "[") + "".join(parts) + "]"


def _may_match_non_ascii(op: Any, arg: Any) -> bool:
    """Whether a one-character element can match a non-ASCII character (safe ones included)."""
    if op in (C.NOT_LITERAL, C.ANY):
        return True
    if op is C.LITERAL:
        return bool(arg >= 0x80)
    if op is not C.IN:
        return False
    for kind, value in arg:
        if kind is C.NEGATE or (kind is C.LITERAL and value >= 0x80) or (kind is C.RANGE and value[1] >= 0x80):
            return True
        if kind is C.CATEGORY and value in (C.CATEGORY_WORD, C.CATEGORY_NOT_DIGIT, C.CATEGORY_NOT_WORD,
                                            C.CATEGORY_NOT_SPACE):
            return True
    return False


def _emit(tree: Any, squeezed: bool) -> str:
    out: list[str] = []
    for op, arg in tree:
        piece: str
        single = True
        if op is C.LITERAL:
            piece = f"[{_PY_SPACE}]+" if arg == 0x20 and not squeezed else \
                _HIGH_RUN if arg >= 0x80 else _char(arg, False)
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
        if single and op is not C.LITERAL and _may_match_non_ascii(op, arg):
            piece = f"(?:{piece}|{_HIGH_RUN})"  # one character in Python, two to four bytes for RE2
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


SECOND_GROUP = 11
"""Widened patterns per RE2 call in the second stage (fewer calls save compilations, more states cost time).
Measured per 8 MB: on the 7 % of real review lines the first stage passes, 4 calls cost 0.021 CPU-s and 10 calls
0.031; on 6 MB of dense generated text where half the lines match, 4 calls 0.115 and 10 calls 0.187; one call of
all 40 patterns outgrew RE2's DFA memory and took 1.16."""
_MAX_SET = 128
"""Most alternative strings a literal factor may hold (``(?:ba|z|da|k)?sh`` expands to five): longer factors rule
out far more lines of ordinary text, and RE2 turns a hundred plain strings into a small automaton."""
_MAX_SQUEEZED_SET = 32
"""The same for letters-only patterns, whose factors allow a run of other characters after every letter (each
string costs RE2 many more states)."""
FIRST_CHUNK = 16_000
"""Most characters of one first-stage alternation: beyond RE2's default DFA memory the match falls back to a
much slower engine (measured: 0.02 s per 4 MiB for two 20k-character halves, 6 s for their union)."""
Info = tuple[frozenset[str] | None, frozenset[str] | None]
"""(every string the subpattern can match, if few and known; strings one of which every match contains)."""


_BOUNDARY = "\x00"
"""Stands for ``\\b`` inside a literal factor (a cell always meets its neighbours at a non-word character)."""
_GAP = "\x01"
"""Stands for a run of whitespace inside a literal factor (a pattern's space, or a repeated whitespace class)."""
_OPT_GAP = "\x02"
"""Stands for an optional run of whitespace (``[ \\t]*``, ``\\s*``)."""
_MARKERS = (_BOUNDARY, _GAP, _OPT_GAP)


def _length(text: str) -> int:
    """Characters a factor string requires: a boundary or a whitespace run counts one, an optional run nothing."""
    return len(text.replace(_BOUNDARY, "").replace(_OPT_GAP, "")) + (1 if _BOUNDARY in text else 0)


ENOUGH = 8
"""Characters a factor needs to rule out nearly every line of ordinary text; among factors at least this long the
smaller set wins (a smaller automaton scans faster)."""


def _score(strings: frozenset[str]) -> tuple[int, float]:
    """Longer is rarer, up to ``ENOUGH``: the shortest alternative counts first, then the fewest characters."""
    lengths = [_length(x) for x in strings]
    return min(min(lengths), ENOUGH), -sum(len(x) for x in strings)


def _has_empty(strings: frozenset[str]) -> bool:
    """Whether a factor set holds a string of nothing but boundaries and whitespace (it then requires nothing)."""
    return any(not x.strip("".join(_MARKERS)) for x in strings)


def _is_space_class(op: Any, arg: Any) -> bool:
    """A one-character element that matches whitespace only (``" "``, ``[ \\t]``, ``\\s``)."""
    if op is C.LITERAL:
        return chr(arg).isspace() and arg < 0x80
    if op is not C.IN or not arg:
        return False
    return all((k is C.LITERAL and chr(v).isspace() and v < 0x80) or (k is C.CATEGORY and v is C.CATEGORY_SPACE)
               for k, v in arg)


def _max_set(squeezed: bool) -> int:
    return _MAX_SQUEEZED_SET if squeezed else _MAX_SET


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
        if exact is not None and run is not None and len(run) * len(exact) <= _max_set(squeezed):
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
        if ch == " " and not squeezed:  # a space may be any whitespace run (JSON \\n, a tab, collapsed runs)
            return frozenset({_GAP}), None
        # A quote may be doubled: it cannot sit in a literal factor.
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
            exact = union if len(union) <= _max_set(squeezed) else None
        picks = [e if e is not None and "" not in e else f for e, f in infos]
        factors = frozenset().union(*(p for p in picks if p is not None)) if all(picks) else None
        return exact, factors
    if op is C.SUBPATTERN:
        return _sequence(arg[3], squeezed)
    if op is C.ATOMIC_GROUP:
        return _sequence(arg, squeezed)
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        low, high, item = arg
        if not squeezed and len(item) == 1 and _is_space_class(*item[0]):
            return frozenset({_OPT_GAP if low == 0 else _GAP}), None
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


def _word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _literal(text: str, squeezed: bool) -> str:
    if squeezed:
        return "".join(_char(ord(c), False) + _NOT_ALNUM for c in text)
    out: list[str] = []
    for i, c in enumerate(text):
        if c == _BOUNDARY:
            # Sound only next to an ASCII word character: Python's boundary between a safe letter (a word character
            # to Python, non-word bytes to RE2) and punctuation has no RE2 counterpart.
            near = text[i - 1:i] + text[i + 1:i + 2]
            out.append("\\b" if any(_word(n) for n in near) else "")
        elif c == _GAP:
            out.append(f"[{_PY_SPACE}]+")
        elif c == _OPT_GAP:
            out.append(f"[{_PY_SPACE}]*")
        else:
            out.append(_char(ord(c), False))
    return "".join(out)


@dataclass(frozen=True, kw_only=True)
class ScreenPatterns:
    """The RE2 patterns of the screen (see ``screen_patterns``)."""

    first: tuple[str, ...]
    """Run on every line: one alternation of literal factors and refinements, then widened patterns that have
    neither."""
    second: tuple[str, ...]
    """Run on the lines ``first`` let through: the widened patterns, a few per call."""
    refined: tuple[tuple[str, str], ...]
    """(widened pattern, refinement): a line is a candidate only when it matches both."""


PREFIX = 10
"""Required characters a first-stage literal keeps: a prefix of a string every match contains is itself contained
in every match, so cutting factors to their first characters keeps the first stage a superset. Measured on 8 MB of
real reviews: the cut strings make one automaton of ~200 short strings instead of three of 16,000 characters, about
half the first stage's CPU, and 7 % of lines (not 5 %) reach the second stage."""


def _prefix(text: str, required: int) -> str:
    """The shortest prefix of a factor string with ``required`` required characters, trailing markers dropped (a
    dropped boundary or whitespace run only widens the match)."""
    out = ""
    for ch in text:
        if _length(out) >= required:
            break
        out += ch
    return out.rstrip("".join(_MARKERS))


def _minimal(strings: set[str]) -> list[str]:
    """The strings none of which contains another (a line holding the longer one holds the shorter), sorted."""
    keep: list[str] = []
    for text in sorted(strings, key=lambda x: (len(x), x)):
        if not any(k in text for k in keep):
            keep.append(text)
    return sorted(keep)


def _alternations(items: list[str]) -> list[str]:
    """``items`` ORed into alternations of at most ``FIRST_CHUNK`` characters each."""
    chunks: list[list[str]] = [[]]
    for item in dict.fromkeys(items):
        if chunks[-1] and sum(len(x) + 5 for x in chunks[-1]) + len(item) > FIRST_CHUNK:
            chunks.append([])
        chunks[-1].append(item)
    return ["|".join(f"(?:{p})" for p in chunk) for chunk in chunks if chunk]


@lru_cache(maxsize=2)
def screen_patterns(valid_utf8: bool = True) -> ScreenPatterns:
    """The screen for a batch that is (or is not) valid UTF-8. Separate calls keep each RE2 automaton small: a
    counted class ORed into a big alternation multiplies states.

    The first stage is two RE2 passes: the plain literal factors (with the always-candidate bytes), then the rest
    (letters-only factors, refinements and widened patterns without factors). Each pass costs about the same per
    byte whatever it holds, while ORing the two measured slower than running them apart."""
    always = [unsafe_pattern() if valid_utf8 else _ANY_NON_ASCII, _ESCAPE]
    literals: set[str] = set()
    spread: set[str] = set()  # letters-only factors: each allows a run of other characters after every letter
    rest: list[str] = []
    second = list(always)
    refined: list[tuple[str, str]] = []
    for name, pattern in declared_patterns():
        base = name.split("[", 1)[0]
        if base in NON_ASCII_ONLY or base in GATES:
            continue
        squeezed = base in SQUEEZED
        wide = widened(pattern, squeezed=squeezed)
        refinement = REFINEMENTS.get(name)
        if refinement is not None:
            refined.append((f"(?i){wide}", f"(?i){refinement}"))
        else:
            second.append(wide)
        factors = literal_factors(pattern, squeezed=squeezed)
        if factors is not None:
            (spread if squeezed else literals).update(_prefix(f, PREFIX) for f in factors)
        elif refinement is not None:
            rest.append(refinement)
        else:
            rest.append(wide)
    plain = always + [_literal(f, False) for f in _minimal(literals)]
    others = [_literal(f, True) for f in _minimal(spread)] + rest
    groups = ["|".join(f"(?:{p})" for p in second[i:i + SECOND_GROUP]) for i in range(0, len(second), SECOND_GROUP)]
    return ScreenPatterns(first=tuple(f"(?i){p}" for p in (*_alternations(plain), *_alternations(others))),
                          second=tuple(f"(?i){p}" for p in groups), refined=tuple(refined))


SMALL_BATCH = 256
"""Lines up to which the second stage runs on every line (RE2 compiles the large first-stage patterns per call)."""

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


def candidate_lines(raw: bytes, *, json: bool, small_batch: int = SMALL_BATCH,
                    valid_utf8: bool | None = None) -> bytearray:
    """For a batch of whole lines (``raw`` ends with a newline or is the file's last line): 1 per line that can
    carry a per-cell signal, 0 for a line that provably cannot. Batches of at most ``small_batch`` lines skip the
    first stage. ``valid_utf8`` says whether ``raw`` is valid UTF-8 when the caller already knows."""
    import numpy as np
    import pyarrow as pa

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
    # JSON unescaping only replaces ASCII escapes by ASCII bytes: it keeps a batch valid or invalid.
    screen = screen_patterns(_valid_utf8(data) if valid_utf8 is None else valid_utf8)
    return bytearray(_screened(lines, screen, first_stage=count > small_batch).astype(np.uint8).tobytes())


def candidate_values(values: Any) -> Any:
    """For a pyarrow string array of whole cells (a Parquet column): a numpy bool per value, True where the cell
    can carry a per-cell signal. A cell is the trivial raw line (no quotes, delimiters or escapes), so the widened
    patterns are a superset on it as they are on a line; nulls hold no cell and are False."""
    import numpy as np
    import pyarrow as pa

    count = len(values)
    if not count or values.null_count == count:
        return np.zeros(count, dtype=bool)
    binary = values.cast(pa.large_binary())
    try:  # Parquet does not promise valid UTF-8: an invalid value makes any non-ASCII byte count
        values.validate(full=True)
        valid = True
    except pa.ArrowInvalid:
        valid = False
    return _screened(binary, screen_patterns(valid), first_stage=count > SMALL_BATCH)


def _screened(lines: Any, screen: ScreenPatterns, *, first_stage: bool) -> Any:
    """The two RE2 stages over a binary array: a numpy bool per value (True: a candidate)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    count = len(lines)

    def matches(array: Any, pattern: str) -> Any:
        found = pc.match_substring_regex(array, pattern)
        if found.null_count:  # a null holds no cell (and_kleene, unlike fill_null, builds no scalar: no pandas)
            found = pc.and_kleene(found, pc.is_valid(array))
        return bools(found)

    if not first_stage:  # compiling the first stage costs more than it saves
        maybe = np.ones(count, dtype=bool)
    else:
        maybe = np.zeros(count, dtype=bool)
        for pattern in screen.first:
            maybe |= matches(lines, pattern)
    where = np.flatnonzero(maybe)
    flags = np.zeros(count, dtype=bool)
    if len(where):
        # Indices wrapped without pa.array, which imports pandas on first use with a numpy argument (~0.4 CPU-s
        # per process, more than screening 16 MB).
        picks = np.ascontiguousarray(where, dtype=np.int64)
        subset = lines.take(pa.Array.from_buffers(pa.int64(), len(picks), [None, pa.py_buffer(picks)]))
        found = np.zeros(len(where), dtype=bool)
        for pattern in screen.second:
            found |= matches(subset, pattern)
        for pattern, refinement in screen.refined:
            found |= matches(subset, pattern) & matches(subset, refinement)
        flags[where] = found
    return flags


def bools(array: Any) -> Any:
    """A pyarrow boolean array without nulls as a numpy bool array, unpacked from its bitmap: pyarrow's own
    ``to_numpy`` for booleans imports pandas on first use (~0.4 CPU-s per process)."""
    import numpy as np

    if not len(array):
        return np.zeros(0, dtype=bool)
    bits = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little")[array.offset:array.offset + len(array)].astype(bool)


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
